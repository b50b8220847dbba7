//! The real binary: invalid configuration stops start-up naming the problem, and a running
//! service logs one line per request without tokens or secret keys.

use std::process::Command;
use std::time::Duration;

use crate::support::process::{BIN, POLICIES, ServiceProcess, serve_expecting_failure, shipped_config};
use crate::support::*;

#[test]
fn each_invalid_config_stops_startup_naming_the_problem() {
    let base = shipped_config();
    let cases = [
        (
            "unknown key",
            base.replace("[server]", "[server]\ncolour = \"blue\""),
            "unknown key `server.colour`",
        ),
        (
            "bad role ARN",
            base.replace("role/stsvend-vend", "user/stsvend-vend"),
            "aws.role_arn",
        ),
        (
            "duration too short",
            base.replace("session_duration_seconds = 3600", "session_duration_seconds = 600"),
            "aws.session_duration_seconds: 600",
        ),
        (
            "duration too long",
            base.replace("session_duration_seconds = 3600", "session_duration_seconds = 50000"),
            "aws.session_duration_seconds: 50000",
        ),
        (
            "wrong type",
            base.replace("leeway_seconds = 30", "leeway_seconds = \"soon\""),
            "leeway_seconds",
        ),
        (
            "plain-http issuer without auth.allow_insecure_http",
            base.replace("allow_insecure_http = true", "allow_insecure_http = false"),
            "auth.issuer: `http://127.0.0.1:4400/` is plain http",
        ),
        (
            "a JWKS refresh interval of zero",
            base.replace("jwks_refresh_seconds = 300", "jwks_refresh_seconds = 0"),
            "auth.jwks_refresh_seconds: 0 is outside 1..=86400",
        ),
        (
            "unknown default template",
            base.replace("default = \"read-write\"", "default = \"everything\""),
            "policies.default: `everything`",
        ),
    ];
    for (name, text, expected) in cases {
        let (code, stderr) = serve_expecting_failure(&text, POLICIES);
        assert_ne!(code, 0, "{name}: start-up must fail");
        assert!(
            stderr.contains(expected),
            "{name}: stderr should name `{expected}`:\n{stderr}"
        );
    }
    // Several problems are listed together.
    let text = base
        .replace("[server]", "[server]\ncolour = 1")
        .replace("session_duration_seconds = 3600", "session_duration_seconds = 1");
    let (_, stderr) = serve_expecting_failure(&text, POLICIES);
    assert!(
        stderr.contains("server.colour") && stderr.contains("aws.session_duration_seconds"),
        "{stderr}"
    );
}

#[test]
fn a_bad_template_stops_startup_naming_the_file_and_the_reason() {
    let cases = [
        (
            "read-write.json",
            r#"{"Statement": [{"Resource": {{bucket}} }]}"#,
            "not valid JSON",
        ),
        (
            "read-write.json",
            r#"{"Statement": [{"Resource": "arn:aws:s3:::{{sub}}"}]}"#,
            "unknown placeholder",
        ),
        ("read-write.json", r#"{"Version": "2012-10-17"}"#, "needs a `Statement`"),
    ];
    for (file, body, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(format!("{POLICIES}/read-only.json"), dir.path().join("read-only.json")).unwrap();
        std::fs::write(dir.path().join(file), body).unwrap();
        let (code, stderr) = serve_expecting_failure(&shipped_config(), dir.path().to_str().unwrap());
        assert_ne!(code, 0);
        assert!(stderr.contains(file) && stderr.contains(reason), "{reason}:\n{stderr}");
    }
    // An oversized template.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(format!("{POLICIES}/read-only.json"), dir.path().join("read-only.json")).unwrap();
    let many = vec![r#""arn:aws:s3:::{{bucket}}/*""#; 40].join(",");
    std::fs::write(
        dir.path().join("read-write.json"),
        format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{many}]}}]}}"#),
    )
    .unwrap();
    let (_, stderr) = serve_expecting_failure(&shipped_config(), dir.path().to_str().unwrap());
    assert!(
        stderr.contains("read-write.json") && stderr.contains("at most 2048"),
        "{stderr}"
    );
}

