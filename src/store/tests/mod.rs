//! The store's behaviour, the same on every backend: each test runs on `SQLite` and on
//! `PostgreSQL` (`test_db::each_backend`; `PostgreSQL` needs `scripts/postgres.sh`).

mod orgs;
mod presign;
mod shared_policy;
mod spill;

use std::time::Duration;

use super::test_db::each_backend;
use crate::identity::{BucketName, UserId, UserPrefix};
use crate::runtime::clock::now;
use crate::store::{AdminAction, Change, NewUser, PrefixRevocation, ProvisionState, Store, UserQuery, VendRecord};

fn new_user<'a>(id: &'a UserId, bucket: &'a BucketName) -> NewUser<'a> {
    NewUser {
        user_id: id,
        issuer: "https://i/",
        subject: "auth0|a",
        bucket,
        region: "us-east-1",
        prefix: None,
    }
}

pub(super) fn user(subject: &str) -> UserId {
    UserId::derive("https://i/", subject)
}

/// Inserts `subject`'s pending row; returns the user id.
/// A fixed bucket name for `id` (the service draws random ones).
pub(super) fn bucket_of(id: &UserId) -> BucketName {
    BucketName::parse(&format!("p-{id}")).unwrap()
}

pub(super) async fn add_user(store: &Store, subject: &str) -> UserId {
    let id = user(subject);
    let bucket = bucket_of(&id);
    store
        .insert_user(&NewUser {
            user_id: &id,
            issuer: "https://i/",
            subject,
            bucket: &bucket,
            region: "us-east-1",
            prefix: None,
        })
        .await
        .unwrap();
    id
}

fn vend(user_id: &UserId, key: &str) -> VendRecord {
    VendRecord {
        user_id: user_id.clone(),
        access_key_id: key.to_owned(),
        template: "read-write".to_owned(),
        expiration: now(),
        client_addr: Some("127.0.0.1".to_owned()),
        client_id: None,
        from_cache: false,
        org_id: None,
    }
}

fn all_users() -> UserQuery {
    UserQuery {
        search: None,
        after: None,
        limit: 100,
    }
}

/// `admit_user` writes new rows up to the limit within the window, counted over every
/// process on the database (two stores here), then refuses new users with the instant room
/// comes back, while a user who has a row is always admitted and nothing is written for a
/// refused one.
#[tokio::test]
async fn new_users_are_admitted_up_to_the_limit_counted_over_every_process() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        let limit = crate::store::NewUserLimit {
            limit: std::num::NonZeroU32::new(2).unwrap(),
            window: Duration::from_hours(1),
        };
        let admit = |store: &Store, subject: &'static str| {
            let store = store.clone();
            async move {
                let id = user(subject);
                let bucket = bucket_of(&id);
                let new = NewUser {
                    subject,
                    ..new_user(&id, &bucket)
                };
                store.admit_user(&new, limit).await.unwrap()
            }
        };
        let first = admit(&a, "auth0|first").await;
        let crate::store::Admission::Row(first) = first else {
            panic!("the first user is admitted: {first:?}")
        };
        assert!(matches!(
            admit(&b, "auth0|second").await,
            crate::store::Admission::Row(_)
        ));
        match admit(&b, "auth0|third").await {
            crate::store::Admission::Full { room_at } => {
                let expected = first.created_at + limit.window;
                assert!(
                    (room_at - expected).abs() < time::Duration::seconds(1),
                    "{room_at} vs {expected}"
                );
            }
            other @ crate::store::Admission::Row(_) => panic!("the third user is over the limit: {other:?}"),
        }
        assert!(a.user(&user("auth0|third")).await.unwrap().is_none(), "no row written");
        let again = admit(&a, "auth0|first").await;
        assert!(matches!(again, crate::store::Admission::Row(r) if r.user_id == first.user_id));
        assert_eq!(a.count_users().await.unwrap(), (0, 2));
        assert_eq!(b.count_buckets().await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn pending_row_is_created_once_and_becomes_ready() {
    each_backend(|db| async move {
        let store = db.open().await;
        let id = user("auth0|a");
        let b0 = bucket_of(&id);
        let first = store.insert_user(&new_user(&id, &b0)).await.unwrap();
        assert_eq!(first.state, ProvisionState::Pending);
        let again = store.insert_user(&new_user(&id, &b0)).await.unwrap();
        assert_eq!(again.created_at, first.created_at);

        let b1 = BucketName::parse(&format!("p-{id}-1")).unwrap();
        store.set_bucket(&id, &b1, 1).await.unwrap();
        store.mark_ready(&id).await.unwrap();
        let row = store.user(&id).await.unwrap().unwrap();
        assert_eq!((row.state, row.bucket, row.candidate), (ProvisionState::Ready, b1, 1));
        assert_eq!(store.count_users().await.unwrap(), (1, 0));
        assert!(store.user(&user("nobody")).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn reopening_keeps_rows_and_schema() {
    each_backend(|db| async move {
        let id = add_user(&db.open().await, "auth0|a").await;
        let row = db.open().await.user(&id).await.unwrap();
        assert_eq!(row.unwrap().bucket, bucket_of(&id));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_starting_together_migrate_once_and_both_work() {
    each_backend(|db| async move {
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { Store::connect(&db.config()).await })
            })
            .collect();
        for open in opens {
            let store = open.await.unwrap().expect("every concurrent start succeeds");
            store.ping().await.unwrap();
        }
        let store = db.open().await;
        add_user(&store, "auth0|a").await;
        assert_eq!(store.count_users().await.unwrap(), (0, 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_logging_in_the_same_user_at_once_make_one_row() {
    each_backend(|db| async move {
        let (a, b) = (db.open().await, db.open().await);
        for i in 0..20 {
            let subject = format!("auth0|{i}");
            let (ra, rb) = tokio::join!(
                tokio::spawn({
                    let (a, s) = (a.clone(), subject.clone());
                    async move { add_user(&a, &s).await }
                }),
                tokio::spawn({
                    let (b, s) = (b.clone(), subject.clone());
                    async move { add_user(&b, &s).await }
                }),
            );
            assert_eq!(ra.unwrap(), rb.unwrap());
            let (ua, ub) = (
                a.user(&user(&subject)).await.unwrap(),
                b.user(&user(&subject)).await.unwrap(),
            );
            assert_eq!(ua.unwrap().created_at, ub.unwrap().created_at, "both see the one row");
        }
        assert_eq!(a.count_users().await.unwrap(), (0, 20));
    })
    .await;
}

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
        let who: Vec<&UserId> = all.iter().map(|c| &c.user_id).collect();
        assert_eq!(who, [&b, &a, &b, &a]);
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
        assert_eq!(changes.last().map(|c| &c.user_id), Some(&id));
    })
    .await;
}

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
