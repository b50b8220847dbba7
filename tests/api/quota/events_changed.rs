//! The consumer's hand-off to `limits`: after each batch commits, the storages whose totals
//! changed are sent on the `ChangedSender` the caller gave it, and a batch that changes no
//! total sends nothing.

use std::sync::Arc;
use std::time::Duration;

use stsvend::aws::sqs::Sqs;
use stsvend::identity::{BucketName, Owner, OwnerStorage, UserId};
use stsvend::store::OwnerResolver;
use stsvend::usecase::quota::Changed;
use stsvend::usecase::quota::consume::{Consumer, ConsumerParts};

use super::events::{EVENT_BOUND, put};
use crate::support::quota::usage_queue;
use crate::support::*;

#[tokio::test]
async fn each_committed_batch_tells_limits_which_storages_changed() {
    let queue = usage_queue().await;
    let probe = test_config(
        "http://127.0.0.1:1/",
        std::path::Path::new("/nonexistent"),
        &Options::default().with_quota(&queue).env,
    );
    let shared = fresh_shared_bucket(&probe).await;
    // The service itself consumes nothing here (no `[quota]`): the test runs the consumer.
    let app = TestApp::spawn_with(Options::default().prefix_mode(&shared)).await;
    let sub = unique_sub("quota-changed");
    let v = app.vend(&sub, None).await;
    let store = (**app.state.store).clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Changed>();
    let consumer = Consumer::new(ConsumerParts {
        owners: OwnerResolver::new(
            store.clone(),
            "users",
            "orgs",
            Some(BucketName::parse(&shared).unwrap()),
        ),
        store,
        sqs: Sqs::for_command(&stsvend::aws::Sdk::load(&probe.aws).await),
        queue_url: queue.url.clone(),
        metrics: Arc::new(stsvend::runtime::metrics::Metrics::new()),
        changed: Some(tx),
        wait: Duration::from_secs(1),
    })
    .spawn();
    put(&user_s3(&v), &v, "a", 10).await;
    let got = tokio::time::timeout(EVENT_BOUND, rx.recv())
        .await
        .expect("a Changed within the bound");
    let mine = OwnerStorage {
        owner: Owner::User(UserId::derive(&app.issuer.issuer, &sub)),
        bucket: BucketName::parse(&shared).unwrap(),
        prefix: v.prefix.clone(),
    };
    assert_eq!(got, Some(Changed(vec![mine])));
    // S3's test event (the shared bucket's, already applied or not) changes no total: nothing
    // more is sent while nothing is written.
    assert!(tokio::time::timeout(Duration::from_secs(3), rx.recv()).await.is_err());
    consumer.stop().await;
}
