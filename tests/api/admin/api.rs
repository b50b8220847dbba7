//! The admin API against `MiniStack`: disable, revoke, delete, access-key lookup, and the audit
//! of every admin action. Revocation is the point: keys vended before it stop working at once,
//! keys vended after it work, and other users are untouched.

use std::time::Duration;

use serde_json::{Value, json};
use stsvend::http::UserPage;
use stsvend::usecase::admin::UserView;

use crate::support::admin::*;
use crate::support::fault_proxy::FaultProxy;
use crate::support::*;

/// A service with the admin API on, and two users (`<tag>-alice`, `<tag>-bob`) with keys.
async fn app_with_alice_and_bob(tag: &str) -> (TestApp, (String, Vended), (String, Vended)) {
    let app = admin_app().await;
    let (alice, bob) = (unique_sub(&format!("{tag}-alice")), unique_sub(&format!("{tag}-bob")));
    let (alice_keys, bob_keys) = (app.vend(&alice, None).await, app.vend(&bob, None).await);
    (app, (alice, alice_keys), (bob, bob_keys))
}

/// The refused actions in an audit page.
fn refused_in(audit: &Value) -> Vec<&Value> {
    audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == "refused")
        .collect()
}

async fn list(v: &Vended) -> String {
    s3_code(&user_s3(v).list_objects_v2().bucket(&v.bucket).send().await)
}

#[tokio::test]
async fn the_admin_api_is_off_unless_a_permission_is_configured() {
    let app = TestApp::spawn().await;
    let (status, body) = admin_call(&app, reqwest::Method::GET, "/users", &admin_token(&app)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin.permission"));
}

/// With RBAC off on an Auth0 API, a client is granted any scope it asks for: a `scope` naming
/// the admin permission proves nothing, only the `permissions` claim does.
#[tokio::test]
async fn a_scope_naming_the_admin_permission_without_the_permissions_claim_is_refused() {
    let app = admin_app().await;
    let mut claims = app.issuer.claims("self-granted@clients");
    claims["gty"] = json!("client-credentials");
    claims["scope"] = json!(ADMIN_PERMISSION);
    claims["permissions"] = json!([]);
    let token = sign(&claims, &signing_key(), KID);
    let (status, body) = admin_call(&app, reqwest::Method::GET, "/users", &token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_scope");
    let (status, _) = admin_call(&app, reqwest::Method::GET, "/users", &admin_token(&app)).await;
    assert_eq!(status, 200, "the permissions claim still works");
}

#[tokio::test]
async fn callers_without_the_permission_are_refused_and_audited() {
    let app = admin_app().await;
    let user_token = app.issuer.token(&unique_sub("not-admin"));
    let (status, body) = admin_call(&app, reqwest::Method::GET, "/users", &user_token).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "insufficient_scope");
    let (status, _) = admin_call(&app, reqwest::Method::GET, "/users", "not-a-token").await;
    assert_eq!(status, 401);

    let audit = admin_ok(&app, reqwest::Method::GET, "/audit").await;
    let refused = refused_in(&audit);
    assert_eq!(refused.len(), 1, "{audit}");
    assert!(refused[0]["actor"].as_str().unwrap().starts_with("auth0|not-admin"));
}

/// `auth.required_claims` binds the admin API too: with `org_id = "org_A"` required, an admin
/// of another Auth0 organisation (or of none) holding the permission is refused 403
/// `required_claim_missing` and audited; the issuer and audience rules hold there as well.
#[tokio::test]
async fn an_admin_of_another_organisation_is_refused() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_AUTH__REQUIRED_CLAIMS__ORG_ID", "org_A"),
    )
    .await;
    let admin_of = |org: Option<&str>, aud: Option<&str>| {
        let mut claims = app.issuer.claims("ops-tooling@clients");
        claims["gty"] = json!("client-credentials");
        claims["permissions"] = json!([ADMIN_PERMISSION]);
        if let Some(org) = org {
            claims["org_id"] = json!(org);
        }
        if let Some(aud) = aud {
            claims["aud"] = json!(aud);
        }
        sign(&claims, &signing_key(), KID)
    };
    for (name, org) in [("another organisation", Some("org_B")), ("no organisation", None)] {
        let (status, body) = admin_call(&app, reqwest::Method::GET, "/users", &admin_of(org, None)).await;
        assert_eq!(status, 403, "{name}: {body}");
        assert_eq!(body["error"]["code"], "required_claim_missing", "{name}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("org_id"),
            "{name}: {body}"
        );
    }
    let (status, body) = admin_call(
        &app,
        reqwest::Method::GET,
        "/users",
        &admin_of(Some("org_A"), Some("https://other.example/api")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_audience"))
    );

    let org_a = admin_of(Some("org_A"), None);
    let (status, body) = admin_call(&app, reqwest::Method::GET, "/users", &org_a).await;
    assert_eq!(status, 200, "the organisation's own admin gets in: {body}");
    let (_, audit) = admin_call(&app, reqwest::Method::GET, "/audit", &org_a).await;
    let refused = refused_in(&audit);
    assert_eq!(refused.len(), 2, "both refusals are audited: {audit}");
    assert!(
        refused.iter().all(|a| a["detail"].as_str().unwrap().contains("org_id")),
        "{audit}"
    );
}

