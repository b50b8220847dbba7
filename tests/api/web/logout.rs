//! Logging out of the web app in Chromium (`web/e2e/logout.mjs`, playwright-core): the user's
//! token and keys leave the page, and the next user on the same tab sees only their own files.
//! A page without the admin permission offers no console, and the admin API refuses it.

use std::path::Path;

use crate::support::admin::put;
use crate::support::auth0::vend_on_auth0;
use crate::support::browser::{BROWSER, OUT_DIR, app_for_browser, scenario, serve_web};
use crate::support::*;

#[tokio::test]
async fn logging_out_drops_the_users_keys_and_the_next_user_on_the_page_sees_only_their_files() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let app = app_for_browser(&port).await;
    let (alice, bob) = (unique_sub("logout-alice"), unique_sub("logout-bob"));
    assert_eq!(put(&vend_on_auth0(&app, &alice).await, "alice-only.txt").await, "ok");
    assert_eq!(put(&vend_on_auth0(&app, &bob).await, "bob-only.txt").await, "ok");

    let _web = serve_web(&port, &app.base).await;
    let result = scenario(
        "logout.mjs",
        &port,
        Path::new(OUT_DIR),
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
    let bob_bucket = vend_on_auth0(&app, &bob).await.bucket;
    assert_eq!(result["bob"]["bucket"], bob_bucket.as_str());
}
