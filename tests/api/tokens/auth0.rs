//! Against the local Auth0 stand-in (node oidc-provider, started by scripts/test.sh): real
//! Auth0-shaped tokens, fetched over OAuth and verified through OIDC discovery and its JWKS.

use serde_json::Value;

use crate::support::auth0::{app_on_auth0, oauth_token, user_token};
use crate::support::*;

#[tokio::test]
async fn tokens_from_the_identity_provider_vend_isolated_keys() {
    let app = app_on_auth0().await;
    let alice_token = user_token(&unique_sub("alice"), "openid profile read:files write:files").await;
    let bob_token = user_token(&unique_sub("bob"), "read:files write:files").await;
    let mut vended = Vec::new();
    for token in [&alice_token, &bob_token] {
        let resp = app.post_credentials(Some(token), None).await;
        assert_eq!(resp.status(), 200);
        vended.push(resp.json::<Vended>().await.unwrap());
    }
    let (alice, bob) = (&vended[0], &vended[1]);
    let s3 = user_s3(alice);
    let own = s3
        .put_object()
        .bucket(&alice.bucket)
        .key("a.txt")
        .body(b"hi".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&own), "ok");
    let other = s3
        .put_object()
        .bucket(&bob.bucket)
        .key("a.txt")
        .body(b"hi".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&other), "AccessDenied");
    assert_eq!(
        s3_code(&s3.list_objects_v2().bucket(&bob.bucket).send().await),
        "AccessDenied"
    );
}

#[tokio::test]
async fn a_machine_to_machine_token_from_the_identity_provider_is_refused() {
    let app = app_on_auth0().await;
    let token = oauth_token(&[
        ("grant_type", "client_credentials"),
        ("client_id", "stsvend-m2m"),
        ("client_secret", "m2m-secret"),
        ("audience", AUDIENCE),
        ("scope", "read:files write:files"),
    ])
    .await;
    let resp = app.post_credentials(Some(&token), None).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "client_credentials_refused");
    assert_eq!(app.users_in_db().await, 0);
}

#[tokio::test]
async fn a_user_token_with_read_permission_only_gets_read_only_keys() {
    let app = app_on_auth0().await;
    let token = user_token(&unique_sub("reader"), "openid read:files").await;
    let denied = app.post_credentials(Some(&token), None).await;
    assert_eq!(denied.status(), 403);
    let ok = app
        .post_credentials(Some(&token), Some(serde_json::json!({"access": "read-only"})))
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Vended>().await.unwrap().access, "read-only");
}
