//! The cut of live write sessions (`usecase::quota::deny`), against `MiniStack`'s enforcement of
//! bucket-policy conditions (`aws:PrincipalTag`), in both storage modes: after a sync naming an
//! owner, keys vended to them before it can no longer write (PUT, multipart) but still read,
//! list and delete; everybody else writes; a sync without them gives their writes back. An org
//! and its members are cut apart, and a revocation in the same policy holds beside the Deny.

use std::time::{Duration, Instant};

use reqwest::Method;
use stsvend::identity::{BucketName, OrgId, Owner, UserId};
use stsvend::usecase::quota::deny::Synced;

use crate::orgs::{TEAM_RW, new_org, vended, with_orgs, writer};
use crate::support::admin::{ADMIN_PERMISSION, admin_call, admin_token, put, user_id_of};
use crate::support::*;

/// The bound the README states between a sync returning and its Deny refusing a write here
/// (`MiniStack` applies a policy at once; AWS takes seconds, see README "Quotas").
pub const DENY_SEEN_WITHIN: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Bucket,
    Prefix,
}

/// A service with `[orgs]` and the admin API on, in `mode`.
pub async fn quota_app(mode: Mode) -> TestApp {
    let opts = with_orgs(Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION));
    match mode {
        Mode::Bucket => TestApp::spawn_with(opts).await,
        Mode::Prefix => TestApp::spawn_prefix(opts).await.0,
    }
}

pub fn user(app: &TestApp, sub: &str) -> Owner {
    Owner::User(UserId::derive(&app.issuer.issuer, sub))
}

/// The org `token`'s holder belongs to, once it has a row.
pub async fn org_of(app: &TestApp, token: &str) -> Owner {
    let me = app.me_with(token).await;
    Owner::Org(OrgId::parse(me["org"]["org_id"].as_str().unwrap()).unwrap())
}

/// `QuotaDeny::sync` as the service runs it.
pub async fn sync(app: &TestApp, bucket: &str, over: &[Owner]) -> Synced {
    app.state
        .quota_deny
        .sync(&BucketName::parse(bucket).unwrap(), over)
        .await
        .unwrap_or_else(|e| panic!("sync of {bucket}: {e}"))
}

/// Puts `key` into the org storage the team keys reach.
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

/// Waits until the keys' PUT of `key` is refused; how long that took.
pub async fn denied_within(v: &Vended, key: &str) -> Duration {
    let started = Instant::now();
    wait_until(DENY_SEEN_WITHIN, "the Deny refusing a PUT", async || {
        put(v, key).await == "AccessDenied"
    })
    .await;
    started.elapsed()
}

