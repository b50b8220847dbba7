//! Prefix-mode rows on every backend: users sharing one bucket, and the shared bucket's
//! revocation cut-offs.

use super::*;

/// Prefix-mode users share one bucket: each row records its prefix, is ready at once, and
/// deleting one leaves the others.
#[tokio::test]
async fn prefix_users_share_a_bucket_each_under_their_own_prefix() {
    each_backend(|db| async move {
        let store = db.open().await;
        let shared = BucketName::parse("stsvend-shared").unwrap();
        let (a, b) = (user("auth0|a"), user("auth0|b"));
        for (id, sub) in [(&a, "auth0|a"), (&b, "auth0|b")] {
            let prefix = UserPrefix::for_user("users", id).unwrap();
            let row = store
                .insert_user(&NewUser {
                    user_id: id,
                    issuer: "https://i/",
                    subject: sub,
                    bucket: &shared,
                    region: "us-east-1",
                    prefix: Some(&prefix),
                })
                .await
                .unwrap();
            assert_eq!(row.state, ProvisionState::Ready);
            assert_eq!(row.prefix.as_ref(), Some(&prefix));
            assert_eq!(row.key_prefix(), format!("users/{id}/"));
            assert_eq!(row.mode_label(), "prefix");
        }
        // A bucket-mode user beside them keeps the old shape.
        let c = add_user(&store, "auth0|c").await;
        let row_c = store.user(&c).await.unwrap().unwrap();
        assert_eq!((row_c.prefix.as_ref(), row_c.mode_label()), (None, "bucket"));
        assert!(store.delete_user(&a).await.unwrap());
        let row_b = store.user(&b).await.unwrap().unwrap();
        assert_eq!(row_b.bucket, shared);
        assert_eq!(row_b.key_prefix(), format!("users/{b}/"));
    })
    .await;
}

/// A shared bucket's cut-offs: the later one of a user wins, and expired ones are dropped.
#[tokio::test]
async fn prefix_revocations_keep_the_latest_cut_off_until_it_expires() {
    each_backend(|db| async move {
        let store = db.open().await;
        let shared = BucketName::parse("stsvend-shared").unwrap();
        let other = BucketName::parse("stsvend-other").unwrap();
        let (a, b) = (user("auth0|a"), user("auth0|b"));
        let t0 = now();
        let later = t0 + time::Duration::seconds(5);
        store
            .add_prefix_revocations(&shared, &[a.clone(), b.clone()], later)
            .await
            .unwrap();
        store
            .add_prefix_revocations(&shared, std::slice::from_ref(&a), t0)
            .await
            .unwrap();
        store
            .add_prefix_revocations(&other, std::slice::from_ref(&a), t0)
            .await
            .unwrap();
        let alive = store.prefix_revocations(&shared, t0).await.unwrap();
        let expected = |u: &UserId| PrefixRevocation {
            user_id: u.clone(),
            cut_off: later,
            last_hand_out: None,
        };
        let mut want = vec![expected(&a), expected(&b)];
        want.sort_by(|x, y| x.user_id.cmp(&y.user_id));
        assert_eq!(alive, want);
        // Past their expiry: gone from this bucket only.
        let after = later + time::Duration::seconds(1);
        assert!(store.prefix_revocations(&shared, after).await.unwrap().is_empty());
        assert_eq!(store.prefix_revocations(&other, t0).await.unwrap().len(), 1);
    })
    .await;
}
