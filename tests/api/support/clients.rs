//! Running the real clients (`stsvend-cli`, the AWS CLI, the aws-sdk-rust example) as a desktop
//! user would: a private home, a shell with no AWS settings of the test's, a device-flow login
//! on the Auth0 stand-in approved headlessly.
//!
//! Binaries: `$CARGO_TARGET_DIR/debug/stsvend-cli` and `.../debug/examples/bulk_upload`, both
//! built by scripts/test.sh; the AWS CLI and pytest are the project venv's (`.venv/bin`).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::auth0::auth0_issuer;
use super::*;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from)
}

/// A built executable, or a panic that says how to build it.
fn executable(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: scripts/test.sh builds it (cargo build --workspace --bins --examples)",
        path.display()
    );
    path
}

pub fn cli_bin() -> PathBuf {
    executable(target_dir().join("debug/stsvend-cli"))
}

pub fn example_bin(name: &str) -> PathBuf {
    executable(target_dir().join("debug/examples").join(name))
}

pub fn aws_bin() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws");
    assert!(
        path.is_file(),
        "{} is missing: scripts/test.sh installs it (scripts/requirements-local.txt)",
        path.display()
    );
    path
}

/// A command with none of the test process's AWS or stsvend settings: a desktop user's shell,
/// whose only AWS configuration is the given config file.
pub fn clean_command(program: &Path, aws_config: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("AWS_") || key_text.starts_with("STSVEND_") {
            cmd.env_remove(&key);
        }
    }
    let home = aws_config.parent().unwrap();
    cmd.env("AWS_CONFIG_FILE", aws_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs to completion within `limit`, or fails the test.
pub async fn run(cmd: &mut Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    tokio::time::timeout(limit, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{cmd:?} did not finish within {limit:?}"))
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A desktop user of the CLI: a private home with a session file and an AWS config file.
pub struct User {
    pub sub: String,
    pub dir: tempfile::TempDir,
}

impl User {
    pub fn new(name: &str) -> Self {
        Self {
            sub: unique_sub(name),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("stsvend/session.json")
    }

    pub fn aws_config(&self) -> PathBuf {
        self.dir.path().join("aws-config")
    }

    /// `stsvend-cli --token-store <store> <args>`, with the keychain off: the tests read the
    /// refresh token from the session file, and a developer's desktop keychain stays untouched.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = clean_command(&cli_bin(), &self.aws_config());
        cmd.arg("--token-store")
            .arg(self.store())
            .args(args)
            .env("STSVEND_CLI_KEYRING", "off");
        cmd
    }

    pub fn session(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.store()).unwrap()).unwrap()
    }

    pub fn edit_session(&self, edit: impl FnOnce(&mut Value)) {
        let mut s = self.session();
        edit(&mut s);
        std::fs::write(self.store(), serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    }

    /// `stsvend-cli login` against the stand-in, approved (or denied) headlessly through its
    /// test endpoint once the code shows on stderr. Returns the exit output (stderr in full).
    pub async fn login(&self, app: &TestApp, approve: Approval<'_>) -> Output {
        let mut cmd = self.cli(&[
            "login",
            "--issuer",
            &auth0_issuer(),
            "--audience",
            AUDIENCE,
            "--api",
            &app.base,
        ]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut stderr = String::new();
        let code = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                stderr.push_str(&line);
                stderr.push('\n');
                if let Some((_, rest)) = line.split_once("enter the code ") {
                    return rest.trim().to_owned();
                }
            }
            panic!("login printed no user code:\n{stderr}");
        })
        .await
        .unwrap_or_else(|_| panic!("login printed no user code within 20 s"));

        let body = match approve {
            Approval::Approve => {
                json!({"user_code": code, "sub": self.sub, "permissions": ["read:files", "write:files"]})
            }
            Approval::ShortTokens(seconds) => json!({
                "user_code": code, "sub": self.sub, "permissions": ["read:files", "write:files"],
                "expires_in": seconds,
            }),
            Approval::Team(org) => json!({
                "user_code": code, "sub": self.sub, "org_id": org,
                "permissions": ["read:files", "write:files", "write:team-files"],
            }),
            Approval::Deny => json!({"user_code": code, "deny": true}),
        };
        let resp = reqwest::Client::new()
            .post(format!("{}test/approve-device", auth0_issuer()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "approve-device: {}", resp.text().await.unwrap());

        let remainder = tokio::time::timeout(Duration::from_secs(30), async {
            let mut tail = String::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                tail.push_str(&line);
                tail.push('\n');
            }
            tail
        })
        .await
        .expect("login finishes within 30 s of the approval");
        stderr.push_str(&remainder);
        let mut out = child.wait_with_output().await.unwrap();
        out.stderr = stderr.into_bytes();
        out
    }

    /// Logs in and fails the test unless that worked.
    pub async fn logged_in(name: &str, app: &TestApp) -> Self {
        let user = Self::new(name);
        let out = user.login(app, Approval::Approve).await;
        assert!(out.status.success(), "login failed: {}", text(&out.stderr));
        user
    }

    /// `credential-process`, parsed; fails the test unless it succeeded.
    pub async fn credential_process(&self, args: &[&str]) -> Value {
        let mut all = vec!["credential-process"];
        all.extend_from_slice(args);
        let out = run(&mut self.cli(&all), Duration::from_secs(30)).await;
        assert!(out.status.success(), "credential-process failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[derive(Clone, Copy)]
pub enum Approval<'a> {
    Approve,
    /// Approve as a member of the organisation `org` (Auth0's `org_id`) who may write its team
    /// files (`write:team-files`).
    Team(&'a str),
    /// Approve, and from now on the stand-in issues this user access tokens living this many
    /// seconds (at this login and every refresh).
    ShortTokens(u32),
    Deny,
}

/// Fails the test if `stderr` holds anything that looks like a token or key.
pub fn assert_no_secrets(stderr: &str, secrets: &[&str]) {
    assert!(!stderr.contains("eyJ"), "a JWT reached stderr:\n{stderr}");
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!stderr.contains(s), "a secret reached stderr:\n{stderr}");
    }
}
