//! The change feed on every backend: each state change in order, its head kept when pruned,
//! and a commit by one replica waking the others.

use super::*;

#[tokio::test]
async fn the_change_feed_lists_every_state_change_in_order_and_keeps_its_head_when_pruned() {
    each_backend(|db| async move {
        let store = db.open().await;
        assert_eq!(store.latest_change().await.unwrap(), 0);
        assert_eq!(store.oldest_change().await.unwrap(), 0);
        let (a, b) = (add_user(&store, "auth0|a").await, add_user(&store, "auth0|b").await);
        assert_eq!(store.latest_change().await.unwrap(), 0, "a pending row is no change");
        store.mark_ready(&a).await.unwrap();
        assert_eq!(store.latest_change().await.unwrap(), 0, "nor is a finished first login");
        assert!(store.set_disabled(&b, true).await.unwrap());
        store.set_revoked_before(&a, now()).await.unwrap();
        assert!(store.set_disabled(&b, false).await.unwrap());
        store.delete_user(&a).await.unwrap();
        let row = store.user(&b).await.unwrap().unwrap();
        assert!(row.disabled_at.is_none());

        let all = store.changes_since(0, 100).await.unwrap();
        let who: Vec<&Changed> = all.iter().map(|c| &c.what).collect();
        let (ca, cb) = (Changed::User(a.clone()), Changed::User(b.clone()));
        assert_eq!(who, [&cb, &ca, &cb, &ca]);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        let head = store.latest_change().await.unwrap();
        assert_eq!(head, all[3].seq);
        assert_eq!(store.changes_since(all[0].seq, 2).await.unwrap(), all[1..3].to_vec());

        assert_eq!(store.oldest_change().await.unwrap(), all[0].seq);
        let pruned = store.prune_changes(now() + time::Duration::minutes(1)).await.unwrap();
        assert_eq!(pruned, 3, "all but the newest");
        assert_eq!(store.latest_change().await.unwrap(), head);
        assert_eq!(
            store.oldest_change().await.unwrap(),
            head,
            "the oldest kept is the head"
        );
        assert!(store.set_disabled(&b, true).await.unwrap());
        let next: Vec<Change> = store.changes_since(head, 10).await.unwrap();
        assert!(next.len() == 1 && next[0].seq > head, "the sequence goes on: {next:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_committed_by_one_replica_wakes_the_others_signal() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let Some(signal) = b.change_signal() else {
            assert!(!db.is_postgres(), "PostgreSQL announces changes");
            return;
        };
        let wait = || tokio::time::timeout(Duration::from_secs(5), signal.notified());
        wait().await.expect("the listener wakes the signal once it listens");
        let id = add_user(&a, "auth0|a").await;
        a.set_disabled(&id, true).await.unwrap();
        wait().await.expect("woken by the other replica's change");
        let changes = b.changes_since(0, 10).await.unwrap();
        assert_eq!(changes.last().map(|c| &c.what), Some(&Changed::User(id)));
    })
    .await;
}
