//! `Quotas` on an embedded store: levels from the ledger's totals under the defaults or an
//! override, only an owner's current storage evaluated, the deny call site reached on every
//! change into or out of "over" with the bucket's over owners, and the in-memory view.

use time::OffsetDateTime;

use super::*;
use crate::identity::{ObjectChange, ObjectEvent, Sequencer, UserId};
use crate::store::NewUser;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    quotas: Quotas,
}

/// `[quota]` with `user_bytes` 100 and `org_objects` 10; nothing else limited.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("q.db")).unwrap();
    let config = QuotaConfig {
        user_bytes: Some(100),
        user_objects: None,
        org_bytes: None,
        org_objects: Some(10),
        queue_url: "http://127.0.0.1:1/000000000000/q".to_owned(),
        reconcile_hours: 24,
        reconcile_period_for_tests: None,
    };
    let quotas = Quotas::new(store.clone(), &config);
    Fixture {
        _dir: dir,
        store,
        quotas,
    }
}

/// A user with their own bucket; their storage.
async fn user(store: &Store, sub: &str) -> OwnerStorage {
    let id = UserId::derive("https://i/", sub);
    let bucket = BucketName::parse(&format!("q-{id}")).unwrap();
    store
        .insert_user(&NewUser {
            user_id: &id,
            issuer: "https://i/",
            subject: sub,
            bucket: &bucket,
            region: "us-east-1",
            prefix: None,
        })
        .await
        .unwrap();
    OwnerStorage {
        owner: Owner::User(id),
        bucket,
        prefix: String::new(),
    }
}

/// Applies one event of `key` in `s` (a create of `size`, or a removal for `None`).
async fn event(store: &Store, s: &OwnerStorage, key: &str, size: Option<u64>, seq: u32) {
    let e = ObjectEvent {
        bucket: s.bucket.as_str().to_owned(),
        key: format!("{}{key}", s.prefix),
        change: size.map_or(ObjectChange::Removed, |size| ObjectChange::Created { size }),
        sequencer: Sequencer::parse(&format!("{seq:X}")).unwrap(),
        time: OffsetDateTime::now_utc(),
    };
    store.ledger_apply(vec![(s.clone(), e)]).await.unwrap();
}

fn deny_calls(q: &Quotas) -> Vec<(BucketName, Vec<OwnerStorage>)> {
    std::mem::take(&mut *q.deny_calls.lock().unwrap())
}

#[tokio::test]
async fn an_owner_is_warned_at_ninety_percent_and_over_at_the_limit_and_back_under_after_deleting() {
    let f = fixture();
    let s = user(&f.store, "auth0|a").await;
    let changed = || Changed(vec![s.clone()]);
    event(&f.store, &s, "a", Some(89), 1).await;
    f.quotas.reevaluate(changed()).await;
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under);
    event(&f.store, &s, "b", Some(1), 2).await;
    f.quotas.reevaluate(changed()).await;
    let Standing::Warned(r) = f.quotas.standing(&s.owner) else {
        panic!("warned at 90%")
    };
    assert_eq!(r.percents(), vec![("bytes", 90)]);
    assert!(deny_calls(&f.quotas).is_empty(), "no Deny for a warning");
    event(&f.store, &s, "c", Some(10), 3).await;
    f.quotas.reevaluate(changed()).await;
    let Standing::Over(r) = f.quotas.standing(&s.owner) else {
        panic!("over at the limit")
    };
    assert_eq!((r.usage.bytes, r.usage.objects, r.limits.bytes), (100, 3, Some(100)));
    assert_eq!(deny_calls(&f.quotas), vec![(s.bucket.clone(), vec![s.clone()])]);
    f.quotas.reevaluate(changed()).await;
    assert!(
        deny_calls(&f.quotas).is_empty(),
        "still over: the Deny stands as written"
    );

    event(&f.store, &s, "a", None, 4).await;
    f.quotas.reevaluate(changed()).await;
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under);
    assert_eq!(
        deny_calls(&f.quotas),
        vec![(s.bucket.clone(), vec![])],
        "the Deny is lifted"
    );
}

#[tokio::test]
async fn an_override_wins_over_the_default_and_removing_it_restores_the_default() {
    let f = fixture();
    let s = user(&f.store, "auth0|o").await;
    event(&f.store, &s, "a", Some(50), 1).await;
    f.quotas.reevaluate(Changed(vec![s.clone()])).await;
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under);
    let tight = QuotaLimits {
        bytes: Some(50),
        objects: None,
    };
    f.quotas
        .set_override(&s.owner, Some(tight), Some(s.clone()))
        .await
        .unwrap();
    assert_eq!(f.quotas.limits(&s.owner), tight);
    assert!(
        matches!(f.quotas.standing(&s.owner), Standing::Over(_)),
        "evaluated at once"
    );
    f.quotas
        .set_override(&s.owner, Some(QuotaLimits::NONE), Some(s.clone()))
        .await
        .unwrap();
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under, "unlimited");
    f.quotas.set_override(&s.owner, None, Some(s.clone())).await.unwrap();
    assert_eq!(f.quotas.limits(&s.owner).bytes, Some(100), "the default again");
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under);
    assert_eq!(deny_calls(&f.quotas).len(), 2, "into and out of over");
}

