//! The web app's operator console and its logout, in Chromium (`web/e2e/console.mjs`,
//! `web/e2e/logout.mjs`, playwright-core), against an stsvend with the admin API on and the
//! Auth0 stand-in. What the page showed is checked in the browser; what S3 and the admin API
//! say afterwards is checked here. The console's screenshot is written to
//! `<repo>/target/web-e2e/console.png`, beside the app's.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::admin::{ADMIN_PERMISSION, put};
use crate::helpers::*;
use crate::oidc::auth0_issuer;
use crate::web::{BROWSER, OUT_DIR, WEB_DIR, serve_web};

/// One browser scenario: about 15 s alone, more while the rest of the suite runs.
const E2E_TIMEOUT: Duration = Duration::from_mins(3);

/// An stsvend for the browser: the stand-in's tokens, the admin API on, the app's origin in
/// both CORS lists.
async fn app_for_browser(port: &str) -> TestApp {
    let origins = format!(r#"["http://127.0.0.1:{port}"]"#);
    TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &origins)
            .set("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", &origins),
    )
    .await
}

/// A user-shaped token from the stand-in with exactly these permissions.
async fn token_with(sub: &str, permissions: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}oauth/token", auth0_issuer()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "stsvend-test"),
            ("client_secret", "test-secret"),
            ("audience", AUDIENCE),
            ("scope", "openid read:files write:files"),
            ("test_sub", sub),
            ("test_permissions", permissions),
        ])
        .send()
        .await
        .expect("the Auth0 stand-in answers");
    let body: Value = resp.json().await.unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn vend_as(app: &TestApp, sub: &str) -> Vended {
    let resp = app
        .post_credentials(Some(&token_with(sub, "read:files write:files").await), None)
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn admin_get(app: &TestApp, path: &str) -> (u16, Value) {
    let token = token_with("auth0|console-test-ops", &format!("read:files {ADMIN_PERMISSION}")).await;
    let resp = app
        .http
        .get(format!("{}/admin/v1{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// Runs `node web/e2e/<script>` with `env`; its `E2E_RESULT` line, or a failed test.
async fn scenario(script: &str, port: &str, env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(format!("e2e/{script}"))
        .current_dir(WEB_DIR)
        .env("WEB_URL", format!("http://127.0.0.1:{port}"))
        .env("E2E_OUT", OUT_DIR)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(E2E_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {E2E_TIMEOUT:?}"))
        .expect("node runs the scenario");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout.lines().find_map(|l| l.strip_prefix("E2E_RESULT "));
    serde_json::from_str(line.unwrap_or_else(|| panic!("no E2E_RESULT line:\n{stdout}\n{stderr}"))).unwrap()
}

#[tokio::test]
async fn an_operator_revokes_alice_from_the_console_and_her_old_keys_are_denied_while_new_ones_work() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let app = app_for_browser(&port).await;
    // Six users sharing a tag in their subject: two pages of five in the console's search.
    let tag = unique_sub("console");
    let names = ["alice", "carol", "u1", "u2", "u3", "u4"];
    let mut vended = Vec::new();
    for name in names {
        vended.push(vend_as(&app, &format!("{tag}-{name}")).await);
    }
    let (alice, carol) = (&vended[0], &vended[1]);
    let alice_sub = format!("{tag}-alice");
    let alice_id = stsvend::identity::UserId::derive(&auth0_issuer(), &alice_sub).to_string();
    assert_eq!(put(alice, "before.txt").await, "ok");
    assert_eq!(put(carol, "carol.txt").await, "ok");
    let operator = unique_sub("operator");

    std::fs::create_dir_all(OUT_DIR).unwrap();
    let shot = PathBuf::from(OUT_DIR).join("console.png");
    let _ = std::fs::remove_file(&shot);
    let _web = serve_web(&port, &app.base).await;
    let result = scenario(
        "console.mjs",
        &port,
        &[
            ("OPERATOR_SUB", &operator),
            ("ADMIN_PERMISSION", ADMIN_PERMISSION),
            ("TAG", &tag),
            ("TAGGED", &names.len().to_string()),
            ("ALICE_SUB", &alice_sub),
            ("ALICE_USER_ID", &alice_id),
            ("ALICE_KEY", &alice.access_key_id),
            ("CAROL_SUB", &format!("{tag}-carol")),
        ],
    )
    .await;
    assert_eq!(result["paging"]["first"], 5, "{result}");
    assert_eq!(result["paging"]["second"], 1, "{result}");
    assert_eq!(result["aliceBefore"]["bucket"], format!("s3://{}", alice.bucket));
    assert_eq!(result["keyOwners"][0], alice_id.as_str());
    // The page says where the operator is.
    assert_eq!(result["titleOnFiles"], "Your files", "{result}");
    assert_eq!(result["titleOnConsole"], "Operator console", "{result}");
    assert_eq!(result["documentTitle"], "Operator console · stsvend", "{result}");
    // The audit shows what operators did, not the console's own reads of the log (the read
    // being answered would be listed as `started`); those appear only when asked for.
    let listed = |key: &str| -> Vec<String> {
        result[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {result}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(!listed("audit").iter().any(|a| a == "audit.list"), "{result}");
    assert!(!listed("auditOutcomes").iter().any(|o| o == "started"), "{result}");
    assert!(listed("auditWithReads").iter().any(|a| a == "audit.list"), "{result}");
    assert!(shot.is_file(), "no screenshot at {}", shot.display());

    // Alice's keys from before the revocation are denied by S3 (at once when the console said
    // "in effect"; within moments when it said "propagating").
    let in_effect = result["revoked"].as_str().unwrap().contains("in effect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(if in_effect { 0 } else { 15 });
    let denied = loop {
        let code = put(alice, "after-revoke.txt").await;
        if code == "AccessDenied" || tokio::time::Instant::now() >= deadline {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(denied, "AccessDenied", "old keys after the revocation ({result})");
    let old_list = user_s3(alice).list_objects_v2().bucket(&alice.bucket).send().await;
    assert_eq!(s3_code(&old_list), "AccessDenied");
    // Keys vended after it work.
    let fresh = vend_as(&app, &alice_sub).await;
    assert_ne!(fresh.access_key_id, alice.access_key_id);
    assert_eq!(fresh.bucket, alice.bucket);
    assert_eq!(put(&fresh, "after-revoke.txt").await, "ok");
    // Other users are untouched.
    assert_eq!(put(&vended[2], "still.txt").await, "ok");

    // Carol is gone; the audit names the operator for every action.
    let (status, _) = admin_get(&app, &format!("/users/{}", carol_id(&tag))).await;
    assert_eq!(status, 404);
    let (status, audit) = admin_get(&app, &format!("/audit?target={alice_id}")).await;
    assert_eq!(status, 200);
    let revoke = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "users.revoke")
        .unwrap_or_else(|| panic!("no revoke in the audit: {audit}"));
    assert_eq!(revoke["actor"], operator.as_str());
    assert_eq!(revoke["outcome"], "ok");
}

fn carol_id(tag: &str) -> String {
    stsvend::identity::UserId::derive(&auth0_issuer(), &format!("{tag}-carol")).to_string()
}

#[tokio::test]
async fn logging_out_drops_the_users_keys_and_the_next_user_on_the_page_sees_only_their_files() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let app = app_for_browser(&port).await;
    let (alice, bob) = (unique_sub("logout-alice"), unique_sub("logout-bob"));
    assert_eq!(put(&vend_as(&app, &alice).await, "alice-only.txt").await, "ok");
    assert_eq!(put(&vend_as(&app, &bob).await, "bob-only.txt").await, "ok");

    std::fs::create_dir_all(OUT_DIR).unwrap();
    let _web = serve_web(&port, &app.base).await;
    let result = scenario(
        "logout.mjs",
        &port,
        &[
            ("API", &app.base),
            ("ALICE_SUB", &alice),
            ("BOB_SUB", &bob),
            ("ALICE_FILE", "alice-only.txt"),
            ("BOB_FILE", "bob-only.txt"),
        ],
    )
    .await;
    assert_eq!(result["consoleLinks"], 0, "{result}");
    assert_eq!(
        result["adminAnswers"]["GET /users"], "403 insufficient_scope",
        "{result}"
    );
    assert_eq!(result["afterLogout"]["tokenInStorage"], false, "{result}");
    assert_eq!(result["bob"]["files"], serde_json::json!(["bob-only.txt"]), "{result}");
    // Bob's page used Bob's bucket.
    let bob_bucket = vend_as(&app, &bob).await.bucket;
    assert_eq!(result["bob"]["bucket"], bob_bucket.as_str());
}
