//! The `orgs` table on every backend: one row per (issuer, claim) whoever writes first, the
//! pending -> ready steps of a bucket-mode org, and the org id on vend-audit rows.

use super::{add_user, each_backend, vend};
use crate::identity::{BucketName, OrgClaim, OrgId, OrgPrefix};
use crate::store::{NewOrg, ProvisionState};

fn claim(v: &str) -> OrgClaim {
    OrgClaim::parse(v, |_| true).unwrap()
}

#[tokio::test]
async fn an_org_gets_one_row_per_issuer_and_claim_whichever_process_writes_first() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let acme = claim("org_acme");
        let (first_id, second_id) = (OrgId::fresh().unwrap(), OrgId::fresh().unwrap());
        let (first_bucket, second_bucket) = (
            BucketName::fresh("stsvend").unwrap(),
            BucketName::fresh("stsvend").unwrap(),
        );
        assert!(a.org_by_claim("https://i/", &acme).await.unwrap().is_none());
        let new = |id, bucket| NewOrg {
            org_id: id,
            issuer: "https://i/",
            claim: &acme,
            bucket,
            region: "us-east-1",
            prefix: None,
        };
        let won = a.insert_org(&new(&first_id, &first_bucket)).await.unwrap();
        assert_eq!((won.org_id, won.state), (first_id, ProvisionState::Pending));
        // Another process's first vend of the same org, with names of its own: the row stays.
        let again = b.insert_org(&new(&second_id, &second_bucket)).await.unwrap();
        assert_eq!((again.org_id, &again.bucket), (first_id, &first_bucket));
        assert_eq!(a.count_orgs().await.unwrap(), 1);

        // The same claim at another issuer is another organisation.
        let other_id = OrgId::fresh().unwrap();
        let other = a
            .insert_org(&NewOrg {
                issuer: "https://other/",
                ..new(&other_id, &second_bucket)
            })
            .await
            .unwrap();
        assert_eq!(other.org_id, other_id);
        assert_eq!(b.count_orgs().await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_bucket_mode_org_moves_from_pending_to_ready_and_a_prefix_mode_org_starts_ready() {
    each_backend(|db| async move {
        let store = db.open().await;
        let (id, bucket, next) = (
            OrgId::fresh().unwrap(),
            BucketName::fresh("stsvend").unwrap(),
            BucketName::fresh("stsvend").unwrap(),
        );
        let c = claim("org_b");
        let row = store
            .insert_org(&NewOrg {
                org_id: &id,
                issuer: "https://i/",
                claim: &c,
                bucket: &bucket,
                region: "us-east-1",
                prefix: None,
            })
            .await
            .unwrap();
        assert_eq!((row.state, row.key_prefix()), (ProvisionState::Pending, ""));
        store.set_org_bucket(&id, &next, 1).await.unwrap();
        store.mark_org_ready(&id).await.unwrap();
        let ready = store.org_by_claim("https://i/", &c).await.unwrap().unwrap();
        assert_eq!(
            (ready.state, &ready.bucket, ready.candidate),
            (ProvisionState::Ready, &next, 1)
        );
        // A ready org's bucket is never moved.
        store.set_org_bucket(&id, &bucket, 2).await.unwrap();
        assert_eq!(
            store.org_by_claim("https://i/", &c).await.unwrap().unwrap().bucket,
            next
        );

        let (pid, shared) = (OrgId::fresh().unwrap(), BucketName::parse("stsvend-shared").unwrap());
        let prefix = OrgPrefix::for_org("orgs", &pid).unwrap();
        let pc = claim("org_p");
        let row = store
            .insert_org(&NewOrg {
                org_id: &pid,
                issuer: "https://i/",
                claim: &pc,
                bucket: &shared,
                region: "us-east-1",
                prefix: Some(&prefix),
            })
            .await
            .unwrap();
        assert_eq!(row.state, ProvisionState::Ready);
        assert_eq!(row.prefix.as_ref(), Some(&prefix));
    })
    .await;
}

#[tokio::test]
async fn a_vend_audit_row_records_the_org_its_keys_reach() {
    each_backend(|db| async move {
        let store = db.open().await;
        let user = add_user(&store, "auth0|member").await;
        let org = OrgId::fresh().unwrap();
        store
            .record_vend(crate::store::VendRecord {
                org_id: Some(org),
                ..vend(&user, "ASIATEAM")
            })
            .await
            .unwrap();
        store.record_vend(vend(&user, "ASIAOWN")).await.unwrap();
        assert_eq!(
            store.orgs_of_key("ASIATEAM").await.unwrap(),
            vec![Some(org.to_string())]
        );
        assert_eq!(store.orgs_of_key("ASIAOWN").await.unwrap(), vec![None]);
    })
    .await;
}
