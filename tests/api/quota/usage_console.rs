//! The operator console's Usage section in Chromium (`web/e2e/console-usage.mjs`): the largest
//! users by bytes, in order, and a reconciliation from the console updating a user's figure.

use reqwest::Method;
use serde_json::json;

use super::usage_support::*;
use crate::support::admin::ADMIN_PERMISSION;
use crate::support::auth0::{auth0_issuer, token_with, vend_on_auth0};
use crate::support::browser::{BROWSER, OUT_DIR, scenario, serve_web};
use crate::support::*;

async fn reconcile(app: &TestApp, token: &str, id: &str) {
    let resp = app
        .http
        .request(
            Method::POST,
            format!("{}/admin/v1/users/{id}/usage/reconcile", app.base),
        )
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_console_lists_the_largest_users_and_reconciles_one() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let origins = format!(r#"["http://127.0.0.1:{port}"]"#);
    let opts = Options::default()
        .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
        .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &origins)
        .set("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", &origins);
    let app = quota_app(Mode::Bucket, opts, None).await;
    let operator_token = token_with("auth0|usage-console-ops", &format!("read:files {ADMIN_PERMISSION}")).await;
    let tag = unique_sub("usage-console");
    let mut ids = Vec::new();
    let mut stale = None;
    for (name, size) in [("small", 100), ("large", 3000), ("middle", 2000)] {
        let sub = format!("{tag}-{name}");
        let v = vend_on_auth0(&app, &sub).await;
        put_sized(&v, "k", size).await;
        let id = stsvend::identity::UserId::derive(&auth0_issuer(), &sub).to_string();
        reconcile(&app, &operator_token, &id).await;
        if name == "small" {
            // Written after its reconciliation: the ledger (no events read here) has 100.
            put_sized(&v, "more", 5000).await;
            stale = Some(id.clone());
        }
        ids.push((id, size));
    }
    let stale = stale.unwrap();

    let _web = serve_web(&port, &app.base).await;
    let result = scenario(
        "console-usage.mjs",
        &port,
        std::path::Path::new(OUT_DIR),
        &[
            ("OPERATOR_SUB", &unique_sub("usage-operator")),
            ("ADMIN_PERMISSION", ADMIN_PERMISSION),
            ("STALE_USER_ID", &stale),
        ],
    )
    .await;

    let by_id = |id: &str| ids.iter().find(|(i, _)| i == id).unwrap().clone();
    let (small, large, middle) = (by_id(&ids[0].0), by_id(&ids[1].0), by_id(&ids[2].0));
    assert_eq!(
        result["usersBefore"],
        json!([[large.0, 3000], [middle.0, 2000], [small.0, 100]]),
        "{result}"
    );
    assert_eq!(result["orgs"], json!([]));
    assert_eq!(result["offShown"], false);
    assert_eq!(
        result["usersAfter"],
        json!([[small.0, 5100], [large.0, 3000], [middle.0, 2000]]),
        "{result}"
    );
    assert!(
        result["status"]
            .as_str()
            .unwrap()
            .contains("drift 5000 bytes, 1 object(s)"),
        "{result}"
    );
}
