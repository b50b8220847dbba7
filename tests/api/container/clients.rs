//! The container route: the AWS CLI's and boto3's container credentials providers fetching keys
//! from `GET /v1/credentials/container` with the token file a running `stsvend-cli token-file`
//! keeps, in bucket mode and (with the vend's `Prefix`) in prefix mode.

use std::time::Duration;

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::auth0::{app_on_auth0, auth0_issuer};
use crate::support::clients::*;
use crate::support::*;

#[tokio::test]
async fn the_aws_cli_fetches_keys_from_the_container_route_with_the_token_file_stsvend_cli_keeps() {
    let app = app_on_auth0().await;
    let user = User::logged_in("container", &app).await;
    let boto3 = cp_and_boto3_through_the_token_file(&app, &user).await;
    assert_eq!(boto3["whole_bucket"], "ok", "the bucket is the user's own: {boto3}");
}

/// The same in prefix mode: the AWS CLI and boto3 (given the vend's `Prefix`) write and read
/// under the user's prefix of the shared bucket; listing the whole bucket is refused.
#[tokio::test]
async fn in_prefix_mode_the_container_route_serves_the_aws_cli_and_boto3_under_the_users_prefix() {
    let (app, shared) = TestApp::spawn_prefix(Options::default().set("STSVEND_AUTH__ISSUER", &auth0_issuer())).await;
    let user = User::logged_in("container-prefix", &app).await;
    let boto3 = cp_and_boto3_through_the_token_file(&app, &user).await;
    let key = boto3["key"].as_str().unwrap();
    assert!(key.starts_with("users/"), "{boto3}");
    assert_eq!(boto3["whole_bucket"], "AccessDenied", "{boto3}");
    assert_eq!(user.credential_process(&[]).await["Bucket"], shared.as_str());
}

/// With `stsvend-cli token-file` running as a sidecar: `aws s3 cp` up to and back from
/// `<bucket>/<prefix>container/hello.txt`, then a boto3 multipart upload of `<prefix>boto3.bin`
/// (`tests/clients/boto3_container_upload.py`), both with no keys but the container route's.
/// Returns the script's result, checked: the object is whole and the listing of the prefix
/// shows both objects.
async fn cp_and_boto3_through_the_token_file(app: &TestApp, user: &User) -> Value {
    let vended = user.credential_process(&[]).await;
    let (bucket, prefix, region) = (
        vended["Bucket"].as_str().unwrap(),
        vended["Prefix"].as_str().unwrap(),
        vended["Region"].as_str().unwrap(),
    );

    // The refresh loop, as a container sidecar would run it.
    let token_file = user.dir.path().join("run/token");
    let mut keeper = user.cli(&["token-file", "--path", token_file.to_str().unwrap()]);
    keeper.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut keeper = keeper.spawn().unwrap();
    let mut keeper_log = BufReader::new(keeper.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), keeper_log.next_line())
        .await
        .expect("token-file reports its first write")
        .unwrap()
        .unwrap_or_default();
    assert!(first.contains("next refresh in"), "{first}");
    assert!(std::fs::read_to_string(&token_file).unwrap().starts_with("Bearer eyJ"));

    // An AWS config with no credentials at all: only where the bucket is.
    std::fs::write(
        user.aws_config(),
        format!(
            "[default]\nregion = {region}\nendpoint_url = {}\ns3 =\n    addressing_style = path\n",
            required_env("STSVEND_AWS__ENDPOINT_URL")
        ),
    )
    .unwrap();
    let on_the_route = |program: &Path| {
        let mut cmd = clean_command(program, &user.aws_config());
        cmd.env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials/container", app.base),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
        cmd
    };
    let file = user.dir.path().join("hello.txt");
    std::fs::write(&file, "from a container").unwrap();
    let target = format!("s3://{bucket}/{prefix}container/hello.txt");
    let up = run(
        on_the_route(&aws_bin()).args(["s3", "cp", file.to_str().unwrap(), &target]),
        Duration::from_mins(1),
    )
    .await;
    assert!(up.status.success(), "aws s3 cp failed: {}", text(&up.stderr));
    let down = run(
        on_the_route(&aws_bin()).args(["s3", "cp", &target, "-"]),
        Duration::from_mins(1),
    )
    .await;
    assert!(down.status.success(), "aws s3 cp back failed: {}", text(&down.stderr));
    assert_eq!(text(&down.stdout), "from a container");

    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/boto3_container_upload.py");
    let out = run(
        on_the_route(&python)
            .arg(script)
            .env("S3_ENDPOINT", required_env("STSVEND_AWS__ENDPOINT_URL"))
            .env("BUCKET", bucket)
            .env("PREFIX", prefix)
            .env("KEY", "boto3.bin")
            .env("SIZE_MIB", "12"),
        Duration::from_mins(2),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "the boto3 upload failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["key"], format!("{prefix}boto3.bin"));
    assert_eq!(result["size"], 12 * 1024 * 1024);
    assert_eq!(result["same_content"], true);
    assert!(result["etag"].as_str().unwrap().contains("-2"), "2 parts: {result}");
    assert_eq!(
        result["listed"],
        json!([format!("{prefix}boto3.bin"), format!("{prefix}container/hello.txt")])
    );

    keeper.kill().await.unwrap();
    result
}

