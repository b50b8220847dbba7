//! `stsvend selftest` through the real binary: it passes against `MiniStack` in both storage
//! modes; it fails naming the check where isolation does not hold (a template granting every
//! bucket; moto's server, an independent AWS implementation that enforces no IAM); what a run
//! made is removed on Ctrl-C, and `--cleanup` removes what a killed run left. With `[orgs]`,
//! the org checks too (`orgs.rs`).

mod moto;
mod orgs;
mod role_chaining;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::process::{BIN, CONFIG, POLICIES};
use crate::support::{buckets_named, fresh_shared_bucket, private_prefix, service_s3, test_config};

/// A finished run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// One output line: `ok    1.2s  isolation: get on ... denied` -> (true, "isolation", "get ...").
fn parse(line: &str) -> Option<(bool, &str, &str)> {
    let ok = line.starts_with("ok ");
    if !ok && !line.starts_with("FAIL") {
        return None;
    }
    let (_, rest) = line[4..].trim_start().split_once("  ")?;
    let (check, detail) = rest.split_once(": ")?;
    Some((ok, check, detail))
}

impl Run {
    /// (passed, detail) of every line of `check`.
    pub fn lines_of(&self, check: &str) -> Vec<(bool, &str)> {
        self.stdout
            .lines()
            .filter_map(parse)
            .filter(|(_, c, _)| *c == check)
            .map(|(ok, _, d)| (ok, d))
            .collect()
    }

    pub fn failed(&self, check: &str) -> Vec<&str> {
        self.lines_of(check)
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, d)| d)
            .collect()
    }

    /// True when `check` printed lines and all of them passed.
    pub fn passed(&self, check: &str) -> bool {
        let lines = self.lines_of(check);
        !lines.is_empty() && lines.iter().all(|(ok, _)| *ok)
    }
}

