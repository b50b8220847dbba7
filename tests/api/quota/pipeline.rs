//! The whole quota pipeline, end to end, in both storage modes: uploads through vended keys,
//! S3's events on the usage queue, the consumer's ledger, the limits' states and the
//! bucket-policy Deny they write. Nothing here fills the ledger or syncs the Deny by hand: a
//! user crossing their limit loses write vends and their live keys' writes (reads and
//! read-only vends stay), and deleting gives both back; an org over its quota loses its team
//! writes while its members keep their own.

use std::time::Duration;

use serde_json::Value;

use super::deny::{put_team, sids};
use super::events::put as put_sized;
use super::limits::{assert_refused, vend_for};
use crate::orgs::{TEAM_RW, new_org, vended, with_orgs, writer};
use crate::support::admin::{ADMIN_PERMISSION, put};
use crate::support::quota::{UsageQueue, usage_queue};
use crate::support::*;

/// From the write that crosses a limit (or the delete that goes back under) to the vend
/// refusal and the Deny taking hold (or lifting) here: S3 -> queue -> consumer -> limits ->
/// bucket policy. `MiniStack` delivers events at once and applies a policy at once; the rest is
/// the consumer's long poll and a policy write.
pub const PIPELINE_BOUND: Duration = Duration::from_secs(5);

/// Bucket or prefix mode.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Bucket,
    Prefix,
}

/// A service in `mode` consuming `queue`, with the admin API on and these `[quota]` settings
/// (`USER_BYTES`, ...) on top of `opts`.
pub async fn pipeline_app(mode: Mode, queue: &UsageQueue, opts: Options, limits: &[(&str, &str)]) -> TestApp {
    let mut opts = opts
        .with_quota(queue)
        .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
        .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
        .set("STSVEND_LIMITS__VEND_BURST", "100000");
    for (k, v) in limits {
        opts = opts.set(&format!("STSVEND_QUOTA__{k}"), v);
    }
    match mode {
        Mode::Bucket => TestApp::spawn_with(opts).await,
        Mode::Prefix => TestApp::spawn_prefix(opts).await.0,
    }
}

/// What S3 holds in the keys' storage, as the service account lists it: (bytes, objects).
pub async fn stored(bucket: &str, prefix: &str) -> (i64, i64) {
    let out = service_s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let sizes: Vec<i64> = out.contents().iter().map(|o| o.size().unwrap_or(0)).collect();
    (sizes.iter().sum(), i64::try_from(sizes.len()).unwrap())
}

/// `/v1/me`'s usage: (bytes, objects).
fn usage(me: &Value) -> (Option<i64>, Option<i64>) {
    (me["usage"]["bytes"].as_i64(), me["usage"]["objects"].as_i64())
}

const LIMIT: usize = 300_000;
const OBJECT: usize = 70_000;

async fn a_user_crossing_the_limit_loses_writes_and_gets_them_back_by_deleting(mode: Mode) {
    let queue = usage_queue().await;
    let app = pipeline_app(mode, &queue, Options::default(), &[("USER_BYTES", &LIMIT.to_string())]).await;
    let sub = unique_sub("pipeline");
    let token = app.issuer.token(&sub);
    let old = app.vend(&sub, None).await;
    let s3 = user_s3(&old);
    for k in ["a", "b", "c", "d"] {
        put_sized(&s3, &old, k, OBJECT).await;
    }
    let each = i64::try_from(OBJECT).unwrap();
    wait_until(PIPELINE_BOUND, "the ledger counts the uploads", async || {
        usage(&app.me(&sub).await) == (Some(4 * each), Some(4))
    })
    .await;
    // The ledger is committed before the limits re-read it (the hand-off runs after the
    // batch): the warning follows within the bound, the vend succeeding all along.
    wait_until(PIPELINE_BOUND, "just under the limit: vends warn", async || {
        let (status, warning, body) = vend_for(&app, &token, "read-write").await;
        assert_eq!(status, 200, "just under the limit: {body}");
        warning.as_deref() == Some("user bytes=93%")
    })
    .await;

    // The write that crosses it.
    put_sized(&s3, &old, "e", OBJECT).await;
    let crossed = std::time::Instant::now();
    let refused = within(PIPELINE_BOUND, async || {
        let (status, _, body) = vend_for(&app, &token, "read-write").await;
        (status == 403).then_some(body)
    })
    .await
    .unwrap_or_else(|| panic!("no write vend refused within {PIPELINE_BOUND:?} of crossing the limit"));
    let refused_after = crossed.elapsed();
    assert_refused(&refused, "user", 5 * each, 5);
    assert_eq!(refused["error"]["details"]["usage"]["limit_bytes"], LIMIT);
    wait_until(PIPELINE_BOUND, "the old keys' PUT is denied", async || {
        put(&old, "late.txt").await == "AccessDenied"
    })
    .await;
    let denied_after = crossed.elapsed();
    eprintln!(
        "pipeline ({mode:?}): vend refused {refused_after:?}, old keys denied {denied_after:?} after the crossing PUT"
    );
    assert!(denied_after <= PIPELINE_BOUND, "{denied_after:?}");
    assert!(
        sids(&old.bucket).await.iter().any(|s| s.starts_with("StsvendQuota")),
        "the Deny is a bucket-policy statement"
    );
    let get = s3
        .get_object()
        .bucket(&old.bucket)
        .key(format!("{}a", old.prefix))
        .send()
        .await;
    assert_eq!(s3_code(&get), "ok", "the old keys still read");
    let (status, _, body) = vend_for(&app, &token, "read-only").await;
    assert_eq!(status, 200, "read-only still vends: {body}");

    // Deleting brings the user back under: write vends and the old keys' writes return.
    for k in ["a", "b"] {
        super::events::delete(&s3, &old, k).await;
    }
    let deleted = std::time::Instant::now();
    wait_until(PIPELINE_BOUND, "write vends return after deleting", async || {
        vend_for(&app, &token, "read-write").await.0 == 200
    })
    .await;
    wait_until(PIPELINE_BOUND, "the old keys write again", async || {
        put(&old, "again.txt").await == "ok"
    })
    .await;
    eprintln!(
        "pipeline ({mode:?}): writes back {:?} after the deletes",
        deleted.elapsed()
    );
    let policy = sids(&old.bucket).await;
    assert!(policy.iter().all(|s| !s.starts_with("StsvendQuota")), "{policy:?}");
    let truth = stored(&old.bucket, &old.prefix).await;
    wait_until(PIPELINE_BOUND, "/v1/me counts what S3 holds", async || {
        usage(&app.me(&sub).await) == (Some(truth.0), Some(truth.1))
    })
    .await;
}

