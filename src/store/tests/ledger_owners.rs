//! Whose storage a key is in, on every backend: own buckets of users and orgs, prefixes of the
//! shared bucket, keys of nobody, and an owner deleted and created again with new storage.

use std::time::Duration;

use super::ledger::{add_user_in, apply, put, t, totals};
use super::{bucket_of, each_backend, user};
use crate::identity::{BucketName, OrgClaim, OrgId, OrgPrefix, Owner, OwnerStorage, UserPrefix};
use crate::store::{NewOrg, OwnerResolver, Store};

pub(super) async fn add_org(store: &Store, claim: &str, bucket: &BucketName, prefix: Option<&OrgPrefix>, id: &OrgId) {
    store
        .insert_org(&NewOrg {
            org_id: id,
            issuer: "https://i/",
            claim: &OrgClaim::parse(claim, |_| true).unwrap(),
            bucket,
            region: "us-east-1",
            prefix,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn keys_resolve_to_own_buckets_and_to_prefixes_of_the_shared_bucket() {
    each_backend(|db| async move {
        let store = db.open().await;
        let shared = BucketName::parse("stsvend-shared").unwrap();
        let u = user("auth0|u");
        add_user_in(&store, "auth0|u", &bucket_of(&u), None).await;
        let (own_org, prefix_org) = (OrgId::fresh().unwrap(), OrgId::fresh().unwrap());
        let org_bucket = BucketName::parse("stsvend-org-bucket").unwrap();
        add_org(&store, "org_own", &org_bucket, None, &own_org).await;
        let org_prefix = OrgPrefix::for_org("teams/x", &prefix_org).unwrap();
        add_org(&store, "org_prefix", &shared, Some(&org_prefix), &prefix_org).await;
        // The shared bucket is known from the org's prefix-mode row (no configured one here).
        let owners = OwnerResolver::new(store.clone(), "users", "teams/x", None);
        let resolve = |bucket: String, key: &'static str| {
            let owners = &owners;
            async move { owners.resolve(&bucket, key).await.unwrap() }
        };
        let own = |owner, bucket: &BucketName| {
            Some(OwnerStorage {
                owner,
                bucket: bucket.clone(),
                prefix: String::new(),
            })
        };
        assert_eq!(
            resolve(bucket_of(&u).to_string(), "any/key").await,
            own(Owner::User(u.clone()), &bucket_of(&u))
        );
        assert_eq!(
            resolve(org_bucket.to_string(), "k").await,
            own(Owner::Org(own_org), &org_bucket)
        );
        let p = user("auth0|p");
        let user_key: &'static str = format!("users/{p}/a/b.txt").leak();
        assert_eq!(
            resolve(shared.to_string(), user_key).await,
            Some(OwnerStorage {
                owner: Owner::User(p.clone()),
                bucket: shared.clone(),
                prefix: UserPrefix::for_user("users", &p).unwrap().as_str().to_owned(),
            }),
            "a prefix owns its keys before its user has a row"
        );
        let org_key: &'static str = format!("teams/x/{prefix_org}/f").leak();
        assert_eq!(
            resolve(shared.to_string(), org_key).await.map(|s| (s.owner, s.prefix)),
            Some((Owner::Org(prefix_org), org_prefix.as_str().to_owned()))
        );
        let bare: &'static str = format!("users/{p}").leak();
        for nobody in ["k", "users/", "users/x/k", "teams/x/k", "teams/xo/k", bare] {
            assert_eq!(resolve(shared.to_string(), nobody).await, None, "{nobody}");
        }
        assert_eq!(resolve("stsvend-unknown".to_owned(), "k").await, None);
        assert_eq!(resolve("Bad.Bucket".to_owned(), "k").await, None);
    })
    .await;
}

/// A user deleted and created again gets a new bucket: their usage is read from it and starts
/// at zero, and once the old entry expires the old bucket belongs to nobody.
#[tokio::test]
async fn an_owner_deleted_and_created_again_counts_only_their_new_storage() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = user("auth0|a");
        let (old, new) = (
            BucketName::parse("stsvend-old-bucket").unwrap(),
            BucketName::parse("stsvend-new-bucket").unwrap(),
        );
        add_user_in(&store, "auth0|a", &old, None).await;
        let owners = OwnerResolver::new(store.clone(), "users", "orgs", None).with_ttl(Duration::ZERO);
        let first = owners.resolve(old.as_str(), "k").await.unwrap().unwrap();
        apply(&store, &first, vec![super::ledger::event(&first, "k", put(70), "1")]).await;

        assert!(store.delete_user(&id).await.unwrap());
        add_user_in(&store, "auth0|a", &new, None).await;
        assert_eq!(owners.resolve(old.as_str(), "k").await.unwrap(), None);
        let second = owners.resolve(new.as_str(), "k").await.unwrap().unwrap();
        assert_eq!((&second.owner, &second.bucket), (&Owner::User(id.clone()), &new));
        assert_eq!(totals(&store, &second).await, t(0, 0));
        apply(&store, &second, vec![super::ledger::event(&second, "k", put(5), "1")]).await;
        assert_eq!(totals(&store, &second).await, t(5, 1));
        assert_eq!(
            totals(&store, &first).await,
            t(70, 1),
            "the old bucket's figures stay apart"
        );
    })
    .await;
}

/// The configured shared bucket is shared before any prefix-mode row names it, and a cached
/// answer is dropped by `forget`.
#[tokio::test]
async fn the_configured_shared_bucket_needs_no_row_and_forget_drops_a_cached_answer() {
    each_backend(|db| async move {
        let store = db.open().await;
        let shared = BucketName::parse("stsvend-shared").unwrap();
        let owners = OwnerResolver::new(store.clone(), "users", "orgs", Some(shared.clone()));
        let p = user("auth0|p");
        let key = format!("users/{p}/k");
        assert!(owners.resolve(shared.as_str(), &key).await.unwrap().is_some());

        let late = BucketName::parse("stsvend-late").unwrap();
        assert_eq!(owners.resolve(late.as_str(), "k").await.unwrap(), None);
        add_user_in(&store, "auth0|late", &late, None).await;
        assert_eq!(owners.resolve(late.as_str(), "k").await.unwrap(), None, "cached");
        owners.forget(&late);
        assert!(owners.resolve(late.as_str(), "k").await.unwrap().is_some());
    })
    .await;
}
