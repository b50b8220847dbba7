//! Gaps in the change feed (issue 22): a replica that could not read the feed for longer than
//! its retention comes back to a feed whose oldest changes it never saw. It must not go on
//! serving what it cached as if nothing had happened.

use std::time::{Duration, Instant};

use reqwest::Method;
use stsvend::identity::UserId;
use stsvend::store::Changed;

use crate::support::admin::{ADMIN_PERMISSION, admin_ok, user_id_of};
use crate::support::sample;
use crate::support::tcp_cut::TcpCut;
use crate::support::*;

/// Changes are kept this long in this test (`cache.change_retention_seconds`).
const RETENTION: &str = "2";

async fn status(app: &TestApp, sub: &str) -> u16 {
    app.post_credentials(Some(&app.issuer.token(sub)), None)
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_cut_off_from_the_feed_past_its_retention_refuses_a_user_disabled_meanwhile() {
    let url = crate::support::pg::fresh_database().await;
    let a = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_DATABASE__URL", &url)
            .set("STSVEND_CACHE__CHANGE_RETENTION_SECONDS", RETENTION),
    )
    .await;
    // b reaches the database through a relay the test can cut.
    let cut = TcpCut::start(crate::support::pg::server_addr()).await;
    let b = TestApp::spawn_with(
        Options {
            issuer: Some(a.issuer.clone()),
            ..Options::default()
        }
        .set("STSVEND_DATABASE__URL", &crate::support::pg::through(&url, cut.addr))
        .set("STSVEND_CACHE__CHANGE_RETENTION_SECONDS", RETENTION),
    )
    .await;
    let (alice, bob, carol) = (
        unique_sub("feed-gap-alice"),
        unique_sub("feed-gap-bob"),
        unique_sub("feed-gap-carol"),
    );
    for sub in [&alice, &bob, &carol] {
        b.vend(sub, None).await; // cached on b
    }

    // b can no longer reach the database; meanwhile a disables alice, then bob (a later
    // change, so alice's can be pruned: the newest change is always kept).
    cut.refuse(true);
    cut.cut();
    admin_ok(&a, Method::POST, &format!("/users/{}/disable", user_id_of(&a, &alice))).await;
    admin_ok(&a, Method::POST, &format!("/users/{}/disable", user_id_of(&a, &bob))).await;

    // a prunes the feed: alice's change goes before b ever read it.
    let store = crate::support::pg::store(&url).await;
    let alice_id = UserId::derive(&a.issuer.issuer, &alice);
    let cut_off = Instant::now();
    loop {
        let feed = store.changes_since(0, 100).await.unwrap();
        if !feed.iter().any(|c| c.what == Changed::User(alice_id.clone())) {
            break;
        }
        assert!(
            cut_off.elapsed() < Duration::from_secs(15),
            "the feed was not pruned past its retention: {feed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // b comes back, reads the feed (bob's change only) and must notice what it missed.
    cut.refuse(false);
    let back = Instant::now();
    loop {
        if status(&b, &alice).await == 403 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "b still vends to alice, disabled while it was cut off from the feed past its retention"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status(&b, &bob).await, 403, "bob's change was in the feed");
    assert_eq!(status(&b, &carol).await, 200, "users nobody changed are served again");
    assert_eq!(
        sample(&b.metrics_text().await, "stsvend_coherence_gaps_total"),
        Some(1.0),
        "the gap is counted"
    );
}
