//! The usage ledger on every backend: sequencer order per key, tombstones, overwrites counted
//! by their difference, totals per owner's storage, and a batch's report.

use time::OffsetDateTime;

use super::{add_user, bucket_of, each_backend, user};
use crate::identity::{
    BucketName, Notification, ObjectChange, ObjectEvent, Owner, OwnerStorage, Sequencer, UserPrefix,
};
use crate::runtime::clock::now;
use crate::store::{BatchReport, NewUser, OwnerResolver, Store, Totals};

/// A user's own bucket as a storage.
pub(super) fn own_storage(subject: &str) -> OwnerStorage {
    let id = user(subject);
    OwnerStorage {
        bucket: bucket_of(&id),
        owner: Owner::User(id),
        prefix: String::new(),
    }
}

/// An event on `storage`'s `key`, now.
pub(super) fn event(storage: &OwnerStorage, key: &str, change: ObjectChange, seq: &str) -> ObjectEvent {
    event_at(storage, key, change, seq, OffsetDateTime::now_utc())
}

pub(super) fn event_at(
    storage: &OwnerStorage,
    key: &str,
    change: ObjectChange,
    seq: &str,
    time: OffsetDateTime,
) -> ObjectEvent {
    ObjectEvent {
        bucket: storage.bucket.as_str().to_owned(),
        key: format!("{}{key}", storage.prefix),
        change,
        sequencer: Sequencer::parse(seq).unwrap(),
        time,
    }
}

pub(super) fn put(size: u64) -> ObjectChange {
    ObjectChange::Created { size }
}

pub(super) const DEL: ObjectChange = ObjectChange::Removed;

/// Applies `events` on `storage` as one batch; returns (applied, stale).
pub(super) async fn apply(store: &Store, storage: &OwnerStorage, events: Vec<ObjectEvent>) -> (u32, u32) {
    let done = store
        .ledger_apply(events.into_iter().map(|e| (storage.clone(), e)).collect())
        .await
        .unwrap();
    (done.applied, done.stale)
}

pub(super) async fn totals(store: &Store, storage: &OwnerStorage) -> Totals {
    store
        .ledger_usage(&storage.bucket, &storage.prefix)
        .await
        .unwrap()
        .map_or(Totals::default(), |u| u.totals)
}

/// Inserts `subject`'s row with its storage in `bucket` (its own, or `prefix` of it).
pub(super) async fn add_user_in(store: &Store, subject: &str, bucket: &BucketName, prefix: Option<&UserPrefix>) {
    let id = user(subject);
    store
        .insert_user(&NewUser {
            user_id: &id,
            issuer: "https://i/",
            subject,
            bucket,
            region: "us-east-1",
            prefix,
        })
        .await
        .unwrap();
}

pub(super) fn t(bytes: i64, objects: i64) -> Totals {
    Totals { bytes, objects }
}

#[tokio::test]
async fn each_key_takes_its_newest_event_once_and_totals_count_the_difference() {
    each_backend(|db| async move {
        let store = db.open().await;
        let s = own_storage("auth0|a");
        // A new key, then an overwrite with a smaller object: the difference counts.
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(100), "10")]).await, (1, 0));
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(40), "20")]).await, (1, 0));
        assert_eq!(totals(&store, &s).await, t(40, 1));
        // The same event again, and an older one: nothing changes.
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(40), "20")]).await, (0, 1));
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(999), "15")]).await, (0, 1));
        assert_eq!(totals(&store, &s).await, t(40, 1));
        // Sequencers compare as padded hex: "0100" is after "FF".
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(7), "0100")]).await, (1, 0));
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(9), "FF")]).await, (0, 1));
        assert_eq!(totals(&store, &s).await, t(7, 1));
        // Removed: a tombstone that an older create arriving late cannot bring back.
        assert_eq!(apply(&store, &s, vec![event(&s, "a", DEL, "0200")]).await, (1, 0));
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(50), "0150")]).await, (0, 1));
        assert_eq!(totals(&store, &s).await, t(0, 0));
        let a = store.ledger_object(&s.bucket, "a").await.unwrap().unwrap();
        assert!(a.removed && a.size == 0, "{a:?}");
        // A newer create after the removal counts again.
        assert_eq!(apply(&store, &s, vec![event(&s, "a", put(5), "0300")]).await, (1, 0));
        assert_eq!(totals(&store, &s).await, t(5, 1));
    })
    .await;
}

