//! What the limits tests share: a service with `[quota]` on, the ledger filled with events
//! made here (as the queue consumer would apply them) and the owner evaluated as the consumer's
//! hand-off would have it; and `/v1/me`'s usage and warning.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use stsvend::identity::{ObjectChange, ObjectEvent, OrgId, Owner, OwnerStorage, Sequencer, UserId};
use stsvend::usecase::quota::Changed;

use crate::support::*;

/// A queue URL that names no queue (no `/<account>/<name>`): the limits need `[quota]`, not its
/// consumer, and buckets get no notifications (S3 refuses them for a queue that does not exist).
const NO_QUEUE: &str = "http://127.0.0.1:9/stsvend-usage-none";

/// `opts` with `[quota]` on and these settings (`USER_BYTES`, `ORG_OBJECTS`, ...).
pub fn with_quota(opts: Options, limits: &[(&str, &str)]) -> Options {
    let mut o = opts
        .set("STSVEND_QUOTA__QUEUE_URL", NO_QUEUE)
        .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
        .set("STSVEND_LIMITS__VEND_BURST", "100000");
    for (k, v) in limits {
        o = o.set(&format!("STSVEND_QUOTA__{k}"), v);
    }
    o
}

/// `sub`'s storage, as their row names it (after their first vend).
pub async fn user_storage(app: &TestApp, sub: &str) -> OwnerStorage {
    let id = UserId::derive(&app.issuer.issuer, sub);
    let row = app.state.store.user(&id).await.unwrap().expect("vended once");
    OwnerStorage {
        bucket: row.bucket.clone(),
        prefix: row.key_prefix().to_owned(),
        owner: Owner::User(id),
    }
}

/// The organisation's storage, by its internal id.
pub async fn org_storage(app: &TestApp, id: &str) -> OwnerStorage {
    let id = OrgId::parse(id).unwrap();
    let row = app.state.store.org(&id).await.unwrap().expect("made by a team vend");
    OwnerStorage {
        bucket: row.bucket.clone(),
        prefix: row.key_prefix().to_owned(),
        owner: Owner::Org(id),
    }
}

/// Sequencers only grow in this process, so every event is newer than the last of its key.
static SEQ: AtomicU64 = AtomicU64::new(0x1000);

/// Applies S3 events for `keys` in `storage` (a create of `size` bytes each, or a removal for
/// `None`) to the ledger, then evaluates the owner as the consumer's hand-off does.
pub async fn fill(app: &TestApp, storage: &OwnerStorage, keys: &[&str], size: Option<u64>) {
    let batch = keys
        .iter()
        .map(|k| {
            let e = ObjectEvent {
                bucket: storage.bucket.as_str().to_owned(),
                key: format!("{}{k}", storage.prefix),
                change: size.map_or(ObjectChange::Removed, |size| ObjectChange::Created { size }),
                sequencer: Sequencer::parse(&format!("{:X}", SEQ.fetch_add(1, Ordering::Relaxed))).unwrap(),
                time: time::OffsetDateTime::now_utc(),
            };
            (storage.clone(), e)
        })
        .collect();
    app.state.store.ledger_apply(batch).await.unwrap();
    quotas(app).reevaluate(Changed(vec![storage.clone()])).await;
}

pub fn quotas(app: &TestApp) -> &stsvend::usecase::quota::limits::Quotas {
    app.state.vend.quotas().expect("[quota] is on")
}

/// `POST /v1/credentials` for `access` as `sub`: status, the warning header, body.
pub async fn vend_for(app: &TestApp, token: &str, access: &str) -> (u16, Option<String>, Value) {
    let resp = app.post_credentials(Some(token), Some(json!({"access": access}))).await;
    let status = resp.status().as_u16();
    let warning = resp
        .headers()
        .get("x-stsvend-quota-warning")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, warning, resp.json().await.unwrap())
}

/// Asserts `body` is a `quota_exceeded` refusal naming `owner` with these figures.
pub fn assert_refused(body: &Value, owner: &str, bytes: i64, objects: i64) {
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    let d = &body["error"]["details"];
    assert_eq!(d["owner"], owner, "{body}");
    assert_eq!(d["usage"]["bytes"], bytes, "{body}");
    assert_eq!(d["usage"]["objects"], objects, "{body}");
    assert!(d["usage"]["as_of"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
}

/// `/v1/me` shows the usage against the limits, and the warning from 90%; nothing of it when
/// `[quota]` is off.
#[tokio::test]
async fn me_shows_usage_against_the_limits_and_the_warning_from_ninety_percent() {
    let app = TestApp::spawn_with(with_quota(Options::default(), &[("USER_BYTES", "1000")])).await;
    let sub = unique_sub("me-usage");
    app.vend(&sub, None).await;
    let me = app.me(&sub).await;
    assert_eq!(
        me["usage"],
        json!({"bytes": 0, "objects": 0, "limit_bytes": 1000, "limit_objects": null, "as_of": me["usage"]["as_of"]}),
        "{me}"
    );
    assert!(me.get("quota_warning").is_none(), "{me}");
    let storage = user_storage(&app, &sub).await;
    fill(&app, &storage, &["a", "b"], Some(300)).await;
    let me = app.me(&sub).await;
    assert_eq!(
        (me["usage"]["bytes"].as_i64(), me["usage"]["objects"].as_i64()),
        (Some(600), Some(2))
    );
    assert!(me.get("quota_warning").is_none(), "60%: {me}");
    fill(&app, &storage, &["c"], Some(330)).await;
    let me = app.me(&sub).await;
    assert_eq!(me["usage"]["bytes"], 930, "{me}");
    assert_eq!(me["quota_warning"], "user bytes=93%", "{me}");

    let off = TestApp::spawn().await;
    off.vend(&sub, None).await;
    let me = off.me(&sub).await;
    assert!(
        me.get("usage").is_none() && me.get("quota_warning").is_none(),
        "[quota] off: {me}"
    );
}
