//! Revoking an organisation's sessions, against `MiniStack`'s enforcement of bucket-policy
//! conditions (`aws:PrincipalTag`, `aws:TokenIssueTime`), in both storage modes: an org revoke
//! denies every member's old keys on the org's storage while they still reach the member's own,
//! and keys vended after it work; a member revoke ends only that member's org access.

use reqwest::Method;

use super::admin::{Mode, audited_on, org_admin_app, org_id_of};
use super::*;
use crate::support::admin::{admin_call, admin_token, put, user_id_of};

/// Puts `key` into the org storage the keys reach (under the org's prefix in prefix mode).
pub async fn put_team(v: &Vended, key: &str) -> String {
    let r = user_s3(v)
        .put_object()
        .bucket(v.org_bucket.as_deref().expect("OrgBucket"))
        .key(format!("{}{key}", v.org_prefix.as_deref().unwrap_or_default()))
        .body(b"x".to_vec().into())
        .send()
        .await;
    s3_code(&r)
}

/// Lists the org storage the keys reach.
async fn list_team(v: &Vended) -> String {
    let prefix = v.org_prefix.clone().unwrap_or_default();
    let r = user_s3(v)
        .list_objects_v2()
        .bucket(v.org_bucket.as_deref().expect("OrgBucket"))
        .set_prefix((!prefix.is_empty()).then_some(prefix))
        .send()
        .await;
    s3_code(&r)
}

/// A revoke through the admin API: 200 once AWS refuses an old session (`in_effect`).
async fn revoke(app: &TestApp, path: &str) -> serde_json::Value {
    let (status, body) = admin_call(app, Method::POST, path, &admin_token(app)).await;
    assert_eq!(
        (status, body["revocation"].as_str()),
        (200, Some("in_effect")),
        "{path}: {body}"
    );
    body
}

async fn an_org_revoke_ends_every_members_old_org_access(mode: Mode) {
    let app = org_admin_app(mode).await;
    let org = new_org();
    let (ta, tb) = (
        writer(&app, &unique_sub("alice"), &org),
        writer(&app, &unique_sub("bob"), &org),
    );
    let (old_a, old_b) = (vended(&app, &ta, TEAM_RW).await, vended(&app, &tb, TEAM_RW).await);
    assert_eq!(put_team(&old_a, "before.txt").await, "ok");
    let id = org_id_of(&app, &ta).await;

    let shown = revoke(&app, &format!("/orgs/{id}/revoke")).await;
    assert!(shown["sessions_revoked_before"].is_string(), "{shown}");
    for old in [&old_a, &old_b] {
        assert_eq!(
            put_team(old, "after.txt").await,
            "AccessDenied",
            "old keys on org storage"
        );
        assert_eq!(list_team(old).await, "AccessDenied");
        assert_eq!(
            put(old, "mine.txt").await,
            "ok",
            "old keys still reach the member's own storage"
        );
    }
    for t in [&ta, &tb] {
        let fresh = vended(&app, t, TEAM_RW).await;
        assert_ne!(fresh.access_key_id, old_a.access_key_id);
        assert_ne!(fresh.access_key_id, old_b.access_key_id);
        assert_eq!(
            put_team(&fresh, "after.txt").await,
            "ok",
            "keys vended after the revoke work"
        );
    }
    assert_eq!(
        audited_on(&app, &id).await,
        [("orgs.revoke".to_owned(), "ok".to_owned())]
    );
}

#[tokio::test]
async fn an_org_revoke_denies_old_keys_on_the_org_bucket_only_and_new_keys_work() {
    an_org_revoke_ends_every_members_old_org_access(Mode::Bucket).await;
}

#[tokio::test]
async fn an_org_revoke_denies_old_keys_on_the_org_prefix_only_and_new_keys_work() {
    an_org_revoke_ends_every_members_old_org_access(Mode::Prefix).await;
}

async fn a_member_revoke_ends_only_that_members_org_access(mode: Mode) {
    let app = org_admin_app(mode).await;
    let org = new_org();
    let (alice, bob) = (unique_sub("alice"), unique_sub("bob"));
    let (ta, tb) = (writer(&app, &alice, &org), writer(&app, &bob, &org));
    let (old_a, old_b) = (vended(&app, &ta, TEAM_RW).await, vended(&app, &tb, TEAM_RW).await);
    let id = org_id_of(&app, &ta).await;
    let alice_id = user_id_of(&app, &alice);

    let shown = revoke(&app, &format!("/orgs/{id}/members/{alice_id}/revoke")).await;
    assert_eq!(shown["members_revoked"][0]["user_id"], alice_id.as_str(), "{shown}");
    assert!(
        shown["sessions_revoked_before"].is_null(),
        "the org's own cut-off is not moved"
    );
    assert_eq!(
        put_team(&old_a, "after.txt").await,
        "AccessDenied",
        "the member's old keys"
    );
    assert_eq!(put(&old_a, "mine.txt").await, "ok", "still reach their own storage");
    assert_eq!(
        put_team(&old_b, "after.txt").await,
        "ok",
        "another member is unaffected"
    );
    let fresh = vended(&app, &ta, TEAM_RW).await;
    assert_ne!(fresh.access_key_id, old_a.access_key_id);
    assert_eq!(put_team(&fresh, "again.txt").await, "ok", "the member's new keys work");
    let audit = crate::support::admin::admin_ok(&app, Method::GET, &format!("/audit?target={id}")).await;
    let row = &audit["actions"][0];
    assert_eq!(
        (row["action"].as_str(), row["outcome"].as_str()),
        (Some("orgs.revoke_member"), Some("ok"))
    );
    assert!(
        row["detail"].as_str().unwrap().contains(&alice_id),
        "the row names the member: {row}"
    );
}

#[tokio::test]
async fn a_member_revoke_denies_only_that_members_old_keys_on_the_org_bucket() {
    a_member_revoke_ends_only_that_members_org_access(Mode::Bucket).await;
}

#[tokio::test]
async fn a_member_revoke_denies_only_that_members_old_keys_on_the_org_prefix() {
    a_member_revoke_ends_only_that_members_org_access(Mode::Prefix).await;
}

#[tokio::test]
async fn revoking_an_unknown_org_or_a_malformed_member_is_refused() {
    let app = org_admin_app(Mode::Bucket).await;
    let missing = format!("o{}", "a".repeat(26));
    let (status, body) = admin_call(
        &app,
        Method::POST,
        &format!("/orgs/{missing}/revoke"),
        &admin_token(&app),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let t = writer(&app, &unique_sub("alice"), &new_org());
    vended(&app, &t, TEAM_RW).await;
    let id = org_id_of(&app, &t).await;
    let (status, body) = admin_call(
        &app,
        Method::POST,
        &format!("/orgs/{id}/members/nope/revoke"),
        &admin_token(&app),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_user_id")),
        "{body}"
    );
}
