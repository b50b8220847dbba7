//! What operators do to organisations, on every backend: each state change in the change feed
//! naming the org, disable and enable, the later cut-off winning (the org's and one member's),
//! lookups by id and by search, the members the vend audit saw, and delete.

use super::{add_user, each_backend, vend};
use crate::identity::{BucketName, OrgClaim, OrgId};
use crate::runtime::clock::now;
use crate::store::{Changed, NewOrg, OrgQuery, OrgRecord, Store, VendRecord};

/// Inserts a bucket-mode org known by `claim`; returns its row.
async fn add_org(store: &Store, claim: &str) -> OrgRecord {
    let (id, bucket) = (OrgId::fresh().unwrap(), BucketName::fresh("stsvend").unwrap());
    let claim = OrgClaim::parse(claim, |_| true).unwrap();
    store
        .insert_org(&NewOrg {
            org_id: &id,
            issuer: "https://i/",
            claim: &claim,
            bucket: &bucket,
            region: "us-east-1",
            prefix: None,
        })
        .await
        .unwrap()
}

fn page(search: Option<&str>, after: Option<String>, limit: u32) -> OrgQuery {
    OrgQuery {
        search: search.map(str::to_owned),
        after,
        limit,
    }
}

#[tokio::test]
async fn every_state_change_of_an_org_is_in_the_change_feed_naming_the_org() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let org = add_org(&a, "org_acme").await.org_id;
        let user = add_user(&a, "auth0|member").await;
        assert_eq!(a.latest_change().await.unwrap(), 0, "a new org is no change");
        assert!(a.set_org_disabled(&org, true).await.unwrap());
        assert!(a.set_org_revoked_before(&org, now()).await.unwrap());
        assert!(a.set_disabled(&user, true).await.unwrap());
        assert!(a.set_member_revoked_before(&org, &user, now()).await.unwrap());
        assert!(a.delete_org(&org).await.unwrap());
        // Read by another process, in commit order, users and orgs alike.
        let what: Vec<Changed> = b
            .changes_since(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.what)
            .collect();
        let o = Changed::Org(org);
        assert_eq!(what, [o.clone(), o.clone(), Changed::User(user), o.clone(), o]);
    })
    .await;
}

