//! The admin API as the web app's operator console calls it: cross-origin from the app's
//! origin, with a user's token. Only a token carrying the admin permission gets anything; every
//! other one gets 403 on every route, with CORS headers so the page can read why.

use reqwest::Method;
use serde_json::Value;

use crate::support::admin::{ADMIN_PERMISSION, admin_token, user_id_of};
use crate::support::*;

const APP_ORIGIN: &str = "http://127.0.0.1:5173";

/// Every admin route, with a well-formed user id or key in its path.
fn routes(user_id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/users".to_owned()),
        (Method::GET, "/users?search=alice&limit=5".to_owned()),
        (Method::GET, format!("/users/{user_id}")),
        (Method::POST, format!("/users/{user_id}/disable")),
        (Method::POST, format!("/users/{user_id}/enable")),
        (Method::POST, format!("/users/{user_id}/revoke")),
        (Method::DELETE, format!("/users/{user_id}")),
        (Method::DELETE, format!("/users/{user_id}?force=true")),
        (Method::GET, "/access-keys/ASIAAAAAAAAAAAAAAAAA".to_owned()),
        (Method::GET, "/audit".to_owned()),
        (Method::GET, format!("/audit?target={user_id}&limit=10")),
    ]
}

async fn app() -> TestApp {
    TestApp::spawn_with(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &format!(r#"["{APP_ORIGIN}"]"#)),
    )
    .await
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::Response {
    app.http
        .request(method, format!("{}/admin/v1{path}", app.base))
        .header("Origin", APP_ORIGIN)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_admin_route_answers_403_to_a_user_token_without_the_admin_permission() {
    let app = app().await;
    let sub = unique_sub("not-an-operator");
    let victim = app.vend(&sub, None).await;
    let user_id = user_id_of(&app, &sub);
    // A user token with the file permissions, as the web app holds after a login.
    let token = app.issuer.token(&sub);
    for (method, path) in routes(&user_id) {
        let resp = call(&app, method.clone(), &path, &token).await;
        assert_eq!(resp.status(), 403, "{method} {path}");
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            APP_ORIGIN,
            "{method} {path}: the page could not read the refusal"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "insufficient_scope", "{method} {path}: {body}");
    }
    // Nothing happened to the user, and each refusal is in the audit.
    assert_eq!(crate::support::admin::put(&victim, "still-mine.txt").await, "ok");
    let resp = call(&app, Method::GET, "/audit?limit=500", &admin_token(&app)).await;
    assert_eq!(resp.status(), 200);
    let audit: Value = resp.json().await.unwrap();
    let refused = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == "refused" && a["actor"] == sub.as_str())
        .count();
    assert_eq!(refused, routes(&user_id).len(), "{audit}");
}

#[tokio::test]
async fn the_console_origin_may_call_the_admin_api_with_an_operator_token() {
    let app = app().await;
    let sub = unique_sub("console-cors");
    app.vend(&sub, None).await;
    let user_id = user_id_of(&app, &sub);
    for (method, path) in [
        (Method::GET, "/users".to_owned()),
        (Method::POST, format!("/users/{user_id}/disable")),
        (Method::DELETE, format!("/users/{user_id}")),
    ] {
        let pre = app
            .http
            .request(Method::OPTIONS, format!("{}/admin/v1{path}", app.base))
            .header("Origin", APP_ORIGIN)
            .header("Access-Control-Request-Method", method.as_str())
            .header("Access-Control-Request-Headers", "authorization")
            .send()
            .await
            .unwrap();
        assert!(pre.status().is_success(), "preflight {method} {path}: {}", pre.status());
        assert_eq!(pre.headers()["access-control-allow-origin"], APP_ORIGIN);
        let methods = pre.headers()["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains(method.as_str()), "{methods}");
    }
    let resp = call(&app, Method::GET, &format!("/users/{user_id}"), &admin_token(&app)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], APP_ORIGIN);
    let user: Value = resp.json().await.unwrap();
    assert_eq!(user["subject"], sub.as_str());
    assert!(
        user["last_vend_at"].is_string(),
        "the detail shows the last vend: {user}"
    );

    // Another origin gets no CORS header: its pages cannot read the answer.
    let other = app
        .http
        .get(format!("{}/admin/v1/users", app.base))
        .header("Origin", "https://evil.example")
        .bearer_auth(admin_token(&app))
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
