//! The fenced lease on writing a shared bucket's policy.

use crate::identity::BucketName;
use crate::store::test_db::each_backend;

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
