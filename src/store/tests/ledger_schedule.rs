//! Reconciliation's schedule and the largest owners, on every backend: two replicas claiming
//! at once take each due owner once, an on-demand claim waits for a held one, a claim whose
//! holder died lapses, and the largest owners come by bytes in their current storage only.

use time::{Duration, OffsetDateTime};

use super::ledger::{add_user_in, apply, event, put};
use super::ledger_owners::add_org;
use super::{each_backend, user};
use crate::identity::{BucketName, OrgId, Owner, OwnerStorage, UserPrefix};
use crate::store::{OwnerKind, UsageCursor};

const HOUR: Duration = Duration::hours(1);

#[tokio::test]
async fn two_replicas_claim_each_due_owner_once_per_period() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let shared = BucketName::parse("stsvend-shared").unwrap();
        for n in 0..6 {
            let subject = format!("auth0|{n}");
            let prefix = UserPrefix::for_user("users", &user(&subject)).unwrap();
            add_user_in(&a, &subject, &shared, Some(&prefix)).await;
        }
        let org = OrgId::fresh().unwrap();
        add_org(&a, "acme", &BucketName::parse("stsvend-acme").unwrap(), None, &org).await;
        let now = OffsetDateTime::now_utc();
        assert_eq!(a.schedule_owners(now, HOUR).await.unwrap(), 7);
        assert_eq!(b.schedule_owners(now, HOUR).await.unwrap(), 0, "once");
        let (due, running) = a.reconciliation_due(&Owner::Org(org), now).await.unwrap().unwrap();
        assert!(
            due >= now - Duration::milliseconds(1) && due < now + HOUR,
            "within the first period: {due}"
        );
        assert!(!running);

        // Both replicas claim, two at a time, at the end of the first period.
        let at = now + HOUR;
        let mut claimed = Vec::new();
        loop {
            let (x, y) = tokio::join!(
                a.claim_due_reconciliations(at, HOUR, Duration::minutes(5), 2),
                b.claim_due_reconciliations(at, HOUR, Duration::minutes(5), 2)
            );
            let (x, y) = (x.unwrap(), y.unwrap());
            if x.is_empty() && y.is_empty() {
                break;
            }
            claimed.extend(x.into_iter().chain(y));
        }
        claimed.sort_by(|p, q| (p.kind(), p.id()).cmp(&(q.kind(), q.id())));
        let before = claimed.len();
        claimed.dedup();
        assert_eq!((before, claimed.len()), (7, 7), "each owner once");
        for owner in &claimed {
            a.release_reconciliation(owner, None).await.unwrap();
        }
        assert!(
            a.claim_due_reconciliations(at, HOUR, Duration::minutes(5), 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A period later, due again.
        let next = a
            .claim_due_reconciliations(at + HOUR, HOUR, Duration::minutes(5), 10)
            .await
            .unwrap();
        assert_eq!(next.len(), 7);
    })
    .await;
}

#[tokio::test]
async fn an_on_demand_claim_waits_for_a_held_one_and_a_dead_holders_claim_lapses() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let owner = Owner::User(user("auth0|a"));
        let now = OffsetDateTime::now_utc();
        let lease = Duration::minutes(5);
        assert!(a.claim_reconciliation(&owner, now, lease).await.unwrap(), "no row yet");
        assert!(!b.claim_reconciliation(&owner, now, lease).await.unwrap(), "held");
        assert!(a.reconciliation_due(&owner, now).await.unwrap().unwrap().1);
        let later = now + HOUR;
        a.release_reconciliation(&owner, Some(later)).await.unwrap();
        assert_eq!(
            a.reconciliation_due(&owner, now).await.unwrap().unwrap(),
            (ms(later), false)
        );
        assert!(b.claim_reconciliation(&owner, now, lease).await.unwrap(), "released");
        // Its holder never releases it: it lapses after the lease, also for the schedule.
        assert!(
            !a.claim_reconciliation(&owner, now + Duration::minutes(4), lease)
                .await
                .unwrap()
        );
        assert!(
            a.claim_reconciliation(&owner, now + Duration::minutes(6), lease)
                .await
                .unwrap()
        );
        let due = a
            .claim_due_reconciliations(later + Duration::minutes(12), HOUR, lease, 5)
            .await
            .unwrap();
        assert_eq!(due, vec![owner]);
    })
    .await;
}

/// `t` as the schedule stores it (whole milliseconds).
fn ms(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(u32::from(t.millisecond()) * 1_000_000).unwrap()
}

#[tokio::test]
async fn the_largest_owners_come_by_bytes_in_their_current_storage_a_page_at_a_time() {
    each_backend(|db| async move {
        let store = db.open().await;
        let mut storages = Vec::new();
        for (n, size) in [("a", 10), ("b", 30), ("c", 20), ("d", 30)] {
            let subject = format!("auth0|{n}");
            let bucket = BucketName::parse(&format!("stsvend-{n}-bucket")).unwrap();
            add_user_in(&store, &subject, &bucket, None).await;
            let s = OwnerStorage {
                owner: Owner::User(user(&subject)),
                bucket,
                prefix: String::new(),
            };
            apply(&store, &s, vec![event(&s, "k", put(size), "1")]).await;
            storages.push(s);
        }
        // `a` deleted and created again with a new, empty bucket: its old 10 bytes are not theirs.
        assert!(store.delete_user(&user("auth0|a")).await.unwrap());
        add_user_in(&store, "auth0|a", &BucketName::parse("stsvend-a-new").unwrap(), None).await;
        let org = OrgId::fresh().unwrap();
        let org_bucket = BucketName::parse("stsvend-org-bucket").unwrap();
        add_org(&store, "acme", &org_bucket, None, &org).await;
        let o = OwnerStorage {
            owner: Owner::Org(org),
            bucket: org_bucket,
            prefix: String::new(),
        };
        apply(&store, &o, vec![event(&o, "k", put(99), "1")]).await;

        let ids = |page: &[crate::store::Usage]| page.iter().map(|u| u.owner.clone()).collect::<Vec<_>>();
        let (b, c, d) = (&storages[1].owner, &storages[2].owner, &storages[3].owner);
        let mut tied = [b.clone(), d.clone()];
        tied.sort_by(|p, q| p.id().cmp(q.id()));
        let first = store.largest_usage(OwnerKind::User, None, 2).await.unwrap();
        assert_eq!(ids(&first), tied.to_vec(), "30 bytes each, by id");
        assert_eq!(first[0].totals.bytes, 30);
        let last = first.last().unwrap();
        let cursor = UsageCursor {
            bytes: last.totals.bytes,
            owner_id: last.owner.id().to_owned(),
        };
        let second = store.largest_usage(OwnerKind::User, Some(cursor), 2).await.unwrap();
        assert_eq!(ids(&second), vec![c.clone()], "a's old bucket is not shown");
        let orgs = store.largest_usage(OwnerKind::Org, None, 10).await.unwrap();
        assert_eq!((ids(&orgs), orgs[0].totals.bytes), (vec![Owner::Org(org)], 99));
    })
    .await;
}