/// The value of the integer series named (with its labels) `series`.
pub async fn series(app: &TestApp, series: &str) -> Option<u64> {
    let text = app.metrics_text().await;
    let line = text.lines().find(|l| l.starts_with(&format!("{series} ")))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// The current value of `stsvend_quota_denied_owners`.
async fn denied_gauge(app: &TestApp) -> Option<u64> {
    series(app, "stsvend_quota_denied_owners").await
}

/// The `Sid`s in `bucket`'s policy (none without one).
pub async fn sids(bucket: &str) -> Vec<String> {
    let Ok(out) = service_s3().get_bucket_policy().bucket(bucket).send().await else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(out.policy().unwrap()).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn an_over_users_old_keys_lose_writes_only(mode: Mode) {
    let app = quota_app(mode).await;
    let (a, b) = (unique_sub("a"), unique_sub("b"));
    let (old_a, old_b) = (app.vend(&a, None).await, app.vend(&b, None).await);
    let s3 = user_s3(&old_a);
    let key = |k: &str| format!("{}{k}", old_a.prefix);
    assert_eq!(put(&old_a, "kept.txt").await, "ok");
    let upload = s3
        .create_multipart_upload()
        .bucket(&old_a.bucket)
        .key(key("big.bin"))
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();

    let synced = sync(&app, &old_a.bucket, &[user(&app, &a)]).await;
    assert_eq!(
        (synced.denied.len(), synced.left_out.len(), synced.written),
        (1, 0, true)
    );
    let took = denied_within(&old_a, "after.txt").await;
    println!("quota Deny ({mode:?} mode) refused a write {took:?} after sync returned");
    let started = s3
        .create_multipart_upload()
        .bucket(&old_a.bucket)
        .key(key("new.bin"))
        .send()
        .await;
    assert_eq!(s3_code(&started), "AccessDenied", "a new multipart upload");
    let part = s3
        .upload_part()
        .bucket(&old_a.bucket)
        .key(key("big.bin"))
        .upload_id(upload_id)
        .part_number(1)
        .body(vec![7u8; 1024].into())
        .send()
        .await;
    assert_eq!(s3_code(&part), "AccessDenied", "a part of an upload begun before");
    let get = s3.get_object().bucket(&old_a.bucket).key(key("kept.txt")).send().await;
    assert_eq!(s3_code(&get), "ok", "reads still work");
    let listed = s3
        .list_objects_v2()
        .bucket(&old_a.bucket)
        .set_prefix((!old_a.prefix.is_empty()).then(|| old_a.prefix.clone()))
        .send()
        .await;
    assert_eq!(s3_code(&listed), "ok", "listing still works");
    let aborted = s3
        .abort_multipart_upload()
        .bucket(&old_a.bucket)
        .key(key("big.bin"))
        .upload_id(upload_id)
        .send()
        .await;
    assert_eq!(s3_code(&aborted), "ok", "an upload can still be abandoned");
    let deleted = s3
        .delete_object()
        .bucket(&old_a.bucket)
        .key(key("kept.txt"))
        .send()
        .await;
    assert_eq!(s3_code(&deleted), "ok", "deletes still work, to free space");
    assert_eq!(put(&old_b, "b.txt").await, "ok", "another user writes");
    // Another bucket's sync naming a leaves b's storage alone (a's storage is not in it).
    let theirs = sync(&app, &old_b.bucket, &[user(&app, &a)]).await;
    assert_eq!(put(&old_b, "b2.txt").await, "ok");
    if matches!(mode, Mode::Bucket) {
        assert!(theirs.denied.is_empty() && !theirs.written, "{theirs:?}");
    }
    assert_eq!(denied_gauge(&app).await, Some(1));
    let again = sync(&app, &old_a.bucket, &[user(&app, &a)]).await;
    assert!(!again.written, "the same owners again write nothing");

    let cleared = sync(&app, &old_a.bucket, &[]).await;
    assert!(cleared.written && cleared.denied.is_empty());
    assert_eq!(put(&old_a, "again.txt").await, "ok", "the old keys write again");
    assert!(sids(&old_a.bucket).await.iter().all(|s| !s.starts_with("StsvendQuota")));
    assert_eq!(denied_gauge(&app).await, Some(0));
}

#[tokio::test]
async fn a_sync_denies_an_over_users_old_keys_writes_on_their_bucket_and_lifts_it() {
    Box::pin(an_over_users_old_keys_lose_writes_only(Mode::Bucket)).await;
}

#[tokio::test]
async fn a_sync_denies_an_over_users_old_keys_writes_on_the_shared_bucket_and_lifts_it() {
    Box::pin(an_over_users_old_keys_lose_writes_only(Mode::Prefix)).await;
}

/// The org over its limit: every member's team keys lose writes on the org's storage, each
/// member's own storage still takes them; a member over theirs: the other way round.
async fn an_org_and_its_members_are_cut_apart(mode: Mode) {
    let app = quota_app(mode).await;
    let org = new_org();
    let (a, b) = (unique_sub("a"), unique_sub("b"));
    let (ta, tb) = (writer(&app, &a, &org), writer(&app, &b, &org));
    let (team_a, team_b) = (vended(&app, &ta, TEAM_RW).await, vended(&app, &tb, TEAM_RW).await);
    let org_bucket = team_a.org_bucket.clone().unwrap();
    let the_org = org_of(&app, &ta).await;

    sync(&app, &org_bucket, std::slice::from_ref(&the_org)).await;
    for team in [&team_a, &team_b] {
        assert_eq!(put_team(team, "t.txt").await, "AccessDenied", "team storage");
        assert_eq!(put(team, "mine.txt").await, "ok", "the member's own storage");
    }
    assert_eq!(sync(&app, &org_bucket, &[]).await.denied, []);
    assert_eq!(put_team(&team_a, "t.txt").await, "ok");

    let synced = sync(&app, &team_a.bucket, &[user(&app, &a)]).await;
    assert_eq!(synced.denied, [user(&app, &a)]);
    assert_eq!(put(&team_a, "mine.txt").await, "AccessDenied", "a's own storage");
    assert_eq!(put_team(&team_a, "t.txt").await, "ok", "a still writes to the org's");
    assert_eq!(put(&team_b, "mine.txt").await, "ok", "b is not over");

    if matches!(mode, Mode::Prefix) {
        // Both over, in one policy: a's writes end everywhere, b's only on the org's prefix.
        sync(&app, &org_bucket, &[user(&app, &a), the_org.clone()]).await;
        assert_eq!(put_team(&team_a, "t.txt").await, "AccessDenied");
        assert_eq!(put_team(&team_b, "t.txt").await, "AccessDenied");
        assert_eq!(put(&team_b, "mine.txt").await, "ok");
        assert_eq!(put(&team_a, "mine.txt").await, "AccessDenied");
    }
}

#[tokio::test]
async fn an_over_org_loses_team_writes_while_members_keep_their_buckets_and_vice_versa() {
    Box::pin(an_org_and_its_members_are_cut_apart(Mode::Bucket)).await;
}

#[tokio::test]
async fn an_over_org_loses_team_writes_while_members_keep_their_prefixes_and_vice_versa() {
    Box::pin(an_org_and_its_members_are_cut_apart(Mode::Prefix)).await;
}

/// A revocation and a quota Deny in one policy: each holds, and lifting the Deny leaves the
/// revocation in place.
async fn a_revocation_and_a_quota_deny_both_hold(mode: Mode) {
    let app = quota_app(mode).await;
    let a = unique_sub("a");
    let old = app.vend(&a, None).await;
    assert_eq!(put(&old, "kept.txt").await, "ok");
    sync(&app, &old.bucket, &[user(&app, &a)]).await;
    let id = user_id_of(&app, &a);
    let (status, body) = admin_call(&app, Method::POST, &format!("/users/{id}/revoke"), &admin_token(&app)).await;
    assert_eq!(
        (status, body["revocation"].as_str()),
        (200, Some("in_effect")),
        "{body}"
    );
    let policy = sids(&old.bucket).await;
    assert!(policy.iter().any(|s| s == "StsvendQuotaUsers"), "{policy:?}");
    assert!(policy.iter().any(|s| s.starts_with("StsvendRevoke")), "{policy:?}");

    let fresh = app.vend(&a, None).await;
    assert_eq!(put(&fresh, "new.txt").await, "AccessDenied", "new keys are still over");
    let read = |v: &Vended| {
        let (s3, bucket, key) = (user_s3(v), v.bucket.clone(), format!("{}kept.txt", v.prefix));
        async move { s3_code(&s3.get_object().bucket(bucket).key(key).send().await) }
    };
    assert_eq!(read(&fresh).await, "ok");
    assert_eq!(read(&old).await, "AccessDenied", "the revocation");

    sync(&app, &old.bucket, &[]).await;
    assert_eq!(put(&fresh, "new.txt").await, "ok");
    assert_eq!(read(&old).await, "AccessDenied", "the revocation outlives the Deny");
    assert!(sids(&old.bucket).await.iter().any(|s| s.starts_with("StsvendRevoke")));
}

#[tokio::test]
async fn a_revocation_and_a_quota_deny_both_hold_on_a_users_bucket() {
    Box::pin(a_revocation_and_a_quota_deny_both_hold(Mode::Bucket)).await;
}

#[tokio::test]
async fn a_revocation_and_a_quota_deny_both_hold_on_the_shared_bucket() {
    Box::pin(a_revocation_and_a_quota_deny_both_hold(Mode::Prefix)).await;
}
