//! `stsvend users ...` through the real binary, against a running service's admin API.

use serde_json::Value;

use crate::support::admin::{admin_app, admin_token, put, user_id_of};
use crate::support::ops::Run;
use crate::support::process::BIN;
use crate::support::*;

async fn users(api: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("users")
        .arg("--api")
        .arg(api)
        .args(args)
        .env_remove("STSVEND_ADMIN_TOKEN");
    if let Some(t) = token {
        cmd.env("STSVEND_ADMIN_TOKEN", t);
    }
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn the_users_command_shows_revokes_and_looks_up_keys() {
    let app = admin_app().await;
    let token = admin_token(&app);
    let sub = unique_sub("cli-admin");
    let old = app.vend(&sub, None).await;
    let id = user_id_of(&app, &sub);

    let shown = users(&app.base, Some(&token), &["show", &id]).await;
    assert_eq!(shown.code, 0, "{shown}");
    let body: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(body["bucket"], old.bucket.as_str());

    let listed = users(&app.base, Some(&token), &["list", "--search", &sub[6..]]).await;
    let body: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(body["users"][0]["user_id"], id.as_str(), "{listed}");

    let revoked = users(&app.base, Some(&token), &["revoke", &id]).await;
    assert_eq!(revoked.code, 0, "{revoked}");
    assert_eq!(put(&old, "x").await, "AccessDenied");

    let key = users(&app.base, Some(&token), &["key", &old.access_key_id]).await;
    let body: Value = serde_json::from_str(&key.stdout).unwrap();
    assert_eq!(body["vends"][0]["user_id"], id.as_str(), "{key}");

    // The token file route: the container route's `Bearer <jwt>` file works as-is.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("Bearer {token}")).unwrap();
    let audit = users(
        &app.base,
        None,
        &["audit", "--target", &id, "--token-file", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(audit.code, 0, "{audit}");
    let body: Value = serde_json::from_str(&audit.stdout).unwrap();
    let actions: Vec<&str> = body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["users.revoke", "users.show"]);
}

#[tokio::test]
async fn the_users_command_fails_clearly() {
    let app = admin_app().await;
    let no_token = users(&app.base, None, &["list"]).await;
    assert_eq!(no_token.code, 2);
    assert!(no_token.stderr.contains("STSVEND_ADMIN_TOKEN"), "{no_token}");

    let user_token = app.issuer.token(&unique_sub("cli-not-admin"));
    let refused = users(&app.base, Some(&user_token), &["list"]).await;
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("403: insufficient_scope"), "{refused}");
    assert!(!refused.stderr.contains(&user_token), "the token is never printed");

    let unknown = users(
        &app.base,
        Some(&admin_token(&app)),
        &["show", "aaaaaaaaaaaaaaaaaaaaaaaaaa"],
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("404: not_found"), "{unknown}");
}

/// A stand-in for whatever sits between this machine and a remote service: an HTTP proxy on
/// 127.0.0.1 that keeps the head of every request sent through it and answers 502.
fn recording_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            record.lock().unwrap().push(head);
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

#[tokio::test]
async fn the_users_command_refuses_plain_http_to_another_host_before_sending_the_token() {
    let (proxy, seen) = recording_proxy();
    let token = "eyJhbGciOiJSUzI1NiJ9.admin-token-not-for-the-network.sig";
    for api in [
        "http://stsvend.example:8080",
        "http://127.0.0.1.stsvend.example",
        "http://127.0.0.1@stsvend.example",
        "ftp://stsvend.example",
    ] {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["users", "--api", api, "show", "aaaaaaaaaaaaaaaaaaaaaaaaaa"])
            .env("STSVEND_ADMIN_TOKEN", token)
            // Every plain-http request goes through the proxy, as on a network path.
            .env("HTTP_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy");
        let out = cmd.output().await.unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let sent = seen.lock().unwrap().clone();
        assert!(
            sent.is_empty(),
            "{api}: the request left this machine:\n{}",
            sent.join("\n")
        );
        assert_eq!(run.code, 2, "{api}: {run}");
        assert!(run.stderr.contains("--api must use https"), "{api}: {run}");
        assert!(
            run.stderr.contains("127.0.0.0/8"),
            "{api}: says what plain http is allowed for: {run}"
        );
        assert!(!run.stderr.contains(token), "{api}: {run}");
    }
}
