//! An organisation's storage is counted too: its bucket, made by a member's first team vend,
//! sends its object events to the usage queue, and the members' writes reach the org's ledger.

use aws_sdk_s3::primitives::ByteStream;
use stsvend::store::Totals;

use super::events::EVENT_BOUND;
use crate::orgs::{TEAM_RW, new_org, vended, with_orgs, writer};
use crate::support::quota::usage_queue;
use crate::support::*;

#[tokio::test]
async fn members_writes_to_the_org_bucket_reach_the_orgs_ledger() {
    let queue = usage_queue().await;
    let app = TestApp::spawn_with(with_orgs(Options::default().with_quota(&queue))).await;
    let org = new_org();
    let v = vended(&app, &writer(&app, &unique_sub("quota-member"), &org), TEAM_RW).await;
    let bucket = v.org_bucket.clone().expect("a team vend names the org's bucket");
    let prefix = v.org_prefix.clone().unwrap_or_default();
    let s3 = user_s3(&v);
    for (key, size) in [("shared.doc", 70_usize), ("plan.txt", 30)] {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("{prefix}{key}"))
            .body(ByteStream::from(vec![b'o'; size]))
            .send()
            .await
            .unwrap();
    }
    wait_until(EVENT_BOUND, "the org's ledger counts its members' writes", async || {
        app.ledger(&bucket, &prefix).await == Totals { bytes: 100, objects: 2 }
    })
    .await;
    let usage = app
        .state
        .store
        .ledger_usage(&stsvend::identity::BucketName::parse(&bucket).unwrap(), &prefix)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(usage.owner, stsvend::identity::Owner::Org(_)), "{usage:?}");
}