/// `stsvend selftest <args>` as a command, with the suite's environment and `env` on top.
pub fn command(args: &[&str], env: &[(&str, String)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("selftest")
        .args(args)
        .arg("--config")
        .arg(CONFIG)
        .env_remove("AWS_SESSION_TOKEN")
        .env("STSVEND_POLICIES__DIR", POLICIES)
        .env("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "true")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub async fn selftest(args: &[&str], env: &[(&str, String)]) -> Run {
    let out = tokio::time::timeout(Duration::from_mins(3), command(args, env).output())
        .await
        .expect("selftest finished within 3 minutes")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A database of its own and a bucket-name prefix of its own, so the buckets it leaves can be
/// counted.
fn own_database_and_prefix(db: &tempfile::TempDir, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("STSVEND_DATABASE__PATH", db.path().join("s.db").display().to_string()),
        ("STSVEND_STORAGE__BUCKET_PREFIX", prefix.to_owned()),
    ]
}

const CHECKS: [&str; 9] = [
    "account-pin",
    "provision",
    "vend",
    "seed",
    "access",
    "isolation",
    "presign",
    "revoke",
    "cleanup",
];

#[tokio::test]
async fn selftest_passes_against_ministack_in_bucket_mode_and_leaves_nothing() {
    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let run = selftest(&[], &own_database_and_prefix(&db, &prefix)).await;
    assert_eq!(run.code, 0, "{run}");
    for check in CHECKS {
        assert!(run.passed(check), "{check} did not pass:\n{run}");
    }
    // Both accesses were checked on the probe's own bucket and on the other probe's.
    for access in ["read-write", "read-only"] {
        assert!(
            run.lines_of("isolation")
                .iter()
                .any(|(_, d)| d.starts_with(&format!("`{access}` keys: get on the other probe's storage denied"))),
            "{run}"
        );
    }
    assert!(
        run.lines_of("access")
            .iter()
            .any(|(_, d)| d.starts_with("`read-only`: put on own storage denied")),
        "{run}"
    );
    assert!(
        run.lines_of("revoke")
            .iter()
            .any(|(_, d)| d.starts_with("keys vended before the revocation denied")),
        "{run}"
    );
    // Without [orgs], one line says the org checks were not run, and why.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("skip") && l.ends_with("orgs: not run: [orgs] is not configured")),
        "{run}"
    );
    assert!(run.lines_of("org-provision").is_empty(), "{run}");
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
}

#[tokio::test]
async fn selftest_passes_against_ministack_in_prefix_mode_with_json_output() {
    let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
    let shared = fresh_shared_bucket(&probe).await;
    let db = tempfile::tempdir().unwrap();
    // The shared bucket's name starts with the configured bucket prefix: the suite's own.
    let env = [
        ("STSVEND_DATABASE__PATH", db.path().join("s.db").display().to_string()),
        ("STSVEND_STORAGE__MODE", "prefix".to_owned()),
        ("STSVEND_STORAGE__SHARED_BUCKET", shared.clone()),
    ];
    let run = selftest(&["--json"], &env).await;
    assert_eq!(run.code, 0, "{run}");
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run}"));
    assert_eq!(doc["ok"], true, "{run}");
    let checks = doc["checks"].as_array().unwrap();
    for check in CHECKS {
        assert!(checks.iter().any(|c| c["check"] == check), "no {check} in {run}");
    }
    assert!(
        checks.iter().all(|c| c["ok"] == true && c["seconds"].is_number()),
        "{run}"
    );
    let isolation: Vec<&str> = checks
        .iter()
        .filter(|c| c["check"] == "isolation")
        .filter_map(|c| c["detail"].as_str())
        .collect();
    for what in [
        "list at the shared bucket's root denied",
        "put of its stem without the slash",
        "list of its stem without the slash",
        "put under a stem-sharing prefix",
    ] {
        assert!(isolation.iter().any(|d| d.contains(what)), "no `{what}` in {run}");
    }
    // The probes' prefixes are emptied; the shared bucket stays.
    let left = service_s3().list_objects_v2().bucket(&shared).send().await.unwrap();
    assert_eq!(left.key_count(), Some(0), "{run}");
    // And so are the revocations of the probes in its policy (the bucket is this test's own).
    let policy = service_s3().get_bucket_policy().bucket(&shared).send().await;
    let text = policy.map(|p| p.policy.unwrap_or_default()).unwrap_or_default();
    assert!(!text.contains("StsvendRevoke"), "{text}\n{run}");
}

/// A read-write template whose resource is every bucket (`arn:aws:s3:::*`): the keys reach
/// the other probe's bucket, and selftest fails naming the isolation checks.
#[tokio::test]
async fn selftest_fails_naming_isolation_with_an_over_broad_template() {
    let policies = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(POLICIES).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, policies.path().join(path.file_name().unwrap())).unwrap();
    }
    let text = std::fs::read_to_string(policies.path().join("read-write.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for statement in doc["Statement"].as_array_mut().unwrap() {
        statement["Resource"] = serde_json::json!(["arn:aws:s3:::*", "arn:aws:s3:::*/*"]);
    }
    std::fs::write(policies.path().join("read-write.json"), doc.to_string()).unwrap();

    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let mut env = own_database_and_prefix(&db, &prefix);
    env.push(("STSVEND_POLICIES__DIR", policies.path().display().to_string()));
    let run = selftest(&[], &env).await;
    assert_ne!(run.code, 0, "{run}");
    let failed = run.failed("isolation");
    assert!(
        failed
            .iter()
            .any(|d| d.starts_with("`read-write` keys: get on the other probe's storage ALLOWED")),
        "{run}"
    );
    assert!(failed.iter().all(|d| d.starts_with("`read-write` keys")), "{run}");
    assert!(
        run.passed("provision") && run.passed("vend") && run.passed("cleanup"),
        "{run}"
    );
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
}