/// Access tokens of this many seconds (the local issuer, for this user only).
const SHORT_TOKEN_SECONDS: u32 = 8;
/// How long the boto3 job runs: more than three token lifetimes.
const JOB_SECONDS: u32 = 30;

/// `stsvend-cli token-file` as a sidecar: a boto3 job on the container route keeps working for
/// more than three lifetimes of its access token, because the file is rewritten with a fresh
/// token (through the refresh token) before each one expires. stsvend allows no leeway here, so
/// an expired token in the file would fail the job's next request.
#[tokio::test]
async fn token_file_keeps_a_boto3_job_on_the_container_route_working_across_three_token_lifetimes() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
            .set("STSVEND_AUTH__LEEWAY_SECONDS", "0")
            // Keys of 10 s: boto3 fetches again (with the file's token) before every request.
            .set("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true")
            .set("STSVEND_AWS__SESSION_DURATION_SECONDS", "10")
            .set("STSVEND_AWS__MIN_REMAINING_SECONDS", "4")
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "6000")
            .set("STSVEND_LIMITS__VEND_BURST", "1000"),
    )
    .await;
    let user = User::new("token-file-job");
    let login = user.login(&app, Approval::ShortTokens(SHORT_TOKEN_SECONDS)).await;
    assert!(login.status.success(), "login failed: {}", text(&login.stderr));
    let bucket = user.credential_process(&[]).await["Bucket"]
        .as_str()
        .unwrap()
        .to_owned();

    let token_file = user.dir.path().join("run/token");
    let mut keeper = user.cli(&["token-file", "--path", token_file.to_str().unwrap()]);
    keeper.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut keeper = keeper.spawn().unwrap();
    let mut keeper_log = BufReader::new(keeper.stderr.take().unwrap()).lines();
    let first_line = tokio::time::timeout(Duration::from_secs(20), keeper_log.next_line())
        .await
        .expect("token-file reports its first write")
        .unwrap()
        .unwrap_or_default();
    assert!(first_line.contains("next refresh in"), "{first_line}");

    // Every token the file held while the job ran, in order.
    let path = token_file.clone();
    let watcher = tokio::spawn(async move {
        let mut seen: Vec<String> = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(u64::from(JOB_SECONDS) + 2);
        while tokio::time::Instant::now() < until {
            if let Ok(t) = std::fs::read_to_string(&path)
                && seen.last() != Some(&t)
            {
                seen.push(t);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        seen
    });

    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/boto3_token_file_job.py");
    let mut job = clean_command(&python, &user.aws_config());
    job.arg(script)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials/container", app.base),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .env("S3_ENDPOINT", required_env("STSVEND_AWS__ENDPOINT_URL"))
        .env("BUCKET", &bucket)
        .env("JOB_SECONDS", JOB_SECONDS.to_string());
    let out = run(&mut job, Duration::from_secs(u64::from(JOB_SECONDS) + 60)).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "the boto3 job failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        result["seconds"].as_f64().unwrap() >= f64::from(3 * SHORT_TOKEN_SECONDS),
        "{result}"
    );
    assert!(result["rounds"].as_u64().unwrap() >= 20, "{result}");
    let keys = result["keys"].as_array().unwrap();
    assert!(keys.len() >= 3, "boto3 signed with too few key sets: {result}");
    assert!(keys.iter().all(|k| k != "unsigned"), "{result}");

    let tokens = watcher.await.unwrap();
    assert!(
        tokens.len() >= 4,
        "the token file was rewritten {} times in {JOB_SECONDS} s",
        tokens.len()
    );
    assert!(tokens.iter().all(|t| t.starts_with("Bearer eyJ")));
    // The token the job started with has expired and stsvend refuses it: the job outlived it.
    let first = tokens[0].strip_prefix("Bearer ").unwrap();
    let resp = app.post_credentials(Some(first), None).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "token_expired", "{body}");

    keeper.kill().await.unwrap();
}
