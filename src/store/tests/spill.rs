//! Sealed credentials shared by the fleet: the spill, published keys and issuing leases.

use super::{add_user, user};
use crate::identity::{TemplateId, UserId};
use crate::runtime::clock::now;
use crate::store::Spilled;
use crate::store::Store;
use crate::store::test_db::{TestDb, each_backend};

/// Template `n` of a test: its own name and body.
fn t(n: u8) -> TemplateId {
    TemplateId::new(&format!("t{n}"), format!(r#"{{"Statement":[{n}]}}"#).as_bytes())
}

fn entry(user: &UserId, template: u8, expires_at: i64, sealed: &[u8]) -> Spilled {
    Spilled {
        user_id: user.clone(),
        template: t(template),
        expires_at,
        sealed: sealed.to_vec(),
    }
}

/// Publishes `entry` (committed when this returns).
async fn publish(store: &Store, entry: Spilled) {
    store.publish_issued(entry).await.unwrap();
}

#[tokio::test]
async fn spilled_entries_come_back_until_they_expire_or_are_forgotten() {
    each_backend(|db: TestDb| async move {
        let store = db.open().await;
        let (a, b) = (user("a"), user("b"));
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        publish(&store, entry(&a, 0, later, b"a0")).await;
        publish(&store, entry(&a, 1, later, b"a1")).await;
        publish(&store, entry(&b, 0, later - 1200, b"expired")).await;

        assert_eq!(store.spilled(&a, &t(0)).await.unwrap().unwrap().sealed, b"a0");
        assert_eq!(store.spilled(&a, &t(1)).await.unwrap().unwrap().expires_at, later);
        assert!(
            store.spilled(&b, &t(0)).await.unwrap().is_none(),
            "expired rows are not served"
        );
        publish(&store, entry(&a, 0, later, b"a0 again")).await;
        assert_eq!(store.spilled(&a, &t(0)).await.unwrap().unwrap().sealed, b"a0 again");

        store.forget_spilled(&a).await.unwrap();
        assert!(store.spilled(&a, &t(0)).await.unwrap().is_none());
        assert!(store.spilled(&a, &t(1)).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn keys_published_before_forgetting_the_user_do_not_survive_it() {
    each_backend(|db| async move {
        let store = db.open().await;
        let a = user("a");
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        publish(&store, entry(&a, 0, later, b"a0")).await;
        store.forget_spilled(&a).await.unwrap();
        assert!(store.spilled(&a, &t(0)).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn published_keys_are_found_by_another_replica_and_release_the_lease() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let u = user("a");
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        assert!(
            a.claim_issue(&u, &t(0), 30).await.unwrap(),
            "the first claim gets the lease"
        );
        assert!(
            !b.claim_issue(&u, &t(0), 30).await.unwrap(),
            "held: the other replica waits"
        );
        assert!(
            b.claim_issue(&u, &t(1), 30).await.unwrap(),
            "another template is another lease"
        );
        a.publish_issued(entry(&u, 0, later, b"keys")).await.unwrap();
        assert_eq!(b.spilled(&u, &t(0)).await.unwrap().unwrap().sealed, b"keys");
        assert!(
            b.claim_issue(&u, &t(0), 30).await.unwrap(),
            "published: the lease is free again"
        );
        b.release_issue(&u, &t(0)).await.unwrap();
        assert!(a.claim_issue(&u, &t(0), 30).await.unwrap(), "released");
    })
    .await;
}

#[tokio::test]
async fn an_expired_lease_can_be_taken_over() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let u = user("a");
        assert!(a.claim_issue(&u, &t(0), 0).await.unwrap());
        assert!(
            b.claim_issue(&u, &t(0), 30).await.unwrap(),
            "a lease of 0 s is over at once"
        );
        assert!(!a.claim_issue(&u, &t(0), 30).await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_replicas_claiming_at_once_exactly_one_gets_the_lease() {
    each_backend(|db| async move {
        let stores = [db.open().await, db.open().await];
        for i in 0..10 {
            let u = user(&format!("auth0|{i}"));
            let claims: Vec<_> = (0..8)
                .map(|n| {
                    let (s, u) = (stores[n % 2].clone(), u.clone());
                    tokio::spawn(async move { s.claim_issue(&u, &t(0), 30).await.unwrap() })
                })
                .collect();
            let mut won = 0;
            for c in claims {
                won += usize::from(c.await.unwrap());
            }
            assert_eq!(won, 1, "one lease per (user, template)");
        }
    })
    .await;
}

/// A template edited under the same name is another identity: its keys and its lease are
/// its own, and the rows of the old body are not served for it.
#[tokio::test]
async fn rows_and_leases_are_per_template_identity_not_per_name() {
    each_backend(|db| async move {
        let store = db.open().await;
        let u = user("a");
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        let (before, edited) = (
            TemplateId::new("read-only", br#"{"Statement":[]}"#),
            TemplateId::new("read-only", br#"{"Statement":[{}]}"#),
        );
        assert!(store.claim_issue(&u, &before, 30).await.unwrap());
        assert!(
            store.claim_issue(&u, &edited, 30).await.unwrap(),
            "the edited template's lease is another lease"
        );
        store
            .publish_issued(Spilled {
                user_id: u.clone(),
                template: before.clone(),
                expires_at: later,
                sealed: b"old body".to_vec(),
            })
            .await
            .unwrap();
        assert_eq!(store.spilled(&u, &before).await.unwrap().unwrap().sealed, b"old body");
        assert!(
            store.spilled(&u, &edited).await.unwrap().is_none(),
            "the old body's keys are not the edited template's"
        );
        assert!(
            !store.claim_issue(&u, &edited, 30).await.unwrap(),
            "publishing the old body's keys left the edited template's lease alone"
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_revocations_keep_the_later_cut_off() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = add_user(&store, "auth0|a").await;
        let (early, late) = (now(), now() + time::Duration::minutes(5));
        store.set_revoked_before(&id, late).await.unwrap();
        store.set_revoked_before(&id, early).await.unwrap();
        assert_eq!(store.user(&id).await.unwrap().unwrap().revoked_before, Some(late));
    })
    .await;
}