/// Ctrl-C in the middle of the checks: the run says so, fails, and still removes its probes.
#[tokio::test]
async fn selftest_removes_its_probes_when_interrupted() {
    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let (child, lines, seen) =
        started_until("seed", &own_database_and_prefix(&db, &prefix), Duration::from_mins(1)).await;
    assert_eq!(buckets_named(&prefix).await.len(), 2, "{seen}");
    let run = interrupted(child, lines, seen).await;
    assert_eq!(run.code, 1, "{run}");
    assert!(!run.failed("interrupted").is_empty(), "{run}");
    assert!(run.passed("cleanup"), "{run}");
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
}

/// A run killed outright leaves its probes; `--cleanup` finds them by their issuer and
/// removes them with their buckets.
#[tokio::test]
async fn selftest_cleanup_removes_what_a_killed_run_left() {
    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let env = own_database_and_prefix(&db, &prefix);
    let (mut child, _lines, seen) = started_until("seed", &env, Duration::from_mins(1)).await;
    child.kill().await.unwrap();
    let left = buckets_named(&prefix).await;
    assert_eq!(left.len(), 2, "{seen}");

    let run = selftest(&["--cleanup"], &env).await;
    assert_eq!(run.code, 0, "{run}");
    let cleanup = run.lines_of("cleanup");
    assert_eq!(cleanup.len(), 1, "{run}");
    for bucket in &left {
        assert!(cleanup[0].1.contains(bucket.as_str()), "{bucket} not named: {run}");
    }
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");

    let again = selftest(&["--cleanup"], &env).await;
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(
        again.lines_of("cleanup"),
        [(true, "no probe user to remove")],
        "{again}"
    );
}

/// A run's standard output, line by line.
type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// A run started with `env`, read until its check `check` passed (`seed`: both probes made and
/// written into; `org-seed`: the probe orgs too), within `bound`: the child, its remaining
/// output, and what it printed so far.
async fn started_until(check: &str, env: &[(&str, String)], bound: Duration) -> (tokio::process::Child, Lines, String) {
    let mut child = command(&[], env).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if parse(&line).is_some_and(|(ok, c, _)| ok && c == check) {
                return;
            }
        }
        panic!("selftest ended before its {check} check:\n{seen}");
    };
    tokio::time::timeout(bound, read)
        .await
        .unwrap_or_else(|_| panic!("the {check} check within {bound:?}"));
    (child, lines, seen)
}

/// Ctrl-C to a run started by [`started_until`]: the run as it ended (within a minute), its
/// whole output in `stdout`.
async fn interrupted(mut child: tokio::process::Child, mut lines: Lines, mut seen: String) -> Run {
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = tokio::time::timeout(Duration::from_mins(1), child.wait())
        .await
        .unwrap()
        .unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: seen,
        stderr: String::new(),
    }
}

/// A role whose permission policy grants the user buckets without pinning the account: no
/// check on this account can see what it allows elsewhere, so selftest reads the policy and
/// fails naming `account-pin` and the statement.
#[tokio::test]
async fn selftest_fails_naming_the_account_pin_when_the_role_policy_lacks_it() {
    let (_name, arn) = crate::support::ops::role_without_account_pin().await;

    let db = tempfile::tempdir().unwrap();
    let prefix = private_prefix();
    let mut env = own_database_and_prefix(&db, &prefix);
    // The service user may read only its own role's policy: run as the account's root.
    env.extend([
        ("STSVEND_AWS__ROLE_ARN", arn),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ]);
    let run = selftest(&[], &env).await;
    assert_ne!(run.code, 0, "{run}");
    let failed = run.failed("account-pin");
    assert_eq!(failed.len(), 1, "{run}");
    assert!(
        failed[0].contains("the role's stsvend-user-buckets") && failed[0].contains("UserBucketsOnly"),
        "{run}"
    );
    assert!(
        !failed[0].contains("template"),
        "the shipped templates are pinned: {run}"
    );
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "{run}");
}