#[tokio::test]
async fn users_are_listed_searched_and_shown() {
    let (app, (alice, a), _) = app_with_alice_and_bob("list").await;

    let page: UserPage = serde_json::from_value(admin_ok(&app, reqwest::Method::GET, "/users").await).unwrap();
    assert_eq!(page.users.len(), 2);
    let found: UserPage =
        serde_json::from_value(admin_ok(&app, reqwest::Method::GET, &format!("/users?search={}", &alice[6..])).await)
            .unwrap();
    assert_eq!(found.users.len(), 1);
    assert_eq!(found.users[0].subject, alice);

    // One per page: the cursor leads to the second user and then ends.
    let first: UserPage = serde_json::from_value(admin_ok(&app, reqwest::Method::GET, "/users?limit=1").await).unwrap();
    let after = first.next_after.expect("a full page has a cursor");
    let second: UserPage =
        serde_json::from_value(admin_ok(&app, reqwest::Method::GET, &format!("/users?limit=1&after={after}")).await)
            .unwrap();
    assert_eq!(second.users.len(), 1);
    assert_ne!(second.users[0].user_id, first.users[0].user_id);

    let shown: UserView = serde_json::from_value(
        admin_ok(
            &app,
            reqwest::Method::GET,
            &format!("/users/{}", user_id_of(&app, &alice)),
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        (shown.bucket.as_str(), shown.state.as_str()),
        (a.bucket.as_str(), "ready")
    );
    assert!(shown.last_vend_at.is_some() && shown.disabled_at.is_none());

    let (status, body) = admin_call(&app, reqwest::Method::GET, "/users/not-an-id", &admin_token(&app)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_user_id")));
    let nobody = user_id_of(&app, "auth0|nobody");
    let (status, _) = admin_call(
        &app,
        reqwest::Method::GET,
        &format!("/users/{nobody}"),
        &admin_token(&app),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_disabled_user_gets_403_and_other_users_are_untouched() {
    let (app, (alice, before), (bob, _)) = app_with_alice_and_bob("dis").await;
    let id = user_id_of(&app, &alice);

    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/disable")).await;
    assert_eq!(shown["state"], "disabled");
    let resp = app.post_credentials(Some(&app.issuer.token(&alice)), None).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "user_disabled");
    let me = app.me(&alice).await;
    assert_eq!(me["state"], "disabled", "{me}");
    app.vend(&bob, None).await;

    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/enable")).await;
    assert_eq!(shown["state"], "ready");
    let after = app.vend(&alice, None).await;
    assert_ne!(
        after.access_key_id, before.access_key_id,
        "cached keys were dropped on disable"
    );
}

#[tokio::test]
async fn revoking_denies_keys_vended_before_it_and_only_those() {
    let (app, (alice, old), (_, bob_keys)) = app_with_alice_and_bob("rev").await;
    assert_eq!(put(&old, "before.txt").await, "ok");

    // A statement already on the bucket survives the revocation.
    let theirs = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OperatorsOwn", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
        "Resource": format!("arn:aws:s3:::{}", old.bucket)
    }]});
    service_s3()
        .put_bucket_policy()
        .bucket(&old.bucket)
        .policy(theirs.to_string())
        .send()
        .await
        .unwrap();

    let id = user_id_of(&app, &alice);
    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    assert!(shown["sessions_revoked_before"].is_string(), "{shown}");

    assert_eq!(put(&old, "after.txt").await, "AccessDenied");
    assert_eq!(list(&old).await, "AccessDenied");
    let get = user_s3(&old)
        .get_object()
        .bucket(&old.bucket)
        .key("before.txt")
        .send()
        .await;
    assert_eq!(s3_code(&get), "AccessDenied");

    let new = app.vend(&alice, None).await;
    assert_ne!(new.access_key_id, old.access_key_id, "the cached keys were dropped");
    assert_eq!(put(&new, "after.txt").await, "ok");
    assert_eq!(list(&new).await, "ok");
    assert_eq!(put(&bob_keys, "bob.txt").await, "ok", "other users are untouched");

    let policy = service_s3()
        .get_bucket_policy()
        .bucket(&old.bucket)
        .send()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let sids: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(sids, ["OperatorsOwn", "StsvendRevokeSessions"]);

    // Revoking again moves the cut-off: the keys from in between are denied too.
    admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    assert_eq!(put(&new, "again.txt").await, "AccessDenied");
    assert_eq!(put(&app.vend(&alice, None).await, "again.txt").await, "ok");
}

