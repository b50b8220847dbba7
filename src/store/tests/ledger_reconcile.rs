//! Reconciling one storage from a listing, on every backend: the listing replaces what events
//! left wrong and reports the drift, events newer than the listing's start win over it, and
//! events older than it arriving late change nothing.

use time::{Duration, OffsetDateTime};

use super::each_backend;
use super::ledger::{DEL, apply, event, event_at, own_storage, put, t, totals};
use crate::identity::{Owner, OwnerStorage, UserPrefix};
use crate::store::{LISTING_SKEW, Reconciled};

fn page(entries: &[(&str, u64)]) -> Vec<(String, u64)> {
    entries.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect()
}

#[tokio::test]
async fn a_listing_replaces_what_events_got_wrong_and_reports_the_drift() {
    each_backend(|db| async move {
        let store = db.open().await;
        let s = own_storage("auth0|a");
        let hour_ago = OffsetDateTime::now_utc() - Duration::hours(1);
        // The ledger saw a (5), b (7), and z removed; the events for c were lost and b's
        // removal too.
        apply(
            &store,
            &s,
            vec![
                event_at(&s, "a", put(5), "1", hour_ago),
                event_at(&s, "b", put(7), "1", hour_ago),
                event_at(&s, "z", DEL, "1", hour_ago),
            ],
        )
        .await;
        assert_eq!(totals(&store, &s).await, t(12, 2));
        let started = OffsetDateTime::now_utc();
        let listing = store.begin_listing(&s, started).await.unwrap();
        store.add_listed(listing, page(&[("a", 5), ("c", 11)])).await.unwrap();
        store.add_listed(listing, page(&[("z", 2)])).await.unwrap();
        let done = store.finish_listing(listing).await.unwrap().unwrap();
        assert_eq!(
            done,
            Reconciled {
                before: t(12, 2),
                after: t(18, 3)
            }
        );
        assert_eq!(done.drift(), t(6, 1));
        assert_eq!(totals(&store, &s).await, t(18, 3));
        assert!(store.ledger_object(&s.bucket, "b").await.unwrap().unwrap().removed);
        assert!(!store.ledger_object(&s.bucket, "z").await.unwrap().unwrap().removed);
        let usage = store.ledger_usage(&s.bucket, "").await.unwrap().unwrap();
        assert!(usage.as_of >= started - Duration::milliseconds(1), "as of the listing");
        // A listing's rows take any later event.
        assert_eq!(apply(&store, &s, vec![event(&s, "c", put(1), "1")]).await, (1, 0));
        assert_eq!(totals(&store, &s).await, t(8, 3));
        // Finished: gone.
        assert_eq!(store.finish_listing(listing).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn events_applied_while_the_listing_ran_win_and_older_late_events_are_stale() {
    each_backend(|db| async move {
        let store = db.open().await;
        let s = own_storage("auth0|a");
        let long_ago = OffsetDateTime::now_utc() - Duration::hours(2);
        apply(&store, &s, vec![event_at(&s, "a", put(5), "10", long_ago)]).await;
        let started = OffsetDateTime::now_utc();
        let listing = store.begin_listing(&s, started).await.unwrap();
        store.add_listed(listing, page(&[("a", 5), ("gone", 4)])).await.unwrap();
        // While the listing runs: a is overwritten, d created, "gone" removed; the pages
        // already listed say otherwise.
        let during = started + Duration::milliseconds(5);
        apply(
            &store,
            &s,
            vec![
                event_at(&s, "a", put(9), "20", during),
                event_at(&s, "d", put(3), "20", during),
                event_at(&s, "gone", DEL, "20", during),
            ],
        )
        .await;
        let done = store.finish_listing(listing).await.unwrap().unwrap();
        assert_eq!(done.after, t(12, 2), "the events' state: a 9, d 3");
        assert_eq!(totals(&store, &s).await, t(12, 2));

        // Events from before the listing's start (less the skew) arrive late: the listing
        // already reflects them, whatever their sequencer.
        let before = started - LISTING_SKEW - Duration::seconds(1);
        let late = vec![
            event_at(&s, "old-new-key", put(100), "5", before),
            event_at(&s, "a", put(100), "30", before),
            event_at(&s, "d", DEL, "30", before),
        ];
        assert_eq!(apply(&store, &s, late).await, (0, 3));
        assert_eq!(totals(&store, &s).await, t(12, 2));
    })
    .await;
}

#[tokio::test]
async fn a_listing_in_many_pages_keeps_to_its_prefix_and_can_be_abandoned() {
    each_backend(|db| async move {
        let store = db.open().await;
        let p = super::user("auth0|p");
        let s = OwnerStorage {
            owner: Owner::User(p.clone()),
            bucket: crate::identity::BucketName::parse("stsvend-shared").unwrap(),
            prefix: UserPrefix::for_user("users", &p).unwrap().as_str().to_owned(),
        };
        let listing = store.begin_listing(&s, OffsetDateTime::now_utc()).await.unwrap();
        for n in 0..5 {
            let keys: Vec<(String, u64)> = (0..200).map(|i| (format!("{}k{n}-{i}", s.prefix), 2)).collect();
            store.add_listed(listing, keys).await.unwrap();
        }
        store
            .add_listed(listing, page(&[("users/someone-else/k", 1_000), ("top", 1_000)]))
            .await
            .unwrap();
        let done = store.finish_listing(listing).await.unwrap().unwrap();
        assert_eq!((done.before, done.after), (t(0, 0), t(2_000, 1_000)));

        let abandoned = store.begin_listing(&s, OffsetDateTime::now_utc()).await.unwrap();
        store.add_listed(abandoned, page(&[])).await.unwrap();
        store.abandon_listing(abandoned).await.unwrap();
        assert_eq!(store.finish_listing(abandoned).await.unwrap(), None);
        store.add_listed(abandoned, page(&[("x", 1)])).await.unwrap();
        assert_eq!(totals(&store, &s).await, t(2_000, 1_000), "nothing changed");
    })
    .await;
}
