//! `stsvend selftest` against moto's server (`PyPI` `moto[server]`, pinned in scripts/requirements-local.txt
//! and installed into the project's venv): an independent AWS implementation that enforces no
//! IAM, so the isolation checks must fail there while the first login (every bucket setting),
//! the vends and the pre-signed URL work: a second opinion on the API shapes stsvend relies on.
//!
//! What moto does not model, as seen here: session policies and the role's policy (every key
//! may do anything: the `access` checks of a read-only template fail too), roles it was not
//! told of (`AssumeRole` works for any name, and `account-pin` finds no policy to read),
//! pre-signed URL signatures, and a bucket policy's conditions (the revocation's Deny denies
//! everyone, the service included, so the clean-up of the probes' buckets is refused).

use std::time::{Duration, Instant};

use super::selftest;
use crate::support::required_env;

/// A moto server on loopback, stopped when dropped.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    async fn start() -> Self {
        let port = required_env("MOTO_PORT");
        let bin = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/moto_server");
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: run `bash scripts/ministack.sh install` (scripts/test.sh does)"
        );
        let log = tempfile::tempfile().unwrap();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Self { child, endpoint };
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if http
                .get(format!("{}/moto-api/", moto.endpoint))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}); is port {port} free?");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server not ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn selftest_fails_against_moto_naming_the_isolation_checks() {
    let moto = Moto::start().await;
    let db = tempfile::tempdir().unwrap();
    let env = [
        ("STSVEND_AWS__ENDPOINT_URL", moto.endpoint.clone()),
        // moto's default account; it answers AssumeRole for any role name.
        (
            "STSVEND_AWS__ROLE_ARN",
            "arn:aws:iam::123456789012:role/stsvend-vend".to_owned(),
        ),
        ("AWS_ACCESS_KEY_ID", "moto".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "moto".to_owned()),
        ("STSVEND_DATABASE__PATH", db.path().join("s.db").display().to_string()),
        ("STSVEND_ADMIN__REVOKE_WAIT_SECONDS", "1".to_owned()),
    ];
    let run = selftest(&["--revoke-timeout", "2"], &env).await;
    assert_ne!(run.code, 0, "{run}");
    // Every isolation check fails, naming what was allowed.
    let isolation = run.lines_of("isolation");
    assert!(!isolation.is_empty(), "{run}");
    assert!(isolation.iter().all(|(ok, d)| !ok && d.contains("ALLOWED")), "{run}");
    // The first login (bucket and every setting), the vends and the seed work on moto.
    for check in ["provision", "vend", "seed"] {
        assert!(run.passed(check), "{check} did not pass on moto:\n{run}");
    }
    let presign = run.lines_of("presign");
    assert!(
        presign
            .iter()
            .any(|(ok, d)| *ok && d.starts_with("a URL from the presign use case reads")),
        "{run}"
    );
    assert!(
        presign
            .iter()
            .any(|(ok, d)| !ok && d.contains("turned to the other probe's storage")),
        "{run}"
    );
}
