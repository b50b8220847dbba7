//! Per-owner overrides through the admin API: a user's override wins over the `[quota]`
//! default at once, `DELETE` returns them to it; an org's the same for its members' team
//! vends; bad bodies are 400 `invalid_quota`, unknown owners 404; each call is audited; the
//! user and org views show the override, limits and usage.

use reqwest::Method;
use serde_json::{Value, json};

use super::limits::{assert_refused, fill, user_storage, vend_for, with_quota};
use crate::orgs::{TEAM_RW, with_orgs, writer};
use crate::support::admin::{ADMIN_PERMISSION, admin_ok, admin_token, user_id_of};
use crate::support::*;

/// `method` on `/admin/v1{path}` with a JSON `body` (raw text): (status, body).
pub async fn admin_send(app: &TestApp, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}/admin/v1{path}", app.base))
        .bearer_auth(admin_token(app));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_owned());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn admin_quota_app(limits: &[(&str, &str)]) -> Options {
    with_quota(with_orgs(Options::default()), limits).set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
}

#[tokio::test]
async fn a_users_override_wins_over_the_default_at_once_and_delete_returns_them_to_it() {
    let app = TestApp::spawn_with(admin_quota_app(&[("USER_BYTES", "1000")])).await;
    let sub = unique_sub("override");
    let token = app.issuer.token(&sub);
    vend_for(&app, &token, "read-write").await;
    fill(&app, &user_storage(&app, &sub).await, &["a"], Some(100)).await;
    let id = user_id_of(&app, &sub);

    let shown = admin_ok(&app, Method::GET, &format!("/users/{id}")).await;
    assert_eq!(shown["quota"]["override"], Value::Null, "{shown}");
    assert_eq!(shown["quota"]["state"], "under", "{shown}");
    assert_eq!(shown["quota"]["usage"]["limit_bytes"], 1000, "{shown}");
    assert_eq!(shown["quota"]["usage"]["bytes"], 100, "{shown}");

    let (status, q) = admin_send(
        &app,
        Method::PUT,
        &format!("/users/{id}/quota"),
        Some(r#"{"bytes": 100, "objects": null}"#),
    )
    .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["override"], json!({"bytes": 100, "objects": null}));
    assert_eq!(q["state"], "over", "evaluated at once: {q}");
    let (status, _, body) = vend_for(&app, &token, "read-write").await;
    assert_eq!(status, 403, "{body}");
    assert_refused(&body, "user", 100, 1);
    assert_eq!(body["error"]["details"]["usage"]["limit_bytes"], 100);

    // Unlimited beats the default too.
    let (status, q) = admin_send(
        &app,
        Method::PUT,
        &format!("/users/{id}/quota"),
        Some(r#"{"bytes": null, "objects": null}"#),
    )
    .await;
    assert_eq!((status, q["state"].as_str()), (200, Some("under")), "{q}");
    assert_eq!(vend_for(&app, &token, "read-write").await.0, 200);

    let (status, q) = admin_send(
        &app,
        Method::PUT,
        &format!("/users/{id}/quota"),
        Some(r#"{"bytes": 10, "objects": 1}"#),
    )
    .await;
    assert_eq!((status, q["state"].as_str()), (200, Some("over")), "{q}");
    let (status, q) = admin_send(&app, Method::DELETE, &format!("/users/{id}/quota"), None).await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["override"], Value::Null);
    assert_eq!(q["usage"]["limit_bytes"], 1000, "the default again: {q}");
    assert_eq!(q["state"], "under");
    assert_eq!(vend_for(&app, &token, "read-write").await.0, 200);

    let audit = admin_ok(&app, Method::GET, &format!("/audit?target={id}")).await;
    let actions: Vec<(&str, &str)> = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["outcome"].as_str().unwrap()))
        .filter(|(a, _)| a.starts_with("users.quota"))
        .collect();
    assert_eq!(
        actions,
        [
            ("users.quota_reset", "ok"),
            ("users.quota_set", "ok"),
            ("users.quota_set", "ok"),
            ("users.quota_set", "ok")
        ],
        "newest first"
    );
}

#[tokio::test]
async fn an_orgs_override_refuses_its_members_team_vends_at_once() {
    let app = TestApp::spawn_with(admin_quota_app(&[])).await;
    let org = crate::orgs::new_org();
    let token = writer(&app, &unique_sub("member"), &org);
    assert_eq!(vend_for(&app, &token, TEAM_RW).await.0, 200);
    let org_id = app.me_with(&token).await["org"]["org_id"].as_str().unwrap().to_owned();

    let (status, q) = admin_send(
        &app,
        Method::PUT,
        &format!("/orgs/{org_id}/quota"),
        Some(r#"{"bytes": null, "objects": 0}"#),
    )
    .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["state"], "over", "0 objects allowed: {q}");
    let (status, _, body) = vend_for(&app, &token, TEAM_RW).await;
    assert_eq!(status, 403, "{body}");
    assert_refused(&body, "org", 0, 0);
    assert_eq!(
        vend_for(&app, &token, "read-write").await.0,
        200,
        "personal templates work"
    );
    let shown = admin_ok(&app, Method::GET, &format!("/orgs/{org_id}")).await;
    assert_eq!(
        shown["quota"]["override"],
        json!({"bytes": null, "objects": 0}),
        "{shown}"
    );
    assert_eq!(shown["quota"]["state"], "over", "{shown}");

    let (status, _) = admin_send(&app, Method::DELETE, &format!("/orgs/{org_id}/quota"), None).await;
    assert_eq!(status, 200);
    assert_eq!(vend_for(&app, &token, TEAM_RW).await.0, 200, "unlimited by default");
}

#[tokio::test]
async fn bad_override_bodies_are_invalid_quota_and_unknown_owners_not_found() {
    let app = TestApp::spawn_with(admin_quota_app(&[])).await;
    let sub = unique_sub("bad-body");
    app.vend(&sub, None).await;
    let id = user_id_of(&app, &sub);
    let path = format!("/users/{id}/quota");
    for body in [
        "",
        "not json",
        "[]",
        r#"{"bytes": 1}"#,
        r#"{"bytes": -1, "objects": null}"#,
        r#"{"bytes": 1.5, "objects": null}"#,
        r#"{"bytes": "1", "objects": null}"#,
        r#"{"bytes": 1, "objects": 1, "files": 1}"#,
    ] {
        let (status, answer) = admin_send(&app, Method::PUT, &path, Some(body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_quota", "{body}: {answer}");
    }
    let unknown = stsvend::identity::UserId::derive("https://nowhere/", "nobody");
    let ok = Some(r#"{"bytes": 1, "objects": 1}"#);
    let (status, _) = admin_send(&app, Method::PUT, &format!("/users/{unknown}/quota"), ok).await;
    assert_eq!(status, 404);
    let org = stsvend::identity::OrgId::fresh().unwrap();
    let (status, _) = admin_send(&app, Method::PUT, &format!("/orgs/{org}/quota"), ok).await;
    assert_eq!(status, 404);
    let (status, answer) = admin_send(&app, Method::PUT, "/users/not-an-id/quota", ok).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_user_id"))
    );

    let off = TestApp::spawn_with(Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)).await;
    off.vend(&sub, None).await;
    let (status, answer) = admin_send(
        &off,
        Method::PUT,
        &format!("/users/{}/quota", user_id_of(&off, &sub)),
        ok,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("quotas_off")),
        "{answer}"
    );
}