#[tokio::test]
async fn removing_a_key_never_seen_records_a_tombstone_and_changes_no_total() {
    each_backend(|db| async move {
        let store = db.open().await;
        let s = own_storage("auth0|a");
        apply(&store, &s, vec![event(&s, "kept", put(3), "1")]).await;
        assert_eq!(apply(&store, &s, vec![event(&s, "ghost", DEL, "50")]).await, (1, 0));
        assert_eq!(totals(&store, &s).await, t(3, 1));
        // Its create, delivered after the removal, is older: the key stays gone.
        assert_eq!(apply(&store, &s, vec![event(&s, "ghost", put(8), "40")]).await, (0, 1));
        assert_eq!(totals(&store, &s).await, t(3, 1));
    })
    .await;
}

#[tokio::test]
async fn a_batch_applies_in_any_order_and_keeps_owners_apart() {
    each_backend(|db| async move {
        let store = db.open().await;
        let (a, b) = (own_storage("auth0|a"), own_storage("auth0|b"));
        // One key's events out of order and duplicated within one batch, two owners mixed.
        let batch = vec![
            (a.clone(), event(&a, "x", put(30), "3")),
            (b.clone(), event(&b, "x", put(1000), "1")),
            (a.clone(), event(&a, "x", put(10), "1")),
            (a.clone(), event(&a, "x", put(30), "3")),
            (a.clone(), event(&a, "x", put(20), "2")),
            (a.clone(), event(&a, "big", put(5_000_000_000), "9")),
        ];
        let done = store.ledger_apply(batch).await.unwrap();
        assert_eq!(done.applied + done.stale, 6);
        assert_eq!(totals(&store, &a).await, t(5_000_000_030, 2));
        assert_eq!(totals(&store, &b).await, t(1000, 1));
        let usage = store.ledger_usage(&a.bucket, "").await.unwrap().unwrap();
        assert_eq!(usage.owner, a.owner);
        assert!(
            now() - usage.as_of < time::Duration::seconds(10),
            "as of the events: {usage:?}"
        );
    })
    .await;
}

/// The batch entry point the queue consumer calls: events resolved to owners (a user's bucket,
/// a prefix of the shared bucket), the rest counted.
#[tokio::test]
async fn a_batch_of_notifications_is_resolved_applied_and_counted() {
    each_backend(|db| async move {
        let store = db.open().await;
        let a = add_user(&store, "auth0|a").await;
        let shared = BucketName::parse("stsvend-shared").unwrap();
        let p = user("auth0|p");
        let prefix = UserPrefix::for_user("users", &p).unwrap();
        add_user_in(&store, "auth0|p", &shared, Some(&prefix)).await;
        let owners = OwnerResolver::new(store.clone(), "users", "orgs", Some(shared.clone()));
        let own = own_storage("auth0|a");
        let in_prefix = OwnerStorage {
            owner: Owner::User(p.clone()),
            bucket: shared.clone(),
            prefix: prefix.as_str().to_owned(),
        };
        let nobody = |bucket: &str, key: &str| ObjectEvent {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            ..event(&own, "x", put(1), "1")
        };
        let messages = vec![
            Notification {
                events: vec![
                    event(&own, "photo.jpg", put(10), "1"),
                    event(&own, "photo.jpg", put(10), "1"),
                    event(&in_prefix, "doc.pdf", put(20), "1"),
                    nobody(shared.as_str(), "elsewhere/doc.pdf"),
                    nobody(shared.as_str(), "users/not-an-id/doc.pdf"),
                    nobody("some-other-bucket", "k"),
                    nobody("Not_A_Bucket", "k"),
                ],
                unparsable: 2,
                other_kinds: 1,
                ..Notification::default()
            },
            Notification {
                test_events: 1,
                ..Notification::default()
            },
        ];
        let report = store.apply_notifications(&owners, messages).await.unwrap();
        assert_eq!(
            report,
            BatchReport {
                applied: 2,
                stale: 1,
                no_owner: 4,
                test_events: 1,
                unparsable: 2,
                other_kinds: 1,
                changed: vec![own.clone(), in_prefix.clone()],
            }
        );
        assert_eq!(totals(&store, &own).await, t(10, 1));
        assert_eq!(totals(&store, &in_prefix).await, t(20, 1));
        let usage = store.ledger_usage(&bucket_of(&a), "").await.unwrap().unwrap();
        assert_eq!(usage.owner, Owner::User(a));
    })
    .await;
}
