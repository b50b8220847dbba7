//! `POST /v1/presign` as tests call it, and plain HTTP on the URLs it signs.

use serde_json::{Value, json};

use super::TestApp;

/// `POST path` with `sub`'s token and `body`: (status, JSON body).
pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A URL for `method` on `key`, failing the test unless stsvend signs it.
pub async fn url_for(app: &TestApp, sub: &str, method: &str, key: &str) -> String {
    let (status, body) = post(
        app,
        "/v1/presign",
        &app.issuer.token(sub),
        json!({"method": method, "key": key}),
    )
    .await;
    assert_eq!(status, 200, "presign {method} {key:?}: {body}");
    body["url"].as_str().unwrap().to_owned()
}

/// Puts `bytes` at `key` in `sub`'s storage through a URL.
pub async fn put(app: &TestApp, sub: &str, key: &str, bytes: Vec<u8>) {
    let url = url_for(app, sub, "PUT", key).await;
    let resp = reqwest::Client::new().put(url).body(bytes).send().await.unwrap();
    assert_eq!(resp.status(), 200, "PUT {key:?}: {}", resp.text().await.unwrap());
}

/// (status, body) of a plain GET of `url`.
pub async fn get(url: &str) -> (u16, Vec<u8>) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}
