//! The local Auth0 stand-in (node oidc-provider, started by scripts/test.sh): its issuer, a
//! service that trusts it, and Auth0-shaped tokens fetched from it over OAuth.

use serde_json::Value;

use super::*;

pub fn auth0_issuer() -> String {
    required_env("AUTH0_ISSUER")
}

/// A service whose issuer is the stand-in.
pub async fn app_on_auth0() -> TestApp {
    TestApp::spawn_with(Options::default().set("STSVEND_AUTH__ISSUER", &auth0_issuer())).await
}

/// The access token the stand-in's token endpoint answers to `form`.
pub async fn oauth_token(form: &[(&str, &str)]) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}oauth/token", auth0_issuer()))
        .form(form)
        .send()
        .await
        .expect("the Auth0 stand-in answers");
    let body: Value = resp.json().await.unwrap();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {body}"))
        .to_owned()
}

/// A user access token as the stand-in issues it (Auth0 shape: typ JWT, iss with slash,
/// aud array, scope, permissions, azp), with the permissions its scope names.
pub async fn user_token(sub: &str, scope: &str) -> String {
    user_token_with(sub, scope, None).await
}

/// A user-shaped token with exactly `permissions` (space-separated), whatever the scope.
pub async fn token_with(sub: &str, permissions: &str) -> String {
    user_token_with(sub, "openid read:files write:files", Some(permissions)).await
}

async fn user_token_with(sub: &str, scope: &str, permissions: Option<&str>) -> String {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", "stsvend-test"),
        ("client_secret", "test-secret"),
        ("audience", AUDIENCE),
        ("scope", scope),
        ("test_sub", sub),
    ];
    if let Some(permissions) = permissions {
        form.push(("test_permissions", permissions));
    }
    oauth_token(&form).await
}

/// Keys `app` vends for `sub` with a read-write token from the stand-in.
pub async fn vend_on_auth0(app: &TestApp, sub: &str) -> Vended {
    let resp = app
        .post_credentials(Some(&token_with(sub, "read:files write:files").await), None)
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}
