//! Enforcement at vend: a user at their limit is refused templates that can write
//! (`quota_exceeded`, with their usage) and still gets read and delete ones; deleting brings
//! them back; 90% of a limit is a warning on successful vends. An organisation's quota is
//! shared by its members on the team template and leaves personal templates alone. Both
//! storage modes.

use super::limits::{assert_refused, fill, org_storage, user_storage, vend_for, with_quota};
use crate::orgs::{TEAM_READ, TEAM_RW, with_orgs, writer};
use crate::support::*;

/// A user at the limit, refused and let back in, in the storage mode `prefix` says.
async fn a_user_at_the_limit_writes_again_after_deleting(prefix: bool) {
    let opts = with_quota(Options::default(), &[("USER_BYTES", "1000"), ("USER_OBJECTS", "50")]);
    let app = if prefix {
        TestApp::spawn_prefix(opts).await.0
    } else {
        TestApp::spawn_with(opts).await
    };
    let sub = unique_sub("at-limit");
    let token = app.issuer.token(&sub);
    let (status, warning, _) = vend_for(&app, &token, "read-write").await;
    assert_eq!((status, warning), (200, None), "empty storage: no warning");
    let storage = user_storage(&app, &sub).await;
    assert_eq!(storage.prefix.is_empty(), !prefix);

    fill(&app, &storage, &["a", "b"], Some(500)).await;
    let (status, _, body) = vend_for(&app, &token, "read-write").await;
    assert_eq!(status, 403, "{body}");
    assert_refused(&body, "user", 1000, 2);
    assert_eq!(body["error"]["details"]["usage"]["limit_bytes"], 1000);
    assert_eq!(body["error"]["details"]["usage"]["limit_objects"], 50);
    let container = app
        .http
        .get(format!("{}/v1/credentials/container?access=read-write", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(container.status(), 403, "the container route too");
    assert_eq!(users_over(&app).await, 1, "the operators' gauge counts the owner over");
    let (status, warning, body) = vend_for(&app, &token, "read-only").await;
    assert_eq!(status, 200, "read-only still vends: {body}");
    assert_eq!(warning.as_deref(), None, "a read-only session adds nothing: no warning");
    // The keys work: the user can read what they stored (the ledger here is made up, so
    // nothing is there) and list their storage.
    let v: Vended = serde_json::from_value(body).unwrap();
    let listed = user_s3(&v)
        .list_objects_v2()
        .bucket(&v.bucket)
        .prefix(&v.prefix)
        .send()
        .await;
    assert!(listed.is_ok(), "{listed:?}");

    fill(&app, &storage, &["a"], None).await;
    let (status, warning, body) = vend_for(&app, &token, "read-write").await;
    assert_eq!(status, 200, "back under after deleting: {body}");
    assert_eq!(warning, None, "500 of 1000 bytes: no warning");
    assert_eq!(users_over(&app).await, 0, "and no longer counts them");
}

/// `stsvend_quota_owners{kind="user",level="over"}`, as scraped.
async fn users_over(app: &TestApp) -> i64 {
    app.metrics_text()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(r#"stsvend_quota_owners{kind="user",level="over"} "#))
        .expect("the gauge is exported")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_user_at_the_limit_is_refused_write_vends_keeps_read_ones_and_deleting_lets_them_write_again() {
    a_user_at_the_limit_writes_again_after_deleting(false).await;
}

#[tokio::test]
async fn in_prefix_mode_a_user_at_the_limit_is_refused_write_vends_until_deleting() {
    a_user_at_the_limit_writes_again_after_deleting(true).await;
}

const APP_ORIGIN: &str = "http://app.quota.example";

#[tokio::test]
async fn from_ninety_percent_of_a_limit_successful_vends_carry_the_warning() {
    let app = TestApp::spawn_with(
        with_quota(Options::default(), &[("USER_OBJECTS", "10")])
            .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &format!(r#"["{APP_ORIGIN}"]"#)),
    )
    .await;
    let sub = unique_sub("warned");
    let token = app.issuer.token(&sub);
    vend_for(&app, &token, "read-write").await;
    let storage = user_storage(&app, &sub).await;
    let keys: Vec<String> = (0..9).map(|i| format!("k{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    fill(&app, &storage, &keys, Some(1)).await;
    let (status, warning, _) = vend_for(&app, &token, "read-write").await;
    assert_eq!(status, 200);
    assert_eq!(warning.as_deref(), Some("user objects=90%"));
    // A browser app may read it.
    let resp = app
        .http
        .post(format!("{}/v1/credentials", app.base))
        .bearer_auth(&token)
        .header("origin", APP_ORIGIN)
        .send()
        .await
        .unwrap();
    let exposed = resp
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("x-stsvend-quota-warning"), "exposed: {exposed}");
    let me = app.me(&sub).await;
    assert_eq!(me["quota_warning"], "user objects=90%", "{me}");
    assert_eq!(me["usage"]["limit_objects"], 10, "{me}");
    assert_eq!(me["usage"]["limit_bytes"], serde_json::Value::Null, "unlimited: {me}");
    fill(&app, &storage, &["k9"], Some(1)).await;
    let (status, _, body) = vend_for(&app, &token, "read-write").await;
    assert_eq!(status, 403, "10 of 10 objects: {body}");
    assert_refused(&body, "user", 10, 10);
}

/// The org's storage as counted for all its members: one member's writes put the org over,
/// the other member's team-template vend is refused (naming the org), their personal vends and
/// the team template that writes only their own storage are not.
async fn an_org_quota_is_shared_by_its_members(prefix: bool) {
    let opts = with_quota(with_orgs(Options::default()), &[("ORG_OBJECTS", "3")]);
    let app = if prefix {
        TestApp::spawn_prefix(opts).await.0
    } else {
        TestApp::spawn_with(opts).await
    };
    let org = crate::orgs::new_org();
    let (alice, bob) = (
        writer(&app, &unique_sub("alice"), &org),
        writer(&app, &unique_sub("bob"), &org),
    );
    let (status, _, body) = vend_for(&app, &alice, TEAM_RW).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = vend_for(&app, &bob, TEAM_RW).await;
    assert_eq!(status, 200);
    let org_id = app.me_with(&alice).await["org"]["org_id"].as_str().unwrap().to_owned();
    let storage = org_storage(&app, &org_id).await;

    // Alice's uploads, counted for the org.
    fill(&app, &storage, &["alice/1", "alice/2"], Some(10)).await;
    let (status, warning, _) = vend_for(&app, &bob, TEAM_RW).await;
    assert_eq!((status, warning.as_deref()), (200, None), "2 of 3: under 90%");
    fill(&app, &storage, &["alice/3"], Some(10)).await;
    let (status, _, body) = vend_for(&app, &bob, TEAM_RW).await;
    assert_eq!(status, 403, "{body}");
    assert_refused(&body, "org", 30, 3);
    let (status, _, body) = vend_for(&app, &alice, TEAM_RW).await;
    assert_eq!(status, 403, "every member: {body}");
    for access in ["read-write", TEAM_READ] {
        let (status, _, body) = vend_for(&app, &bob, access).await;
        assert_eq!(status, 200, "{access} writes only Bob's own storage: {body}");
    }
    let me = app.me_with(&bob).await;
    assert_eq!(me["org"]["usage"]["objects"], 3, "{me}");
    assert_eq!(me["org"]["usage"]["limit_objects"], 3, "{me}");
    assert_eq!(me["usage"]["objects"], 0, "Bob's own storage: {me}");

    fill(&app, &storage, &["alice/3"], None).await;
    let (status, warning, body) = vend_for(&app, &bob, TEAM_RW).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(warning, None, "2 of 3 objects is 66%");
}

#[tokio::test]
async fn an_org_quota_is_shared_by_members_on_the_team_template_and_personal_templates_are_unaffected() {
    an_org_quota_is_shared_by_its_members(false).await;
}

#[tokio::test]
async fn in_prefix_mode_an_org_quota_is_shared_by_members_on_the_team_template() {
    an_org_quota_is_shared_by_its_members(true).await;
}

/// A lower `[quota]` default at a restart holds for an owner already over it, before any new
/// event for their storage (the start-up sweep).
#[tokio::test]
async fn a_default_lowered_at_a_restart_refuses_an_owner_already_over_it() {
    let app = TestApp::spawn_with(with_quota(Options::default(), &[("USER_BYTES", "1000")])).await;
    let sub = unique_sub("lowered");
    let token = app.issuer.token(&sub);
    assert_eq!(vend_for(&app, &token, "read-write").await.0, 200);
    fill(&app, &user_storage(&app, &sub).await, &["a"], Some(500)).await;
    assert_eq!(vend_for(&app, &token, "read-write").await.0, 200, "500 of 1000");
    let stopped = app.stop().await;
    let again = TestApp::spawn_with(with_quota(
        Options {
            issuer: Some(stopped.issuer),
            db_dir: Some(stopped.db_dir),
            ..Options::default()
        },
        &[("USER_BYTES", "400")],
    ))
    .await;
    let since = std::time::Instant::now();
    loop {
        let (status, _, body) = vend_for(&again, &token, "read-write").await;
        if status == 403 {
            assert_refused(&body, "user", 500, 1);
            break;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "never refused: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
