//! The store's behaviour, the same on every backend: each test runs on `SQLite` and on
//! `PostgreSQL` (`test_db::each_backend`; `PostgreSQL` needs `scripts/postgres.sh`).

mod audit;
mod changes;
mod ledger;
mod ledger_owners;
mod ledger_prune;
mod ledger_reconcile;
mod ledger_replay;
mod ledger_schedule;
mod org_admin;
mod orgs;
mod prefix;
mod presign;
mod quota;
mod shared_policy;
mod spill;

use std::time::Duration;

use super::test_db::each_backend;
use crate::identity::{BucketName, UserId, UserPrefix};
use crate::runtime::clock::now;
use crate::store::{
    AdminAction, Change, Changed, NewUser, PrefixRevocation, ProvisionState, Store, UserQuery, VendRecord,
};

fn new_user<'a>(id: &'a UserId, bucket: &'a BucketName) -> NewUser<'a> {
    NewUser {
        user_id: id,
        issuer: "https://i/",
        subject: "auth0|a",
        bucket,
        region: "us-east-1",
        prefix: None,
    }
}

pub(super) fn user(subject: &str) -> UserId {
    UserId::derive("https://i/", subject)
}

/// A fixed bucket name for `id` (the service draws random ones).
pub(super) fn bucket_of(id: &UserId) -> BucketName {
    BucketName::parse(&format!("p-{id}")).unwrap()
}

/// Inserts `subject`'s pending row; returns the user id.
pub(super) async fn add_user(store: &Store, subject: &str) -> UserId {
    let id = user(subject);
    let bucket = bucket_of(&id);
    store
        .insert_user(&NewUser {
            subject,
            ..new_user(&id, &bucket)
        })
        .await
        .unwrap();
    id
}

pub(super) fn vend(user_id: &UserId, key: &str) -> VendRecord {
    VendRecord {
        user_id: user_id.clone(),
        access_key_id: key.to_owned(),
        template: "read-write".to_owned(),
        expiration: now(),
        client_addr: Some("127.0.0.1".to_owned()),
        client_id: None,
        from_cache: false,
        org_id: None,
    }
}

pub(super) fn all_users() -> UserQuery {
    UserQuery {
        search: None,
        after: None,
        limit: 100,
    }
}

/// `admit_user` writes new rows up to the limit within the window, counted over every
/// process on the database (two stores here), then refuses new users with the instant room
/// comes back, while a user who has a row is always admitted and nothing is written for a
/// refused one.
#[tokio::test]
async fn new_users_are_admitted_up_to_the_limit_counted_over_every_process() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let limit = crate::store::NewUserLimit {
            limit: std::num::NonZeroU32::new(2).unwrap(),
            window: Duration::from_hours(1),
        };
        let admit = |store: &Store, subject: &'static str| {
            let store = store.clone();
            async move {
                let id = user(subject);
                let bucket = bucket_of(&id);
                let new = NewUser {
                    subject,
                    ..new_user(&id, &bucket)
                };
                store.admit_user(&new, limit).await.unwrap()
            }
        };
        let first = admit(&a, "auth0|first").await;
        let crate::store::Admission::Row(first) = first else {
            panic!("the first user is admitted: {first:?}")
        };
        assert!(matches!(
            admit(&b, "auth0|second").await,
            crate::store::Admission::Row(_)
        ));
        match admit(&b, "auth0|third").await {
            crate::store::Admission::Full { room_at } => {
                let expected = first.created_at + limit.window;
                assert!(
                    (room_at - expected).abs() < time::Duration::seconds(1),
                    "{room_at} vs {expected}"
                );
            }
            other @ crate::store::Admission::Row(_) => panic!("the third user is over the limit: {other:?}"),
        }
        assert!(a.user(&user("auth0|third")).await.unwrap().is_none(), "no row written");
        let again = admit(&a, "auth0|first").await;
        assert!(matches!(again, crate::store::Admission::Row(r) if r.user_id == first.user_id));
        assert_eq!(a.count_users().await.unwrap(), (0, 2));
        assert_eq!(b.count_buckets().await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn pending_row_is_created_once_and_becomes_ready() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = user("auth0|a");
        let b0 = bucket_of(&id);
        let first = store.insert_user(&new_user(&id, &b0)).await.unwrap();
        assert_eq!(first.state, ProvisionState::Pending);
        let again = store.insert_user(&new_user(&id, &b0)).await.unwrap();
        assert_eq!(again.created_at, first.created_at);

        let b1 = BucketName::parse(&format!("p-{id}-1")).unwrap();
        store.set_bucket(&id, &b1, 1).await.unwrap();
        store.mark_ready(&id).await.unwrap();
        let row = store.user(&id).await.unwrap().unwrap();
        assert_eq!((row.state, row.bucket, row.candidate), (ProvisionState::Ready, b1, 1));
        assert_eq!(store.count_users().await.unwrap(), (1, 0));
        assert!(store.user(&user("nobody")).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn reopening_keeps_rows_and_schema() {
    each_backend(|db| async move {
        let id = add_user(&db.open().await, "auth0|a").await;
        let row = db.open().await.user(&id).await.unwrap();
        assert_eq!(row.unwrap().bucket, bucket_of(&id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_starting_together_migrate_once_and_both_work() {
    each_backend(|db| async move {
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { Store::connect(&db.config()).await })
            })
            .collect();
        for open in opens {
            let store = open.await.unwrap().expect("every concurrent start succeeds");
            store.ping().await.unwrap();
        }
        let store = db.open().await;
        add_user(&store, "auth0|a").await;
        assert_eq!(store.count_users().await.unwrap(), (0, 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_logging_in_the_same_user_at_once_make_one_row() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        for i in 0..20 {
            let subject = format!("auth0|{i}");
            let (ra, rb) = tokio::join!(
                tokio::spawn({
                    let (a, s) = (a.clone(), subject.clone());
                    async move { add_user(&a, &s).await }
                }),
                tokio::spawn({
                    let (b, s) = (b.clone(), subject.clone());
                    async move { add_user(&b, &s).await }
                }),
            );
            assert_eq!(ra.unwrap(), rb.unwrap());
            let (ua, ub) = (
                a.user(&user(&subject)).await.unwrap(),
                b.user(&user(&subject)).await.unwrap(),
            );
            assert_eq!(ua.unwrap().created_at, ub.unwrap().created_at, "both see the one row");
        }
        assert_eq!(a.count_users().await.unwrap(), (0, 20));
    })
    .await;
}
