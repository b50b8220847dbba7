//! Quota overrides and states on every backend: overrides set, replaced and removed; levels
//! recorded from the ledger's totals, only when they change; over-quota owners by bucket; and
//! every change on the feed.

use super::ledger::{DEL, apply, event, own_storage, put};
use super::{each_backend, user};
use crate::identity::{BucketName, OrgId, Owner, OwnerStorage};
use crate::store::{Changed, QuotaLevel, QuotaLimits, Store};

fn limits(bytes: Option<u64>, objects: Option<u64>) -> QuotaLimits {
    QuotaLimits { bytes, objects }
}

async fn quota_changes(store: &Store, after: i64) -> Vec<Changed> {
    store
        .changes_since(after, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.what)
        .filter(|w| matches!(w, Changed::Quota(_)))
        .collect()
}

#[tokio::test]
async fn overrides_are_set_replaced_and_removed_each_on_the_change_feed() {
    each_backend(|db| async move {
        let store = db.open().await;
        let (u, o) = (Owner::User(user("auth0|u")), Owner::Org(OrgId::fresh().unwrap()));
        assert_eq!(store.quota_override(&u).await.unwrap(), None);
        let head = store.latest_change().await.unwrap();
        store
            .set_quota_override(&u, Some(limits(Some(10), None)))
            .await
            .unwrap();
        store.set_quota_override(&o, Some(limits(None, Some(0)))).await.unwrap();
        store
            .set_quota_override(&u, Some(limits(Some(20), Some(3))))
            .await
            .unwrap();
        assert_eq!(store.quota_override(&u).await.unwrap(), Some(limits(Some(20), Some(3))));
        assert_eq!(
            store.quota_override(&o).await.unwrap(),
            Some(limits(None, Some(0))),
            "0 is kept, not unlimited"
        );
        let mut all = store.quota_overrides().await.unwrap();
        all.sort_by_key(|(owner, _)| owner.kind());
        assert_eq!(
            all,
            vec![
                (o.clone(), limits(None, Some(0))),
                (u.clone(), limits(Some(20), Some(3)))
            ]
        );
        store.set_quota_override(&u, None).await.unwrap();
        assert_eq!(store.quota_override(&u).await.unwrap(), None);
        assert_eq!(
            quota_changes(&store, head).await,
            vec![
                Changed::Quota(u.clone()),
                Changed::Quota(o),
                Changed::Quota(u.clone()),
                Changed::Quota(u)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn states_follow_the_ledger_and_only_a_new_level_goes_on_the_feed() {
    each_backend(|db| async move {
        let store = db.open().await;
        let s = own_storage("auth0|u");
        let l = limits(Some(100), None);
        let head = store.latest_change().await.unwrap();
        let e = store.evaluate_quota(&s, l).await.unwrap();
        assert_eq!((e.before, e.after), (None, None), "no ledger row yet: nothing stored");
        apply(&store, &s, vec![event(&s, "a", put(90), "1")]).await;
        let e = store.evaluate_quota(&s, l).await.unwrap();
        assert_eq!((e.before, e.after), (None, Some(QuotaLevel::Warned)));
        assert!(!e.crossed_over());
        let again = store.evaluate_quota(&s, l).await.unwrap();
        assert_eq!(
            (again.before, again.after),
            (Some(QuotaLevel::Warned), Some(QuotaLevel::Warned))
        );
        apply(&store, &s, vec![event(&s, "b", put(10), "2")]).await;
        let e = store.evaluate_quota(&s, l).await.unwrap();
        assert_eq!((e.before, e.after), (Some(QuotaLevel::Warned), Some(QuotaLevel::Over)));
        assert!(e.crossed_over());
        let state = store.quota_state(&s.owner).await.unwrap().unwrap();
        assert_eq!(
            (state.level, state.usage.bytes, state.usage.objects),
            (QuotaLevel::Over, 100, 2)
        );
        assert_eq!(state.storage, s);
        assert_eq!(store.over_quota_in_bucket(&s.bucket).await.unwrap(), vec![s.clone()]);
        let other = BucketName::parse("stsvend-elsewhere").unwrap();
        assert!(store.over_quota_in_bucket(&other).await.unwrap().is_empty());

        apply(&store, &s, vec![event(&s, "a", DEL, "3")]).await;
        let e = store.evaluate_quota(&s, l).await.unwrap();
        assert_eq!((e.before, e.after), (Some(QuotaLevel::Over), None));
        assert!(e.crossed_over());
        assert_eq!(store.quota_state(&s.owner).await.unwrap(), None);
        assert!(store.over_quota_in_bucket(&s.bucket).await.unwrap().is_empty());
        assert_eq!(store.quota_states().await.unwrap(), vec![]);
        let owner = Changed::Quota(s.owner.clone());
        assert_eq!(
            quota_changes(&store, head).await,
            vec![owner.clone(), owner.clone(), owner],
            "warned, over, under: the repeated evaluations wrote nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn over_quota_owners_are_listed_by_the_bucket_their_storage_is_in() {
    each_backend(|db| async move {
        let store = db.open().await;
        let shared = BucketName::parse("stsvend-shared").unwrap();
        let org = OrgId::fresh().unwrap();
        let prefix_of = |owner: Owner, prefix: String| OwnerStorage {
            owner,
            bucket: shared.clone(),
            prefix,
        };
        let (a, b) = (user("auth0|a"), user("auth0|b"));
        let sa = prefix_of(Owner::User(a.clone()), format!("users/{a}/"));
        let sb = prefix_of(Owner::User(b.clone()), format!("users/{b}/"));
        let so = prefix_of(Owner::Org(org), format!("teams/{org}/"));
        for s in [&sa, &sb, &so] {
            apply(&store, s, vec![event(s, "k", put(5), "1")]).await;
        }
        let over = limits(None, Some(1));
        store.evaluate_quota(&sa, over).await.unwrap();
        store.evaluate_quota(&so, over).await.unwrap();
        store.evaluate_quota(&sb, limits(None, Some(100))).await.unwrap();
        let mut listed = store.over_quota_in_bucket(&shared).await.unwrap();
        listed.sort_by(|x, y| x.prefix.cmp(&y.prefix));
        let mut expected = vec![so, sa];
        expected.sort_by(|x, y| x.prefix.cmp(&y.prefix));
        assert_eq!(
            listed, expected,
            "both kinds, in prefix mode; the owner under is not listed"
        );
        assert_eq!(store.quota_states().await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn storages_at_or_over_a_bound_are_found_by_owner_kind_and_either_measure() {
    each_backend(|db| async move {
        let store = db.open().await;
        let (small, big, many) = (
            own_storage("auth0|small"),
            own_storage("auth0|big"),
            own_storage("auth0|many"),
        );
        apply(&store, &small, vec![event(&small, "a", put(5), "1")]).await;
        apply(&store, &big, vec![event(&big, "a", put(500), "1")]).await;
        let keys: Vec<_> = (0..3)
            .map(|i| event(&many, &format!("k{i}"), put(1), &format!("{}", i + 1)))
            .collect();
        apply(&store, &many, keys).await;
        let org = OwnerStorage {
            owner: Owner::Org(OrgId::fresh().unwrap()),
            bucket: BucketName::parse("stsvend-org-bound").unwrap(),
            prefix: String::new(),
        };
        apply(&store, &org, vec![event(&org, "a", put(500), "1")]).await;
        let found = |user, org| {
            let store = store.clone();
            async move {
                let mut f: Vec<String> = store
                    .storages_at_least(user, org)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|s| s.bucket.to_string())
                    .collect();
                f.sort();
                f
            }
        };
        let names = |s: &[&OwnerStorage]| {
            let mut n: Vec<String> = s.iter().map(|s| s.bucket.to_string()).collect();
            n.sort();
            n
        };
        assert_eq!(found(limits(Some(100), None), QuotaLimits::NONE).await, names(&[&big]));
        assert_eq!(
            found(limits(Some(100), Some(3)), QuotaLimits::NONE).await,
            names(&[&big, &many])
        );
        assert_eq!(found(QuotaLimits::NONE, limits(Some(100), None)).await, names(&[&org]));
        assert!(found(QuotaLimits::NONE, QuotaLimits::NONE).await.is_empty());
    })
    .await;
}
