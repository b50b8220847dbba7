//! A `PostgreSQL` password with the characters `openssl rand -base64` produces (`/`, `+`, `=`)
//! never reaches the start-up log, `doctor`, or a configuration error, through the real binary.

use std::time::Duration;

use crate::support::TestIssuer;
use crate::support::ops::{Run, stsvend};
use crate::support::pg;

/// The password, and the pieces a redaction that split it at `/` would leave in the output.
const SECRET: &str = "s3cr/et+Kq==";
const PIECES: [&str; 4] = ["s3cr/et+Kq==", "s3cr", "et+Kq==", "Kq=="];

/// A user the test cluster does not have: the server refuses the login, which is the point
/// (the failure's message is one of the places checked).
fn url_with_secret(scheme: &str) -> String {
    format!("{scheme}://u:{SECRET}@{}/db?sslmode=disable", pg::server_addr())
}

fn assert_no_secret(what: &str, run: &Run) {
    for piece in PIECES {
        assert!(
            !run.stdout.contains(piece) && !run.stderr.contains(piece),
            "{what} shows `{piece}` of the password:\n{run}"
        );
    }
}

/// `stsvend <args>` with `url` as `database.url`, ended after a bound if it does not end by
/// itself (serve must fail to reach the database, not start).
async fn run_with_url(args: &[&str], issuer: &str, url: String, db: &std::path::Path) -> Run {
    let env = [
        ("STSVEND_DATABASE__URL", url),
        ("STSVEND_DATABASE__PATH", db.join("s.db").display().to_string()),
        ("STSVEND_AUTH__ISSUER", issuer.to_owned()),
        ("STSVEND_SERVER__BIND", "127.0.0.1:0".to_owned()),
        ("STSVEND_SERVER__METRICS_BIND", "127.0.0.1:0".to_owned()),
        // Every log line the crates write, not only the default `info` ones.
        ("RUST_LOG", "debug".to_owned()),
    ];
    tokio::time::timeout(Duration::from_mins(1), stsvend(args, &env))
        .await
        .unwrap_or_else(|_| panic!("stsvend {args:?} did not end within 60 s"))
}

#[tokio::test]
async fn a_password_with_a_slash_appears_in_no_log_doctor_output_or_error() {
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let addr = pg::server_addr().to_string();

    let serve = run_with_url(&["serve"], &issuer.issuer, url_with_secret("postgres"), dir.path()).await;
    assert_ne!(serve.code, 0, "the login must fail:\n{serve}");
    // The run got as far as the server and says where it went.
    assert!(
        serve.stderr.contains(&format!("postgres://u:***@{addr}/db")),
        "the start-up log names the server:\n{serve}"
    );
    assert!(
        serve.stderr.contains("password authentication failed"),
        "the error names the refusal:\n{serve}"
    );
    assert_no_secret("serve", &serve);

    let doctor = run_with_url(&["doctor"], &issuer.issuer, url_with_secret("postgres"), dir.path()).await;
    assert!(
        doctor.stdout.lines().any(|l| l.starts_with("FAIL database:")),
        "doctor reports the database:\n{doctor}"
    );
    assert_no_secret("doctor", &doctor);

    // A configuration error that quotes the URL.
    let config = run_with_url(&["check-config"], &issuer.issuer, url_with_secret("mysql"), dir.path()).await;
    assert_eq!(config.code, 2, "{config}");
    assert!(config.stderr.contains("database.url:"), "{config}");
    assert_no_secret("check-config", &config);
}
