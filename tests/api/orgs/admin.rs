//! Operating organisations through the admin API: list and search, an org's detail with the
//! members the vend audit saw, disable and enable, each action audited with the org as target;
//! in both storage modes.

use reqwest::Method;
use serde_json::Value;
use stsvend::http::OrgPage;

use super::*;
use crate::support::admin::{ADMIN_PERMISSION, admin_call, admin_ok, admin_token, user_id_of};

/// Bucket or prefix mode.
#[derive(Clone, Copy)]
pub enum Mode {
    Bucket,
    Prefix,
}

/// A service with `[orgs]` and the admin API on, in `mode`.
pub async fn org_admin_app(mode: Mode) -> TestApp {
    let opts = with_orgs(Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION));
    match mode {
        Mode::Bucket => TestApp::spawn_with(opts).await,
        Mode::Prefix => TestApp::spawn_prefix(opts).await.0,
    }
}

/// The internal id of the org `token`'s holder belongs to, once it has a row (`/v1/me`).
pub async fn org_id_of(app: &TestApp, token: &str) -> String {
    app.me_with(token).await["org"]["org_id"].as_str().unwrap().to_owned()
}

/// The admin actions recorded on `target`, oldest first, as (action, outcome).
pub async fn audited_on(app: &TestApp, target: &str) -> Vec<(String, String)> {
    let audit = admin_ok(app, Method::GET, &format!("/audit?target={target}")).await;
    let mut rows: Vec<(String, String)> = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.reverse();
    rows
}

async fn lists_searches_and_shows_orgs(mode: Mode) {
    let app = org_admin_app(mode).await;
    let (org, other_org) = (new_org(), new_org());
    let (alice, bob, carol) = (unique_sub("alice"), unique_sub("bob"), unique_sub("carol"));
    let (ta, tb, tc) = (
        writer(&app, &alice, &org),
        reader(&app, &bob, &org),
        writer(&app, &carol, &other_org),
    );
    vended(&app, &ta, TEAM_RW).await;
    vended(&app, &tb, TEAM_READ).await;
    vended(&app, &tc, TEAM_RW).await;
    // A member's personal vend is not a vend of the org.
    vended(&app, &ta, "read-write").await;
    let id = org_id_of(&app, &ta).await;

    let all: OrgPage = serde_json::from_value(admin_ok(&app, Method::GET, "/orgs").await).unwrap();
    assert_eq!(all.orgs.len(), 2);
    assert!(all.next_after.is_none());
    let first: OrgPage = serde_json::from_value(admin_ok(&app, Method::GET, "/orgs?limit=1").await).unwrap();
    let after = first.next_after.expect("a next page");
    let second: OrgPage =
        serde_json::from_value(admin_ok(&app, Method::GET, &format!("/orgs?limit=1&after={after}")).await).unwrap();
    assert_ne!(first.orgs[0].org_id, second.orgs[0].org_id);

    // Any part of the claim value, or the start of the org id.
    let by_claim: OrgPage =
        serde_json::from_value(admin_ok(&app, Method::GET, &format!("/orgs?search={}", &org[6..14])).await).unwrap();
    let by_id: OrgPage =
        serde_json::from_value(admin_ok(&app, Method::GET, &format!("/orgs?search={}", &id[..10])).await).unwrap();
    for page in [&by_claim, &by_id] {
        assert_eq!(page.orgs.len(), 1);
        assert_eq!(
            (page.orgs[0].org_id.as_str(), page.orgs[0].claim.as_str()),
            (id.as_str(), org.as_str())
        );
    }

    let shown = admin_ok(&app, Method::GET, &format!("/orgs/{id}")).await;
    let mut members = vec![user_id_of(&app, &alice), user_id_of(&app, &bob)];
    members.sort();
    assert_eq!(shown["members_seen"]["count"], 2, "{shown}");
    assert_eq!(shown["members_seen"]["user_ids"], serde_json::json!(members));
    assert_eq!(shown["state"], "ready");
    assert_eq!(shown["issuer"], app.issuer.issuer.as_str());
    assert!(
        shown["last_vend_at"].is_string() && shown["created_at"].is_string(),
        "{shown}"
    );
    match mode {
        Mode::Bucket => assert_eq!(
            (shown["mode"].as_str(), shown["prefix"].as_str()),
            (Some("bucket"), Some(""))
        ),
        Mode::Prefix => assert_eq!(shown["prefix"], format!("orgs/{id}/")),
    }

    let (status, body) = admin_call(&app, Method::GET, "/orgs/not-an-org", &admin_token(&app)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_org_id")),
        "{body}"
    );
    let missing = format!("o{}", "a".repeat(26));
    let (status, body) = admin_call(&app, Method::GET, &format!("/orgs/{missing}"), &admin_token(&app)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(audited_on(&app, &id).await, [("orgs.show".to_owned(), "ok".to_owned())]);
    assert_eq!(
        audited_on(&app, &missing).await,
        [("orgs.show".to_owned(), "refused".to_owned())]
    );
}

#[tokio::test]
async fn an_operator_lists_searches_and_shows_orgs_with_the_members_seen_in_bucket_mode() {
    lists_searches_and_shows_orgs(Mode::Bucket).await;
}

#[tokio::test]
async fn an_operator_lists_searches_and_shows_orgs_with_the_members_seen_in_prefix_mode() {
    lists_searches_and_shows_orgs(Mode::Prefix).await;
}

async fn disable_and_enable(mode: Mode) {
    let app = org_admin_app(mode).await;
    let org = new_org();
    let (ta, tb) = (
        writer(&app, &unique_sub("alice"), &org),
        reader(&app, &unique_sub("bob"), &org),
    );
    vended(&app, &ta, TEAM_RW).await;
    vended(&app, &tb, TEAM_READ).await;
    let id = org_id_of(&app, &ta).await;

    let disabled = admin_ok(&app, Method::POST, &format!("/orgs/{id}/disable")).await;
    assert_eq!(disabled["state"], "disabled");
    assert!(disabled["disabled_at"].is_string());
    for (t, access) in [(&ta, TEAM_RW), (&tb, TEAM_READ)] {
        let (status, body) = vend_as(&app, t, access).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("org_disabled")),
            "{body}"
        );
    }
    assert_eq!(app.me_with(&tb).await["org"]["state"], "disabled", "/v1/me says so");
    // Personal templates keep working, for the same tokens.
    assert_eq!(vend_as(&app, &ta, "read-write").await.0, 200);
    assert_eq!(vend_as(&app, &tb, "read-write").await.0, 200);

    let enabled = admin_ok(&app, Method::POST, &format!("/orgs/{id}/enable")).await;
    assert_eq!(
        (enabled["state"].as_str(), &enabled["disabled_at"]),
        (Some("ready"), &Value::Null)
    );
    vended(&app, &ta, TEAM_RW).await;
    vended(&app, &tb, TEAM_READ).await;
    assert_eq!(app.me_with(&tb).await["org"]["state"], "ready");
    assert_eq!(
        audited_on(&app, &id).await,
        [
            ("orgs.disable".to_owned(), "ok".to_owned()),
            ("orgs.enable".to_owned(), "ok".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_disabled_org_refuses_its_templates_to_every_member_until_enabled_in_bucket_mode() {
    disable_and_enable(Mode::Bucket).await;
}

#[tokio::test]
async fn a_disabled_org_refuses_its_templates_to_every_member_until_enabled_in_prefix_mode() {
    disable_and_enable(Mode::Prefix).await;
}
