//! The store's side of a shared bucket's policy: the fenced lease on writing it, and what the
//! audit says about the sessions of the users it revokes.

use crate::identity::BucketName;
use crate::runtime::clock::now;
use crate::store::test_db::each_backend;
use crate::store::{PresignRecord, UserActivity, VendRecord};

#[tokio::test]
async fn a_policy_lease_claimed_again_after_expiry_fences_off_its_earlier_holder() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let bucket = BucketName::parse("stsvend-shared").unwrap();
        assert_eq!(a.shared_policy_bytes(&bucket).await.unwrap(), None);
        // A's lease runs out at once (a writer stalled past it).
        let first = a.claim_policy_lease(&bucket, 0).await.unwrap().expect("free at first");
        assert!(a.policy_lease_held(&bucket, first).await.unwrap());
        let second = b
            .claim_policy_lease(&bucket, 60)
            .await
            .unwrap()
            .expect("expired: B takes it");
        assert!(second.0 > first.0, "every claim bumps the token");
        assert!(a.claim_policy_lease(&bucket, 60).await.unwrap().is_none(), "held by B");

        assert!(!a.policy_lease_held(&bucket, first).await.unwrap(), "A is fenced off");
        assert!(!a.policy_written(&bucket, first, 999).await.unwrap());
        a.release_policy_lease(&bucket, first).await.unwrap();
        assert!(
            a.claim_policy_lease(&bucket, 60).await.unwrap().is_none(),
            "A's release does not free B's lease"
        );

        assert!(b.policy_written(&bucket, second, 1234).await.unwrap());
        assert_eq!(a.shared_policy_bytes(&bucket).await.unwrap(), Some(1234));
        b.release_policy_lease(&bucket, second).await.unwrap();
        let third = a.claim_policy_lease(&bucket, 60).await.unwrap().expect("released");
        assert!(third.0 > second.0);
        let other = BucketName::parse("stsvend-other").unwrap();
        assert!(
            b.claim_policy_lease(&other, 60).await.unwrap().is_some(),
            "another bucket, another lease"
        );
    })
    .await;
}

/// Whether a revocation needs a Deny, and whether a cut-off may move, is read from the audit:
/// when the last session handed out (keys or a URL) ends, and when the user last got one.
#[tokio::test]
async fn the_audit_tells_when_a_users_sessions_end_and_when_they_last_got_one() {
    each_backend(|db| async move {
        let store = db.open().await;
        let a = super::add_user(&store, "auth0|activity").await;
        assert_eq!(
            store.user_activity(&a).await.unwrap(),
            UserActivity::default(),
            "never given anything"
        );
        let t = now();
        let keys_end = t + time::Duration::hours(1);
        store
            .record_vend(VendRecord {
                expiration: keys_end,
                ..super::vend(&a, "ASIAACTIVITY")
            })
            .await
            .unwrap();
        let after_keys = store.user_activity(&a).await.unwrap();
        assert_eq!(after_keys.sessions_until, Some(keys_end));
        assert!(after_keys.last_hand_out.is_some_and(|h| h >= t), "{after_keys:?}");

        let url_ends = t + time::Duration::hours(2);
        store
            .record_presign(PresignRecord {
                user_id: a.clone(),
                access_key_id: "ASIAACTIVITY".to_owned(),
                template: "read-write".to_owned(),
                method: "GET",
                object_key: "x".to_owned(),
                key_is_prefix: false,
                expires_at: url_ends,
                client_addr: None,
                client_id: None,
            })
            .await
            .unwrap();
        assert_eq!(store.user_activity(&a).await.unwrap().sessions_until, Some(url_ends));
        let other = super::add_user(&store, "auth0|quiet").await;
        assert_eq!(store.user_activity(&other).await.unwrap(), UserActivity::default());

        // Each recorded cut-off comes with its user's latest hand-out.
        let bucket = BucketName::parse("stsvend-shared").unwrap();
        let cut_off = t - time::Duration::minutes(10);
        store
            .add_prefix_revocations(&bucket, &[a.clone(), other.clone()], cut_off)
            .await
            .unwrap();
        let alive = store
            .prefix_revocations(&bucket, t - time::Duration::hours(1))
            .await
            .unwrap();
        let of = |u: &crate::identity::UserId| alive.iter().find(|r| &r.user_id == u).unwrap().last_hand_out;
        assert_eq!(of(&a), store.user_activity(&a).await.unwrap().last_hand_out);
        assert!(of(&a).is_some_and(|h| h > cut_off));
        assert_eq!(of(&other), None);
    })
    .await;
}

/// `stsvend selftest` takes its deleted probes' cut-offs out of the shared bucket's policy:
/// only theirs, only on that bucket.
#[tokio::test]
async fn removed_cut_offs_are_gone_and_the_others_stay() {
    use crate::identity::UserId;
    each_backend(|db| async move {
        let store = db.open().await;
        let bucket = BucketName::parse("stsvend-shared").unwrap();
        let other = BucketName::parse("stsvend-other").unwrap();
        let (a, b) = (UserId::derive("i", "a"), UserId::derive("i", "b"));
        let at = now();
        store
            .add_prefix_revocations(&bucket, &[a.clone(), b.clone()], at)
            .await
            .unwrap();
        store
            .add_prefix_revocations(&other, std::slice::from_ref(&a), at)
            .await
            .unwrap();
        store
            .remove_prefix_revocations(&bucket, std::slice::from_ref(&a))
            .await
            .unwrap();
        let since = at - time::Duration::hours(1);
        let left: Vec<UserId> = store
            .prefix_revocations(&bucket, since)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        assert_eq!(left, [b]);
        assert_eq!(store.prefix_revocations(&other, since).await.unwrap().len(), 1);
    })
    .await;
}