#[tokio::test]
async fn an_access_key_leads_back_to_its_user() {
    let app = admin_app().await;
    let alice = unique_sub("key-alice");
    let v = app.vend(&alice, None).await;
    assert_eq!(app.vend(&alice, None).await.access_key_id, v.access_key_id);
    let body = admin_ok(&app, reqwest::Method::GET, &format!("/access-keys/{}", v.access_key_id)).await;
    let first = &body["vends"][0];
    assert_eq!(body["vends"].as_array().unwrap().len(), 1, "one party: {body}");
    assert_eq!(first["hand_outs"], 2, "the repeat hand-out is counted at once: {body}");
    assert_eq!(first["user_id"], user_id_of(&app, &alice));
    assert_eq!(first["subject"], alice.as_str());
    assert_eq!(first["bucket"], v.bucket.as_str());

    let (status, _) = admin_call(
        &app,
        reqwest::Method::GET,
        "/access-keys/ASIANEVERVENDED0001",
        &admin_token(&app),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = admin_call(
        &app,
        reqwest::Method::GET,
        "/access-keys/not%20a%20key",
        &admin_token(&app),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_access_key_id"))
    );
}

/// AWS compares the cut-off with `aws:TokenIssueTime`, stamped by its own clock: the cut-off is
/// taken from AWS's clock (the `Date` of an S3 answer), not from the host's. Here AWS's clock
/// runs 40 s ahead of ours; a cut-off from our clock would let sessions AWS issued in those
/// 40 s through.
#[tokio::test]
async fn the_revocation_cut_off_follows_the_aws_clock() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    let app = admin_app_behind(&proxy, &[]).await;
    let alice = unique_sub("rev-clock");
    app.vend(&alice, None).await;
    proxy.shift_date(40);
    let id = user_id_of(&app, &alice);
    let ours = time::OffsetDateTime::now_utc();
    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    let cut_off = time::OffsetDateTime::parse(
        shown["sessions_revoked_before"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ahead = (cut_off - ours).whole_seconds();
    assert!(
        (39..=43).contains(&ahead),
        "cut-off {cut_off} is {ahead} s after our clock, want about 41"
    );
}

/// AWS applies a new bucket policy after a delay. `revoke` answers once a session issued
/// before the cut-off is refused on the bucket (here the policy takes 2 s to apply), so "200"
/// means the old keys no longer work.
#[tokio::test]
async fn revoke_answers_once_the_bucket_policy_has_taken_effect() {
    let (_proxy, _app, old, (status, body)) = revoke_with_a_slow_policy(&[], Duration::from_secs(2)).await;
    assert_eq!(
        (status, body["revocation"].as_str()),
        (200, Some("in_effect")),
        "{body}"
    );
    assert_eq!(put(&old, "after.txt").await, "AccessDenied");
}

/// When the policy has not applied within `admin.revoke_wait_seconds`, `revoke` answers 202
/// and says so; the Deny applies later all the same.
#[tokio::test]
async fn revoke_answers_202_while_the_bucket_policy_is_still_propagating() {
    let (_proxy, _app, old, (status, body)) =
        revoke_with_a_slow_policy(&[("STSVEND_ADMIN__REVOKE_WAIT_SECONDS", "1")], Duration::from_secs(4)).await;
    assert_eq!(
        (status, body["revocation"].as_str()),
        (202, Some("propagating")),
        "{body}"
    );
    assert!(body["sessions_revoked_before"].is_string(), "{body}");
    assert_eq!(put(&old, "meanwhile.txt").await, "ok", "the old policy still holds");
    wait_until(Duration::from_secs(15), "the Deny applies", async || {
        put(&old, "later.txt").await != "ok"
    })
    .await;
}

/// Revokes a user with keys (which have written `before.txt`) through a service whose
/// `PutBucketPolicy` takes `delay` to apply, with `extra` settings: the old keys and the answer.
async fn revoke_with_a_slow_policy(
    extra: &[(&str, &str)],
    delay: Duration,
) -> (FaultProxy, TestApp, Vended, (u16, Value)) {
    let proxy = FaultProxy::start().await;
    let app = admin_app_behind(&proxy, extra).await;
    let alice = unique_sub("rev-slow");
    let old = app.vend(&alice, None).await;
    assert_eq!(put(&old, "before.txt").await, "ok");
    proxy.delay_bucket_policy(delay);
    let id = user_id_of(&app, &alice);
    let answer = admin_call(
        &app,
        reqwest::Method::POST,
        &format!("/users/{id}/revoke"),
        &admin_token(&app),
    )
    .await;
    (proxy, app, old, answer)
}