#[tokio::test]
async fn only_the_owners_current_storage_is_evaluated() {
    let f = fixture();
    let s = user(&f.store, "auth0|c").await;
    let old = OwnerStorage {
        bucket: BucketName::parse("q-old-bucket-of-someone").unwrap(),
        ..s.clone()
    };
    event(&f.store, &old, "big", Some(1_000), 1).await;
    f.quotas.reevaluate(Changed(vec![old])).await;
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under, "not their storage now");
    assert!(f.store.quota_state(&s.owner).await.unwrap().is_none());
}

#[tokio::test]
async fn a_second_view_loads_what_the_first_recorded() {
    let f = fixture();
    let s = user(&f.store, "auth0|l").await;
    event(&f.store, &s, "a", Some(100), 1).await;
    f.quotas.reevaluate(Changed(vec![s.clone()])).await;
    let org = Owner::Org(crate::identity::OrgId::fresh().unwrap());
    let l = QuotaLimits {
        bytes: None,
        objects: Some(5),
    };
    f.quotas.set_override(&org, Some(l), None).await.unwrap();
    let config = QuotaConfig {
        user_bytes: Some(100),
        user_objects: None,
        org_bytes: None,
        org_objects: Some(10),
        queue_url: "http://127.0.0.1:1/000000000000/q".to_owned(),
        reconcile_hours: 24,
        reconcile_period_for_tests: None,
    };
    let other = Quotas::new(f.store.clone(), &config);
    assert_eq!(other.standing(&s.owner), Standing::Under, "nothing loaded yet");
    other.load().await.unwrap();
    assert!(matches!(other.standing(&s.owner), Standing::Over(_)));
    assert_eq!(other.limits(&org), l);
}

#[tokio::test]
async fn a_receiver_task_evaluates_what_it_is_sent_until_the_senders_are_gone() {
    let f = fixture();
    let s = user(&f.store, "auth0|r").await;
    event(&f.store, &s, "a", Some(100), 1).await;
    let quotas = Arc::new(f.quotas);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = spawn_receiver(Arc::clone(&quotas), rx);
    tx.send(Changed(vec![s.clone()])).unwrap();
    drop(tx);
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the task ends once the senders are dropped")
        .unwrap();
    assert!(matches!(quotas.standing(&s.owner), Standing::Over(_)));
}

#[tokio::test]
async fn a_state_recorded_for_other_storage_does_not_count_and_a_sweep_replaces_it() {
    let f = fixture();
    let s = user(&f.store, "auth0|moved").await;
    event(&f.store, &s, "a", Some(100), 1).await;
    f.quotas.reevaluate(Changed(vec![s.clone()])).await;
    assert!(matches!(
        f.quotas.standing_in(&s.owner, (&s.bucket, "")),
        Standing::Over(_)
    ));
    // Deleted while over, and made again with a new bucket (the same id: the same subject).
    let Owner::User(id) = &s.owner else { unreachable!() };
    f.store.delete_user(id).await.unwrap();
    let again = user(&f.store, "auth0|moved").await;
    let fresh = BucketName::parse(&format!("q2-{id}")).unwrap();
    f.store.set_bucket(id, &fresh, 1).await.unwrap();
    let now = OwnerStorage {
        bucket: fresh.clone(),
        ..again
    };
    assert_eq!(
        f.quotas.standing_in(&s.owner, (&now.bucket, "")),
        Standing::Under,
        "not their storage now"
    );
    assert!(f.store.quota_state(&s.owner).await.unwrap().is_some(), "until swept");
    assert!(f.quotas.sweep().await.unwrap() >= 1);
    assert_eq!(
        f.store.quota_state(&s.owner).await.unwrap(),
        None,
        "evaluated in the new, empty storage"
    );
    assert_eq!(f.quotas.standing(&s.owner), Standing::Under);
}

#[tokio::test]
async fn a_sweep_finds_owners_over_a_default_without_any_event() {
    let f = fixture();
    let s = user(&f.store, "auth0|swept").await;
    event(&f.store, &s, "a", Some(95), 1).await;
    // Evaluated under a default that was higher: nothing recorded.
    let lenient = Quotas::new(
        f.store.clone(),
        &QuotaConfig {
            user_bytes: Some(1000),
            user_objects: None,
            org_bytes: None,
            org_objects: None,
            queue_url: "http://127.0.0.1:1/000000000000/q".to_owned(),
            reconcile_hours: 24,
            reconcile_period_for_tests: None,
        },
    );
    lenient.reevaluate(Changed(vec![s.clone()])).await;
    assert_eq!(f.store.quota_state(&s.owner).await.unwrap(), None);
    // Started again with `user_bytes` 100: the sweep warns them (95 of 100).
    assert_eq!(f.quotas.sweep().await.unwrap(), 1);
    assert!(matches!(f.quotas.standing(&s.owner), Standing::Warned(_)));
}
