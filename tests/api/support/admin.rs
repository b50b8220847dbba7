//! The admin API as tests call it: a service with it on, the operator's token, calls by path,
//! and the user a test vends for as the admin API names them.

use serde_json::{Value, json};

use super::fault_proxy::FaultProxy;
use super::*;

pub const ADMIN_PERMISSION: &str = "admin:users";

pub async fn admin_app() -> TestApp {
    TestApp::spawn_with(Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)).await
}

/// An app with the admin API on, reaching AWS through `proxy`, with `extra` settings.
pub async fn admin_app_behind(proxy: &FaultProxy, extra: &[(&str, &str)]) -> TestApp {
    let mut opts = Options::default()
        .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
        .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url);
    for (k, v) in extra {
        opts = opts.set(k, v);
    }
    TestApp::spawn_with(opts).await
}

/// A machine (client-credentials) token with the admin permission, as ops tooling has.
pub fn admin_token(app: &TestApp) -> String {
    admin_token_of(&app.issuer)
}

/// [`admin_token`] from `issuer`, for replicas run as processes.
pub fn admin_token_of(issuer: &TestIssuer) -> String {
    let mut claims = issuer.claims("ops-tooling@clients");
    claims["gty"] = json!("client-credentials");
    claims["azp"] = json!("ops-tooling");
    claims["scope"] = json!(ADMIN_PERMISSION);
    claims["permissions"] = json!([ADMIN_PERMISSION]);
    sign(&claims, &signing_key(), KID)
}

pub async fn admin_call(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let resp = app
        .http
        .request(method, format!("{}/admin/v1{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn admin_ok(app: &TestApp, method: reqwest::Method, path: &str) -> Value {
    let (status, body) = admin_call(app, method, path, &admin_token(app)).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

pub fn user_id_of(app: &TestApp, sub: &str) -> String {
    stsvend::identity::UserId::derive(&app.issuer.issuer, sub).to_string()
}

/// Puts `key` into the vended keys' storage (under their prefix, in prefix mode).
pub async fn put(v: &Vended, key: &str) -> String {
    let r = user_s3(v)
        .put_object()
        .bucket(&v.bucket)
        .key(format!("{}{key}", v.prefix))
        .body(b"x".to_vec().into())
        .send()
        .await;
    s3_code(&r)
}

/// A service in prefix mode (on a shared bucket of its own) with the admin API on.
pub async fn prefix_admin_app() -> (TestApp, String) {
    TestApp::spawn_prefix(Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)).await
}

/// The shared bucket's policy, as the service account reads it (`None` without one).
pub async fn shared_policy(shared: &str) -> Option<Value> {
    let out = service_s3().get_bucket_policy().bucket(shared).send().await.ok()?;
    Some(serde_json::from_str(out.policy().unwrap()).unwrap())
}

/// stsvend's revocation statements (`StsvendRevokeAt...`) in `policy`.
pub fn revoke_statements(policy: &Value) -> Vec<Value> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Sid"].as_str().is_some_and(|sid| sid.starts_with("StsvendRevokeAt")))
        .cloned()
        .collect()
}

/// stsvend's revocation statements in `shared`'s policy (none without a policy).
pub async fn revocations_in(shared: &str) -> Vec<Value> {
    shared_policy(shared)
        .await
        .map(|p| revoke_statements(&p))
        .unwrap_or_default()
}