#[tokio::test]
async fn logs_have_one_line_per_request_and_never_a_token_or_secret() {
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut service = ServiceProcess::start(&[
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__PATH", dir.path().join("s.db").display().to_string()),
        ("RUST_LOG", "debug".to_owned()),
    ])
    .await;
    let base = service.base.clone();
    let http = reqwest::Client::new();
    let sub = unique_sub("logs");
    let token = issuer.token(&sub);
    let resp = http
        .post(format!("{base}/v1/credentials"))
        .bearer_auth(&token)
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "req-abc-123");
    let vended: Vended = resp.json().await.unwrap();
    let bad = http
        .post(format!("{base}/v1/credentials"))
        .bearer_auth("garbage.token.here")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    // The request lines are written after the responses: wait for both, then stop.
    wait_until(Duration::from_secs(10), "a request line for each request", async || {
        let logs = service.logs();
        logs.lines()
            .any(|l| l.contains("request_id=req-abc-123") && l.contains("status=200"))
            && logs.lines().any(|l| l.contains("status=401"))
    })
    .await;
    service.kill();
    let all = service.logs();
    let lines: Vec<&str> = all.lines().collect();

    let user_id = stsvend::identity::UserId::derive(&issuer.issuer, &sub);
    let vend_lines: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("request_id=req-abc-123") && l.contains("status=200"))
        .collect();
    assert_eq!(vend_lines.len(), 1, "one request line for the vend:\n{all}");
    let line = vend_lines[0];
    assert!(line.contains(&format!("user_id={user_id}")), "{line}");
    assert!(line.contains("latency_ms=") && line.contains("outcome=ok"), "{line}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("status=401") && l.contains("invalid_token")),
        "{all}"
    );
    let signature = token.rsplit('.').next().unwrap();
    for secret in [
        token.as_str(),
        signature,
        &vended.secret_access_key,
        &vended.session_token,
        "garbage.token.here",
    ] {
        assert!(!all.contains(secret), "a secret reached the log:\n{all}");
    }
    assert!(
        all.contains(&vended.access_key_id),
        "the AccessKeyId is logged for audit"
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_before_exiting() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut service = ServiceProcess::start(&[
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__PATH", dir.path().join("s.db").display().to_string()),
        ("STSVEND_AWS__ENDPOINT_URL", proxy.url.clone()),
    ])
    .await;
    // A first login is in flight, held at CreateBucket, when SIGTERM arrives.
    let held = proxy.hold_request("PUT /stsvend-");
    let request = vend_in_background(&service.base, issuer.token(&unique_sub("drain")));
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    service.signal("TERM");
    // New connections are no longer accepted while draining.
    let health = format!("{}/healthz", service.base);
    wait_until(
        Duration::from_secs(5),
        "new connections refused after SIGTERM",
        async || reqwest::get(&health).await.is_err(),
    )
    .await;
    proxy.release();
    assert_eq!(request.await.unwrap().unwrap(), 200, "the in-flight vend completes");
    assert_eq!(service.wait_exit(Duration::from_secs(10)), Some(0));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut service = ServiceProcess::start(&[
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__PATH", dir.path().join("s.db").display().to_string()),
        ("STSVEND_SERVER__LOG_FORMAT", "json".to_owned()),
    ])
    .await;
    let resp = reqwest::Client::new()
        .get(format!("{}/healthz", service.base))
        .header("x-request-id", "json-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    wait_until(Duration::from_secs(10), "the request line", async || {
        service.logs().contains("json-1")
    })
    .await;
    service.kill();
    let logs = service.logs();
    let request_line = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .find(|v| v["message"] == "request" && v["path"] == "/healthz")
        .expect("a request line");
    assert_eq!(request_line["status"], 200);
    assert_eq!(request_line["span"]["request_id"], "json-1");
}

/// STS packs the session policy with the session tag, and refuses a pack that is too large
/// (`PackedPolicyTooLarge`, which `MiniStack` never answers: the fault proxy does): every vend
/// would fail, so start-up tries the longest template (prefix-mode variants included, rendered
/// with the longest prefix) once and stops, naming it.
#[tokio::test]
async fn a_template_too_large_once_packed_stops_start_up() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    proxy.answer_sts_with_error(1, 400, "PackedPolicyTooLarge");
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(
        &issuer.issuer,
        &dir.path().join("s.db"),
        &[("STSVEND_AWS__ENDPOINT_URL".to_owned(), proxy.url.clone())],
    );
    let Err(err) = stsvend::app::Application::build(config).await else {
        panic!("start-up went on with a session policy STS refuses");
    };
    let msg = err.to_string();
    // The longest template is tried: the prefix-mode variant of read-write.
    assert!(
        msg.contains("PackedPolicyTooLarge") && msg.contains("`prefix-read-write`"),
        "{msg}"
    );
}

/// Shell completions and the man page are generated from the clap definition: every
/// subcommand is in them.
#[test]
fn completions_and_the_man_page_name_every_subcommand() {
    let subcommands = ["serve", "check-config", "bootstrap", "doctor", "users"];
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in subcommands {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // roff escapes hyphens (`\-`).
    let page = String::from_utf8(out.stdout).unwrap().replace("\\-", "-");
    assert!(page.contains(".TH stsvend"), "{page}");
    for sub in subcommands {
        assert!(page.contains(sub), "the man page lacks {sub}");
    }
}