#[tokio::test]
async fn an_org_is_disabled_and_enabled_and_its_latest_cut_offs_win() {
    each_backend(|db| async move {
        let store = db.open().await;
        let row = add_org(&store, "org_acme").await;
        let (org, member, other) = (
            row.org_id,
            add_user(&store, "auth0|m").await,
            add_user(&store, "auth0|o").await,
        );
        assert_eq!((row.disabled_at, row.revoked_before), (None, None));
        assert!(row.members_revoked.is_empty());

        assert!(store.set_org_disabled(&org, true).await.unwrap());
        let first = store.org(&org).await.unwrap().unwrap().disabled_at.expect("disabled");
        assert!(store.set_org_disabled(&org, true).await.unwrap());
        let again = store.org(&org).await.unwrap().unwrap();
        assert_eq!(
            (again.disabled_at, again.state_label()),
            (Some(first), "disabled"),
            "disabling twice keeps the first instant"
        );
        assert!(store.set_org_disabled(&org, false).await.unwrap());
        assert!(store.org(&org).await.unwrap().unwrap().disabled_at.is_none());

        let (early, late) = (now(), now() + time::Duration::minutes(5));
        store.set_org_revoked_before(&org, late).await.unwrap();
        store.set_org_revoked_before(&org, early).await.unwrap();
        store.set_member_revoked_before(&org, &member, late).await.unwrap();
        store.set_member_revoked_before(&org, &member, early).await.unwrap();
        let row = store.org(&org).await.unwrap().unwrap();
        assert_eq!(row.revoked_before, Some(late), "the later org cut-off stays");
        assert_eq!(
            row.members_revoked,
            vec![(member.clone(), late)],
            "so does the member's"
        );
        assert_eq!(row.cut_off_for(&other), Some(late));

        let missing = OrgId::fresh().unwrap();
        assert!(!store.set_org_disabled(&missing, true).await.unwrap());
        assert!(!store.set_org_revoked_before(&missing, early).await.unwrap());
        assert!(!store.set_member_revoked_before(&missing, &member, early).await.unwrap());
        assert!(store.org(&missing).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn orgs_are_listed_by_id_prefix_or_part_of_the_claim_in_pages_with_their_members() {
    each_backend(|db| async move {
        let store = db.open().await;
        let acme = add_org(&store, "org_Acme_West").await;
        let beta = add_org(&store, "org_beta").await;
        let (m1, m2) = (add_user(&store, "auth0|m1").await, add_user(&store, "auth0|m2").await);
        for (user, key) in [(&m1, "ASIAONE"), (&m2, "ASIATWO"), (&m1, "ASIATHREE")] {
            store
                .record_vend(VendRecord {
                    org_id: Some(acme.org_id),
                    ..vend(user, key)
                })
                .await
                .unwrap();
        }
        store.record_vend(vend(&m1, "ASIAOWN")).await.unwrap();

        let ids = |rows: Vec<(OrgRecord, Option<String>)>| rows.into_iter().map(|(o, _)| o.org_id).collect::<Vec<_>>();
        let mut both = vec![acme.org_id, beta.org_id];
        both.sort();
        assert_eq!(ids(store.list_orgs(page(None, None, 10)).await.unwrap()), both);
        assert_eq!(ids(store.list_orgs(page(None, None, 1)).await.unwrap()), both[..1]);
        assert_eq!(
            ids(store
                .list_orgs(page(None, Some(both[0].to_string()), 10))
                .await
                .unwrap()),
            both[1..]
        );
        assert_eq!(
            ids(store.list_orgs(page(Some("acme_w"), None, 10)).await.unwrap()),
            [acme.org_id],
            "any part of the claim, either case"
        );
        assert_eq!(
            ids(store
                .list_orgs(page(Some(&beta.org_id.as_str()[..8]), None, 10))
                .await
                .unwrap()),
            [beta.org_id]
        );
        assert!(
            store.list_orgs(page(Some("%"), None, 10)).await.unwrap().is_empty(),
            "LIKE characters are literal"
        );

        let listed = store.list_orgs(page(Some("acme"), None, 10)).await.unwrap();
        assert!(listed[0].1.is_some(), "the org's last vend");
        assert_eq!(store.org_last_vend(&acme.org_id).await.unwrap(), listed[0].1);
        assert_eq!(store.org_last_vend(&beta.org_id).await.unwrap(), None);

        let members = store.org_members(&acme.org_id, 1).await.unwrap();
        let mut seen = [m1, m2];
        seen.sort();
        assert_eq!((members.count, members.first), (2, seen[..1].to_vec()));
        assert_eq!(store.org_members(&beta.org_id, 10).await.unwrap().count, 0);
    })
    .await;
}

#[tokio::test]
async fn a_deleted_org_is_gone_and_its_claim_makes_a_new_org() {
    each_backend(|db| async move {
        let store = db.open().await;
        let old = add_org(&store, "org_acme").await;
        let member = add_user(&store, "auth0|m").await;
        store
            .set_member_revoked_before(&old.org_id, &member, now())
            .await
            .unwrap();
        assert!(store.delete_org(&old.org_id).await.unwrap());
        assert!(
            !store.delete_org(&old.org_id).await.unwrap(),
            "deleting again finds nothing"
        );
        assert!(store.org(&old.org_id).await.unwrap().is_none());
        let claim = OrgClaim::parse("org_acme", |_| true).unwrap();
        assert!(store.org_by_claim("https://i/", &claim).await.unwrap().is_none());
        let new = add_org(&store, "org_acme").await;
        assert_ne!((new.org_id, &new.bucket), (old.org_id, &old.bucket));
        assert!(new.members_revoked.is_empty(), "the old org's cut-offs went with it");
    })
    .await;
}
