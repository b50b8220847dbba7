//! The issuer's keys: removed keys stop working within the refresh interval, a new key is found
//! despite a flood of made-up kids, and keys come only from the issuer's origin, without
//! redirects, and within a size limit read as the body arrives.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// `GET /v1/me` with `token`: 404 (no bucket yet) or 200 once it is accepted, 401 while not.
async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let resp = app
        .http
        .get(format!("{}/v1/me", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Waits (at most 10 s) until `counter` has counted two requests: stsvend asks again only
/// after its first attempt is over, so whatever that attempt did (a redirect followed, another
/// origin asked) has happened by then.
async fn wait_for_a_second_attempt(counter: &AtomicUsize, what: &str) {
    wait_until(
        Duration::from_secs(10),
        &format!("{what}: stsvend asked twice"),
        async || counter.load(Ordering::SeqCst) >= 2,
    )
    .await;
}

fn with_issuer(issuer: &Arc<TestIssuer>) -> Options {
    Options {
        issuer: Some(Arc::clone(issuer)),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_key_removed_from_the_issuer_stops_verifying_within_the_refresh_interval() {
    let app = TestApp::spawn_with(Options::default().set("STSVEND_AUTH__JWKS_REFRESH_SECONDS", "1")).await;
    let sub = unique_sub("removed-key");
    let token = app.issuer.token(&sub);
    app.vend(&sub, None).await;
    // Accepted again: from the verified-token cache this time.
    assert_eq!(me(&app, &token).await.0, 200);

    // The issuer rotates: the old key leaves its JWKS, a new one signs from now on. (A JWKS with
    // no usable key at all is taken as a broken answer, and the last good keys stay.)
    *app.issuer.state.keys.lock().unwrap() = vec![jwk_for(&other_key(), "test-key-2")];
    let removed = Instant::now();
    // The bound: the next periodic refresh (1 s), then the refetch the now-unknown kid asks for
    // (at most a second after the previous fetch), each fetch taking milliseconds here.
    let bound = Duration::from_secs(4);
    let body = loop {
        let (status, body) = me(&app, &token).await;
        if status == 401 {
            break body;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            removed.elapsed() < bound,
            "a token signed by a removed key still verified after {:?}",
            removed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["error"]["code"], "unknown_key", "{body}");
    eprintln!("removed key refused after {:?}", removed.elapsed());
    assert_eq!(me(&app, &token).await.0, 401, "and it stays refused");
    let rotated = sign(&app.issuer.claims(&sub), &other_key(), "test-key-2");
    assert_eq!(me(&app, &rotated).await.0, 200, "the new key verifies");
}

#[tokio::test]
async fn a_flood_of_made_up_kids_does_not_delay_a_newly_published_key() {
    let app = Arc::new(TestApp::spawn().await);
    let fetches_at_start = app.issuer.fetches();
    let flood_start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..64)
        .map(|_| {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut sent = 0_u32;
                while !stop.load(Ordering::SeqCst) {
                    let kid = format!("made-up-{}", uuid::Uuid::new_v4().simple());
                    let token = sign(&app.issuer.claims(&unique_sub("flood")), &signing_key(), &kid);
                    let (status, body) = me(&app, &token).await;
                    assert_eq!(status, 401, "{body}");
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    // The flood has spent the once-per-cooldown refetch: the new key below must be found anyway.
    wait_until(Duration::from_secs(10), "the flood made stsvend refetch", async || {
        app.issuer.fetches() > fetches_at_start
    })
    .await;

    // The issuer publishes a new key and signs with it at once.
    app.issuer
        .state
        .keys
        .lock()
        .unwrap()
        .push(jwk_for(&other_key(), "test-key-2"));
    let token = sign(&app.issuer.claims(&unique_sub("new-key")), &other_key(), "test-key-2");
    let published = Instant::now();
    // The bound: unknown-kid fetches are at most a second apart, and a request waits for the
    // next one; the fetch itself takes milliseconds here.
    let bound = Duration::from_secs(3);
    loop {
        let (status, body) = me(&app, &token).await;
        if status != 401 {
            assert_eq!(status, 404, "accepted (no bucket yet): {body}");
            break;
        }
        assert!(
            published.elapsed() < bound,
            "a newly published key was still unknown after {:?} of flood: {body}",
            published.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = published.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut sent = 0;
    for task in flood {
        sent += task.await.unwrap();
    }
    // The issuer's load stays bounded: about one fetch per second of flood, however many kids.
    let fetches = app.issuer.fetches() - fetches_at_start;
    let seconds = flood_start.elapsed().as_secs();
    eprintln!(
        "new key accepted after {took:?} of flood; {fetches} JWKS fetches for {sent} made-up kids in {seconds} s"
    );
    assert!(
        fetches <= usize::try_from(seconds).unwrap() + 2,
        "{fetches} JWKS fetches for {sent} made-up kids in {seconds} s"
    );
}

#[tokio::test]
async fn a_discovered_jwks_uri_on_another_origin_is_refused() {
    // Another server (same host, another port) publishing the very key that signs: only the
    // address is wrong.
    let elsewhere = TestIssuer::start();
    let issuer = Arc::new(TestIssuer::start());
    *issuer.state.jwks_uri.lock().unwrap() = Some(elsewhere.jwks_url());
    let app = TestApp::spawn_unready(with_issuer(&issuer)).await;
    wait_for_a_second_attempt(&issuer.state.discovery_fetches, "discovery").await;
    assert_eq!(app.readiness().await, 503, "keys from another origin were loaded");
    let (status, body) = me(&app, &issuer.token(&unique_sub("elsewhere"))).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "jwks_unavailable", "{body}");
    assert_eq!(elsewhere.fetches(), 0, "the other origin was never asked");
    assert_eq!(issuer.fetches(), 0, "nor the issuer's own JWKS in its place");
    // The other origin counts what reaches it: asked once here, it says so.
    assert_eq!(reqwest::get(elsewhere.jwks_url()).await.unwrap().status(), 200);
    assert_eq!(elsewhere.fetches(), 1, "the other origin's counter works");
}

#[tokio::test]
async fn redirects_are_not_followed_for_discovery_or_the_jwks() {
    // Each redirect points to the right document on the issuer itself: following it would work.
    let discovery = Arc::new(TestIssuer::start());
    discovery.state.redirect_discovery.store(true, Ordering::SeqCst);
    let jwks = Arc::new(TestIssuer::start());
    jwks.state.redirect_jwks.store(true, Ordering::SeqCst);
    let configured = Arc::new(TestIssuer::start());
    configured.state.redirect_jwks.store(true, Ordering::SeqCst);
    let apps = [
        ("discovery", TestApp::spawn_unready(with_issuer(&discovery)).await),
        ("discovered jwks_uri", TestApp::spawn_unready(with_issuer(&jwks)).await),
        (
            "configured jwks_url",
            TestApp::spawn_unready(with_issuer(&configured).set("STSVEND_AUTH__JWKS_URL", &configured.jwks_url()))
                .await,
        ),
    ];
    for (what, app) in &apps {
        // The redirecting endpoint itself must have been asked, or nothing was tested.
        let asked = if *what == "discovery" {
            &app.issuer.state.discovery_fetches
        } else {
            &app.issuer.state.jwks_fetches
        };
        wait_for_a_second_attempt(asked, what).await;
        assert_eq!(app.readiness().await, 503, "{what}: a redirect was followed");
        let (status, body) = me(app, &app.issuer.token(&unique_sub("redirect"))).await;
        assert_eq!(status, 503, "{what}: {body}");
        assert_eq!(
            app.issuer.state.moved_hits.load(Ordering::SeqCst),
            0,
            "{what}: the redirect target was asked"
        );
        // The redirect target counts what reaches it: a client that follows redirects (this
        // one) lands there once.
        let redirecting = if *what == "discovery" {
            format!("{}.well-known/openid-configuration", app.issuer.issuer)
        } else {
            app.issuer.jwks_url()
        };
        assert_eq!(reqwest::get(redirecting).await.unwrap().status(), 200, "{what}");
        assert_eq!(
            app.issuer.state.moved_hits.load(Ordering::SeqCst),
            1,
            "{what}: the redirect target's counter works"
        );
    }
}

#[tokio::test]
async fn an_endless_jwks_or_discovery_body_is_cut_off_while_it_is_read() {
    for which in ["discovery", "jwks"] {
        let issuer = Arc::new(TestIssuer::start());
        let flag = match which {
            "discovery" => &issuer.state.endless_discovery,
            _ => &issuer.state.endless_jwks,
        };
        flag.store(true, Ordering::SeqCst);
        let app = TestApp::spawn_unready(with_issuer(&issuer)).await;
        let started = Instant::now();
        while issuer.state.endless_hangups.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = issuer.state.endless_bytes.load(Ordering::SeqCst);
        assert!(
            issuer.state.endless_hangups.load(Ordering::SeqCst) > 0,
            "{which}: still reading an endless body after {:?} ({sent} bytes)",
            started.elapsed()
        );
        eprintln!("{which}: hung up after {sent} bytes, {:?}", started.elapsed());
        assert!(sent < 1024 * 1024, "{which}: {sent} bytes read before hanging up");
        assert_eq!(app.readiness().await, 503, "{which}");
    }
}
