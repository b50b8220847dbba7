//! Reconciling on demand (`POST /admin/v1/{users,orgs}/{id}/usage/reconcile`), in both storage
//! modes: objects written with no event in the ledger are counted after it, with the drift
//! reported and counted; a ledger that still counts deleted objects is corrected; one already
//! running for the owner answers 409; an unknown owner 404; without `[quota]`, 404.

use reqwest::Method;
use serde_json::Value;

use super::usage_support::*;
use crate::orgs::{TEAM_RW, new_org, vended as vended_with, with_orgs, writer};
use crate::support::admin::{admin_app, admin_call, admin_ok, admin_token, user_id_of};
use crate::support::*;

fn totals(v: &Value) -> (i64, i64) {
    (v["bytes"].as_i64().unwrap(), v["objects"].as_i64().unwrap())
}

async fn reconcile(app: &TestApp, path: &str) -> Value {
    admin_ok(app, Method::POST, &format!("{path}/usage/reconcile")).await
}

async fn objects_written_without_events_are_counted_and_deletions_corrected(mode: Mode) {
    let app = quota_app(mode, Options::default(), None).await;
    let sub = unique_sub("reconcile");
    let v = app.vend(&sub, None).await;
    for (key, size) in [("a.txt", 100), ("b.txt", 250), ("dir/c.bin", 4096)] {
        put_sized(&v, key, size).await;
    }
    let id = user_id_of(&app, &sub);

    let first = reconcile(&app, &format!("/users/{id}")).await;
    assert_eq!(totals(&first["before"]), (0, 0), "{first}");
    assert_eq!(totals(&first["after"]), (4446, 3), "{first}");
    assert_eq!(totals(&first["drift"]), (4446, 3), "{first}");
    assert_eq!(
        (first["kind"].as_str(), first["id"].as_str()),
        (Some("user"), Some(id.as_str()))
    );
    assert_eq!(first["bucket"].as_str(), Some(v.bucket.as_str()));
    assert_eq!(first["prefix"].as_str(), Some(v.prefix.as_str()));
    assert_eq!(
        metric(&app, r#"stsvend_quota_reconcile_drift_bytes_total{direction="missed"}"#).await,
        4446
    );
    assert_eq!(
        metric(
            &app,
            r#"stsvend_quota_reconcile_drift_objects_total{direction="missed"}"#
        )
        .await,
        3
    );

    // Deleted behind the ledger's back (no event read): the ledger still counts them until
    // the next reconciliation.
    delete(&v, "a.txt").await;
    delete(&v, "dir/c.bin").await;
    let second = reconcile(&app, &format!("/users/{id}")).await;
    assert_eq!(totals(&second["before"]), (4446, 3), "{second}");
    assert_eq!(totals(&second["after"]), (250, 1), "{second}");
    assert_eq!(totals(&second["drift"]), (-4196, -2), "{second}");
    assert_eq!(
        metric(
            &app,
            r#"stsvend_quota_reconcile_drift_objects_total{direction="overcounted"}"#
        )
        .await,
        2
    );
    assert_eq!(
        metric(&app, r#"stsvend_quota_reconciliations_total{result="ok"}"#).await,
        2
    );
    let audit = admin_ok(&app, Method::GET, &format!("/audit?target={id}")).await;
    let actions: Vec<(&str, &str)> = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("users.reconcile", "ok"), ("users.reconcile", "ok")]);
}

#[tokio::test]
async fn objects_written_without_events_are_counted_and_deletions_corrected_in_bucket_mode() {
    objects_written_without_events_are_counted_and_deletions_corrected(Mode::Bucket).await;
}

#[tokio::test]
async fn objects_written_without_events_are_counted_and_deletions_corrected_in_prefix_mode() {
    objects_written_without_events_are_counted_and_deletions_corrected(Mode::Prefix).await;
}

async fn an_orgs_team_storage_is_reconciled_apart_from_its_members(mode: Mode) {
    let app = quota_app(mode, with_orgs(Options::default()), None).await;
    let (sub, org) = (unique_sub("team"), new_org());
    let t = writer(&app, &sub, &org);
    let team = vended_with(&app, &t, TEAM_RW).await;
    let org_prefix = team.org_prefix.clone().unwrap_or_default();
    put_in(
        &team,
        team.org_bucket.as_deref().unwrap(),
        &org_prefix,
        "shared.bin",
        700,
    )
    .await;
    put_sized(&team, "mine.bin", 5).await;
    let org_id = app.me_with(&t).await["org"]["org_id"].as_str().unwrap().to_owned();

    let done = reconcile(&app, &format!("/orgs/{org_id}")).await;
    assert_eq!(
        (done["kind"].as_str(), totals(&done["after"])),
        (Some("org"), (700, 1)),
        "{done}"
    );
    let (status, body) = admin_call(
        &app,
        Method::POST,
        "/orgs/oaaaaaaaaaaaaaaaaaaaaaaaaaa/usage/reconcile",
        &admin_token(&app),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
}

#[tokio::test]
async fn an_orgs_team_storage_is_reconciled_apart_from_its_members_in_bucket_mode() {
    an_orgs_team_storage_is_reconciled_apart_from_its_members(Mode::Bucket).await;
}

#[tokio::test]
async fn an_orgs_team_storage_is_reconciled_apart_from_its_members_in_prefix_mode() {
    an_orgs_team_storage_is_reconciled_apart_from_its_members(Mode::Prefix).await;
}

#[tokio::test]
async fn a_reconciliation_held_anywhere_answers_409_and_an_unknown_user_404() {
    let app = quota_app(Mode::Bucket, Options::default(), None).await;
    let sub = unique_sub("held");
    app.vend(&sub, None).await;
    let id = user_id_of(&app, &sub);
    // Another replica holds the claim (the same database).
    let owner = stsvend::identity::Owner::User(stsvend::identity::UserId::parse(&id).unwrap());
    assert!(
        app.state
            .store
            .claim_reconciliation(&owner, time::OffsetDateTime::now_utc(), time::Duration::minutes(5))
            .await
            .unwrap()
    );
    let path = format!("/users/{id}/usage/reconcile");
    let (status, body) = admin_call(&app, Method::POST, &path, &admin_token(&app)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("reconcile_running")),
        "{body}"
    );
    app.state.store.release_reconciliation(&owner, None).await.unwrap();
    let (status, _) = admin_call(&app, Method::POST, &path, &admin_token(&app)).await;
    assert_eq!(status, 200, "released");

    let nobody = user_id_of(&app, &unique_sub("nobody"));
    let (status, body) = admin_call(
        &app,
        Method::POST,
        &format!("/users/{nobody}/usage/reconcile"),
        &admin_token(&app),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, body) = admin_call(&app, Method::POST, "/users/nope/usage/reconcile", &admin_token(&app)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_user_id")),
        "{body}"
    );
}

#[tokio::test]
async fn without_quotas_the_usage_routes_answer_404() {
    let app = admin_app().await;
    let sub = unique_sub("off");
    app.vend(&sub, None).await;
    let id = user_id_of(&app, &sub);
    for (method, path) in [
        (Method::POST, format!("/users/{id}/usage/reconcile")),
        (Method::GET, "/usage".to_owned()),
    ] {
        let (status, body) = admin_call(&app, method, &path, &admin_token(&app)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}: {body}"
        );
    }
}