#[tokio::test]
async fn a_user_crossing_the_limit_loses_write_vends_and_live_writes_until_deleting_in_bucket_mode() {
    Box::pin(a_user_crossing_the_limit_loses_writes_and_gets_them_back_by_deleting(
        Mode::Bucket,
    ))
    .await;
}

#[tokio::test]
async fn a_user_crossing_the_limit_loses_write_vends_and_live_writes_until_deleting_in_prefix_mode() {
    Box::pin(a_user_crossing_the_limit_loses_writes_and_gets_them_back_by_deleting(
        Mode::Prefix,
    ))
    .await;
}

/// Three team uploads put the org at its limit: both members' team keys lose their writes on
/// the org's storage, their own storage still takes them; a delete gives the team writes back.
async fn an_org_over_its_quota_loses_team_writes_and_members_keep_their_own(mode: Mode) {
    let queue = usage_queue().await;
    let app = pipeline_app(mode, &queue, with_orgs(Options::default()), &[("ORG_OBJECTS", "3")]).await;
    let org = new_org();
    let (ta, tb) = (
        writer(&app, &unique_sub("alice"), &org),
        writer(&app, &unique_sub("bob"), &org),
    );
    let (team_a, team_b) = (vended(&app, &ta, TEAM_RW).await, vended(&app, &tb, TEAM_RW).await);
    for k in ["t1", "t2", "t3"] {
        assert_eq!(put_team(&team_a, k).await, "ok");
    }
    wait_until(PIPELINE_BOUND, "bob's team keys lose their writes", async || {
        put_team(&team_b, "late").await == "AccessDenied"
    })
    .await;
    assert_eq!(put_team(&team_a, "late").await, "AccessDenied");
    for team in [&team_a, &team_b] {
        assert_eq!(put(team, "mine.txt").await, "ok", "the member's own storage");
    }
    let (status, _, body) = vend_for(&app, &tb, TEAM_RW).await;
    assert_eq!(status, 403, "{body}");
    let d = &body["error"]["details"];
    assert_eq!(
        (body["error"]["code"].as_str(), d["owner"].as_str()),
        (Some("quota_exceeded"), Some("org")),
        "{body}"
    );
    // 3 objects, or 4 if bob's first try landed before the Deny.
    assert!(d["usage"]["objects"].as_i64() >= Some(3), "{body}");
    let (status, _, body) = vend_for(&app, &tb, "read-write").await;
    assert_eq!(status, 200, "personal vends: {body}");

    let org_bucket = team_a.org_bucket.clone().unwrap();
    let org_prefix = team_a.org_prefix.clone().unwrap_or_default();
    for k in ["t1", "late"] {
        user_s3(&team_a)
            .delete_object()
            .bucket(&org_bucket)
            .key(format!("{org_prefix}{k}"))
            .send()
            .await
            .unwrap();
    }
    wait_until(PIPELINE_BOUND, "team writes return after a delete", async || {
        put_team(&team_b, "back").await == "ok"
    })
    .await;
}

#[tokio::test]
async fn an_org_over_its_quota_loses_team_writes_while_members_keep_their_buckets() {
    Box::pin(an_org_over_its_quota_loses_team_writes_and_members_keep_their_own(
        Mode::Bucket,
    ))
    .await;
}

#[tokio::test]
async fn an_org_over_its_quota_loses_team_writes_while_members_keep_their_prefixes() {
    Box::pin(an_org_over_its_quota_loses_team_writes_and_members_keep_their_own(
        Mode::Prefix,
    ))
    .await;
}
