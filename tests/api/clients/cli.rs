//! `stsvend-cli` against the Auth0 stand-in: device-flow login, `credential_process` with refresh
//! (and rotation), the token file, and the failures a user should understand.

use std::time::Duration;

use std::path::Path;

use serde_json::Value;

use crate::support::auth0::{app_on_auth0, auth0_issuer};
use crate::support::clients::*;
use crate::support::*;

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn device_login_stores_a_private_session_that_credential_process_vends_with() {
    let app = app_on_auth0().await;
    let user = User::new("device");
    let out = user.login(&app, Approval::Approve).await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "login failed: {stderr}");
    assert!(out.stdout.is_empty(), "login keeps stdout clean");
    assert!(stderr.contains("Logged in"), "{stderr}");
    #[cfg(unix)]
    assert_eq!(mode(&user.store()), 0o600);

    let session = user.session();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("eyJ") && !refresh.is_empty(), "{session}");
    assert_eq!(session["issuer"], auth0_issuer());
    assert_eq!(session["api"], app.base);
    assert_eq!(session["client_id"], "stsvend-cli");
    assert_no_secrets(&stderr, &[&access, &refresh]);

    let creds = user.credential_process(&[]).await;
    assert_eq!(creds["Version"], 1);
    for key in ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "Bucket"] {
        assert!(creds[key].as_str().is_some_and(|v| !v.is_empty()), "{key} missing");
    }
    assert_eq!(creds["Access"], "read-write");
    let read_only = user.credential_process(&["--access", "read-only"]).await;
    assert_eq!(read_only["Access"], "read-only");
    assert_eq!(read_only["Bucket"], creds["Bucket"]);
}

#[tokio::test]
async fn the_credential_process_output_starts_with_the_aws_fields_in_order() {
    let app = app_on_auth0().await;
    let user = User::logged_in("order", &app).await;
    let out = run(&mut user.cli(&["credential-process"]), Duration::from_secs(30)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(r#"{"Version":1,"AccessKeyId":""#),
        "not the credential_process format: {}",
        &stdout[..40.min(stdout.len())]
    );
    let order: Vec<usize> = [
        "\"AccessKeyId\"",
        "\"SecretAccessKey\"",
        "\"SessionToken\"",
        "\"Expiration\"",
    ]
    .iter()
    .map(|k| stdout.find(k).unwrap())
    .collect();
    assert!(order.is_sorted(), "fields out of order");
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr when all is well: {}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn a_denied_device_code_fails_the_login_with_a_clear_message() {
    let app = app_on_auth0().await;
    let user = User::new("denied");
    let out = user.login(&app, Approval::Deny).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("sign-in was denied"), "{stderr}");
    assert!(!user.store().exists(), "no session is stored");
}

#[tokio::test]
async fn credential_process_refreshes_an_expiring_token_and_keeps_the_rotated_refresh_token() {
    let app = app_on_auth0().await;
    let user = User::logged_in("refresh", &app).await;
    let before = user.session();
    // 30 s left: under the 60 s threshold.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::seconds(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    user.edit_session(|s| s["expires_at"] = soon.clone().into());

    user.credential_process(&[]).await;
    let after = user.session();
    assert_ne!(after["access_token"], before["access_token"], "a new access token");
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "the rotated refresh token is stored"
    );
    assert_ne!(after["expires_at"], soon.as_str());

    // A token that is still good is used as is.
    user.credential_process(&[]).await;
    assert_eq!(user.session()["refresh_token"], after["refresh_token"]);
}

#[tokio::test]
async fn a_refused_refresh_asks_for_a_new_login_without_showing_tokens() {
    let app = app_on_auth0().await;
    let user = User::logged_in("revoked", &app).await;
    let spent = user.session()["refresh_token"].clone();
    let expired = |s: &mut Value| s["expires_at"] = "2020-01-01T00:00:00Z".into();
    user.edit_session(expired);
    user.credential_process(&[]).await; // refreshes: `spent` is now used up

    // Presenting a used refresh token makes the identity provider revoke the whole grant.
    user.edit_session(|s| {
        expired(s);
        s["refresh_token"] = spent.clone();
    });
    let out = run(&mut user.cli(&["credential-process"]), Duration::from_secs(30)).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("expired or was revoked") && stderr.contains("run `stsvend-cli login`"),
        "{stderr}"
    );
    let session = user.session();
    assert_no_secrets(
        &stderr,
        &[spent.as_str().unwrap(), session["access_token"].as_str().unwrap()],
    );
}

#[tokio::test]
async fn credential_process_when_not_logged_in_fails_with_a_hint_and_no_secrets() {
    let user = User::new("nobody");
    let out = run(&mut user.cli(&["credential-process"]), Duration::from_secs(30)).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("not logged in") && stderr.contains("run `stsvend-cli login`"),
        "{stderr}"
    );
    assert_no_secrets(&stderr, &[]);
}

#[tokio::test]
async fn stsvend_errors_reach_the_user_as_their_code_and_message() {
    let app = app_on_auth0().await;
    let user = User::logged_in("errors", &app).await;
    let out = run(
        &mut user.cli(&["credential-process", "--access", "admin"]),
        Duration::from_secs(30),
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("HTTP 400, unknown_access") && stderr.contains("available: "),
        "{stderr}"
    );
    assert_no_secrets(&stderr, &[]);
}

#[tokio::test]
async fn token_file_once_writes_a_private_bearer_token_without_a_newline() {
    let app = app_on_auth0().await;
    let user = User::logged_in("tokenfile", &app).await;
    let path = user.dir.path().join("run/token");
    let out = run(
        &mut user.cli(&["token-file", "--path", path.to_str().unwrap(), "--once"]),
        Duration::from_secs(30),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        written,
        format!("Bearer {}", user.session()["access_token"].as_str().unwrap())
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    // The written token vends.
    let resp = app
        .post_credentials(Some(written.strip_prefix("Bearer ").unwrap()), None)
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn credential_process_waits_out_a_short_rate_limit_once() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "60")
            .set("STSVEND_LIMITS__VEND_BURST", "1"),
    )
    .await;
    let user = User::logged_in("ratelimited", &app).await;
    user.credential_process(&[]).await;
    // The burst is spent: stsvend answers 429 with a Retry-After of a second or two, which
    // credential-process waits out instead of failing the AWS command.
    let started = std::time::Instant::now();
    user.credential_process(&[]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}
