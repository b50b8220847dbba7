//! A new organisation's first vends arriving together at two replicas sharing one database
//! make one org row and one org bucket.

use super::*;

/// Sealing key shared by the replicas (`cache.sealing_keys`).
fn sealing_keys() -> String {
    let key: Vec<u8> = (0u8..32).collect();
    format!("1:{}", data_encoding::BASE64.encode(&key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_members_of_a_new_org_at_once_through_two_replicas_make_one_org_storage() {
    let url = crate::support::pg::fresh_database().await;
    let prefix = private_prefix();
    let opts = || {
        with_orgs(Options::default())
            .set("STSVEND_DATABASE__URL", &url)
            .set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys())
            .set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix)
    };
    let a = TestApp::spawn_with(opts()).await;
    let b = TestApp::spawn_with(Options {
        issuer: Some(a.issuer.clone()),
        ..opts()
    })
    .await;
    let org = new_org();
    let tokens: Vec<String> = (0..20)
        .map(|i| writer(&a, &unique_sub(&format!("member-{i}")), &org))
        .collect();
    let vends = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| vend_as(if i % 2 == 0 { &a } else { &b }, t, TEAM_RW));
    let answers = futures::future::join_all(vends).await;
    let mut org_buckets = std::collections::BTreeSet::new();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        org_buckets.insert(body["OrgBucket"].as_str().unwrap().to_owned());
    }
    assert_eq!(org_buckets.len(), 1, "one org bucket handed out: {org_buckets:?}");
    assert_eq!(a.state.store.count_orgs().await.unwrap(), 1, "one org row");
    let made = buckets_named(&prefix).await;
    assert_eq!(made.len(), 21, "20 members' buckets and one org bucket: {made:?}");
    assert!(made.contains(org_buckets.first().unwrap()));
}
