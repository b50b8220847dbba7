//! The vend audit and the admin-action log on every backend: rows lead back to their user,
//! keep submission order, count repeats, and admin actions list newest first.

use super::*;

#[tokio::test]
async fn audit_rows_lead_back_to_the_user_also_after_deletion() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = add_user(&store, "auth0|a").await;
        store.record_vend(vend(&id, "ASIAEXAMPLE")).await.unwrap();
        let found = store.key_owner("ASIAEXAMPLE").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].user_id, id.as_str());
        assert_eq!((found[0].hand_outs, found[0].user_deleted), (1, false));
        assert_eq!(found[0].client_addr.as_deref(), Some("127.0.0.1"));
        assert!(store.key_owner("ASIAOTHER").await.unwrap().is_empty());

        assert!(store.delete_user(&id).await.unwrap());
        assert!(!store.delete_user(&id).await.unwrap(), "already gone");
        let found = store.key_owner("ASIAEXAMPLE").await.unwrap();
        assert!(found[0].user_deleted);
        assert_eq!(found[0].subject.as_deref(), Some("auth0|a"));
    })
    .await;
}

#[tokio::test]
async fn sequential_rows_get_increasing_ids_in_submission_order() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = user("auth0|a");
        let mut last = 0;
        for i in 0..5 {
            let row = store.record_vend(vend(&id, &format!("ASIA{i}"))).await.unwrap();
            assert!(row > last, "ids increase in order");
            last = row;
        }
        assert_eq!(
            store.keys_of_user(&id).await.unwrap(),
            ["ASIA0", "ASIA1", "ASIA2", "ASIA3", "ASIA4"]
        );
        assert_eq!(store.audit_commits(), 5, "one commit each when nothing else is queued");
    })
    .await;
}

#[tokio::test]
async fn the_user_list_and_the_single_user_view_agree_on_the_last_vend_after_a_repeat() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = add_user(&store, "auth0|a").await;
        let row = store.record_vend(vend(&id, "ASIAEXAMPLE")).await.unwrap();
        let first = store.last_vend(&id).await.unwrap().unwrap();
        // A repeat hand-out of the same keys, a second later, moves the last vend.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        store.note_repeat(row);
        let shown = store.last_vend(&id).await.unwrap().unwrap();
        assert!(shown > first, "the repeat counts: {shown} after {first}");
        let listed = store.list_users(all_users()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1.as_deref(), Some(shown.as_str()));
        assert_eq!(store.key_owner("ASIAEXAMPLE").await.unwrap()[0].hand_outs, 2);
    })
    .await;
}

#[tokio::test]
async fn repeat_counts_reach_the_database_within_a_second_without_a_flush() {
    each_backend(|db| async move {
        let (store, other) = (db.open().await, db.open().await);
        let id = add_user(&store, "auth0|a").await;
        let row = store.record_vend(vend(&id, "ASIAEXAMPLE")).await.unwrap();
        // One repeat, and no further request: a timer writes it (both backends).
        store.note_repeat(row);
        tokio::time::sleep(Duration::from_millis(2200)).await;
        // `other` has nothing pending: what it reads, `store` wrote.
        let seen = other.key_owner("ASIAEXAMPLE").await.unwrap()[0].hand_outs;
        assert!(seen >= 2, "counts written without a flush: {seen}");
    })
    .await;
}

#[tokio::test]
async fn users_are_listed_in_id_order_by_page_and_found_by_any_case() {
    each_backend(|db| async move {
        let store = db.open().await;
        for s in ["auth0|Alice", "auth0|bob", "auth0|carol"] {
            add_user(&store, s).await;
        }
        let all = store.list_users(all_users()).await.unwrap();
        let ids: Vec<String> = all.iter().map(|(u, _)| u.user_id.as_str().to_owned()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let page = store
            .list_users(UserQuery {
                search: None,
                after: Some(ids[0].clone()),
                limit: 1,
            })
            .await
            .unwrap();
        assert_eq!(page[0].0.user_id.as_str(), ids[1]);
        let found = store
            .list_users(UserQuery {
                search: Some("ALICE".to_owned()),
                after: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.subject, "auth0|Alice");
        let none = store
            .list_users(UserQuery {
                search: Some("%".to_owned()),
                after: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert!(none.is_empty(), "`%` is matched literally");
    })
    .await;
}

#[tokio::test]
async fn admin_actions_are_recorded_finished_and_listed_newest_first() {
    each_backend(|db| async move {
        let store = db.open().await;
        let action = |target: &str| AdminAction {
            at: "2026-11-30T05:00:00Z".to_owned(),
            actor: "ops".to_owned(),
            actor_client: None,
            action: "disable".to_owned(),
            target: Some(target.to_owned()),
            outcome: "started".to_owned(),
            detail: None,
            client_addr: None,
        };
        let a = store.record_admin_action(action("u1")).await.unwrap();
        let b = store.record_admin_action(action("u2")).await.unwrap();
        assert!(b > a);
        store
            .finish_admin_action(a, "ok", Some("done".to_owned()))
            .await
            .unwrap();
        let all = store.admin_actions(None, 10).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].target.as_deref(), Some("u2"), "newest first");
        let u1 = store.admin_actions(Some("u1".to_owned()), 10).await.unwrap();
        assert_eq!((u1[0].outcome.as_str(), u1[0].detail.as_deref()), ("ok", Some("done")));
    })
    .await;
}
