//! What the quota consumer needs of the ledger besides applying: which storages' totals a batch
//! changed (for `usecase::quota::Changed`), and tombstones pruned once no older event can
//! arrive.

use time::OffsetDateTime;

use super::each_backend;
use super::ledger::{DEL, apply, event, event_at, own_storage, put, t, totals};
use crate::store::TOMBSTONE_DAYS;

#[tokio::test]
async fn a_batch_names_only_the_storages_whose_totals_it_changed() {
    each_backend(|db| async move {
        let store = db.open().await;
        let (a, b, c) = (own_storage("auth0|a"), own_storage("auth0|b"), own_storage("auth0|c"));
        apply(&store, &a, vec![event(&a, "x", put(5), "1")]).await;
        let done = store
            .ledger_apply(vec![
                // a: a duplicate; b: a new key; c: the removal of a key never seen.
                (a.clone(), event(&a, "x", put(5), "1")),
                (b.clone(), event(&b, "y", put(7), "1")),
                (c.clone(), event(&c, "ghost", DEL, "1")),
            ])
            .await
            .unwrap();
        assert_eq!((done.applied, done.stale), (2, 1));
        assert_eq!(done.changed, vec![b.clone()]);
        // An overwrite with an object of the same size changes no total either.
        let same = store
            .ledger_apply(vec![(b.clone(), event(&b, "y", put(7), "2"))])
            .await
            .unwrap();
        assert_eq!((same.applied, same.changed), (1, vec![]));
    })
    .await;
}

#[tokio::test]
async fn tombstones_older_than_the_queue_retention_are_pruned_and_nothing_else() {
    each_backend(|db| async move {
        let store = db.open().await;
        let s = own_storage("auth0|a");
        let now = OffsetDateTime::now_utc();
        let old = now - time::Duration::days(TOMBSTONE_DAYS + 1);
        apply(
            &store,
            &s,
            vec![
                event_at(&s, "old-gone", put(3), "1", old),
                event_at(&s, "old-gone", DEL, "2", old),
                event_at(&s, "old-live", put(4), "1", old),
                event(&s, "new-gone", DEL, "1"),
            ],
        )
        .await;
        let cut = now - time::Duration::days(TOMBSTONE_DAYS);
        assert_eq!(store.prune_tombstones(cut).await.unwrap(), 1);
        assert!(store.ledger_object(&s.bucket, "old-gone").await.unwrap().is_none());
        assert!(store.ledger_object(&s.bucket, "old-live").await.unwrap().is_some());
        assert!(
            store
                .ledger_object(&s.bucket, "new-gone")
                .await
                .unwrap()
                .unwrap()
                .removed
        );
        assert_eq!(totals(&store, &s).await, t(4, 1), "totals untouched");
        assert_eq!(store.prune_tombstones(cut).await.unwrap(), 0);
    })
    .await;
}
