//! Organisations (`[orgs]`): team storage beside each member's own, made on the org's first
//! vend of a team template and reached by one session; the org claim checked before anything
//! is made. Tokens carry Auth0's `org_id` claim.

mod admin;
mod cli;
mod delete;
mod fleet;
mod isolation;
mod provisioning;
mod revoke;

use serde_json::{Value, json};

use crate::support::*;

pub const TEAM_RW: &str = "team-read-write";
pub const TEAM_READ: &str = "team-read";

/// `opts` with `[orgs]` on (Auth0's defaults) and the team templates granted as README says.
pub fn with_orgs(opts: Options) -> Options {
    opts.set("STSVEND_ORGS__CLAIM", "org_id")
        .set("STSVEND_POLICIES__GRANTS__TEAM-READ-WRITE", r#"["write:team-files"]"#)
        .set(
            "STSVEND_POLICIES__GRANTS__TEAM-READ",
            r#"["read:team-files", "write:team-files"]"#,
        )
}

/// A new org claim value, unique to this run.
pub fn new_org() -> String {
    format!("org_{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// A token for `sub` with `org_id = org` (absent for `None`) and these permissions.
pub fn token(app: &TestApp, sub: &str, org: Option<Value>, permissions: &[&str]) -> String {
    let mut claims = app.issuer.claims(sub);
    if let Some(org) = org {
        claims["org_id"] = org;
    }
    claims["permissions"] = json!(permissions);
    claims["scope"] = json!("openid profile");
    sign(&claims, &signing_key(), KID)
}

/// A member of `org` who may write team files (and their own).
pub fn writer(app: &TestApp, sub: &str, org: &str) -> String {
    token(
        app,
        sub,
        Some(json!(org)),
        &["read:files", "write:files", "write:team-files"],
    )
}

/// A member of `org` who may only read team files.
pub fn reader(app: &TestApp, sub: &str, org: &str) -> String {
    token(
        app,
        sub,
        Some(json!(org)),
        &["read:files", "write:files", "read:team-files"],
    )
}

/// `POST /v1/credentials` for `access` with `token`: the status and the body as JSON.
pub async fn vend_as(app: &TestApp, token: &str, access: &str) -> (u16, Value) {
    let resp = app.post_credentials(Some(token), Some(json!({"access": access}))).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A 200 vend for `access` with `token`, parsed as clients parse it.
pub async fn vended(app: &TestApp, token: &str, access: &str) -> Vended {
    let (status, body) = vend_as(app, token, access).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// The first team vend makes the org's storage and names it; a personal vend carries no org
/// fields, and `/v1/me` names the org by its internal id only, never the claim.
#[tokio::test]
async fn a_team_vend_names_the_org_storage_and_me_names_the_org_by_its_internal_id() {
    let prefix = private_prefix();
    let app = TestApp::spawn_with(with_orgs(
        Options::default().set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix),
    ))
    .await;
    let (org, sub) = (new_org(), unique_sub("alice"));
    let t = writer(&app, &sub, &org);

    let (status, personal) = vend_as(&app, &t, "read-write").await;
    assert_eq!(status, 200, "{personal}");
    assert!(
        personal.get("OrgBucket").is_none() && personal.get("OrgPrefix").is_none(),
        "{personal}"
    );
    assert!(
        app.me_with(&t).await.get("org").is_none(),
        "no org storage before a team vend"
    );

    let team = vended(&app, &t, TEAM_RW).await;
    let org_bucket = team.org_bucket.clone().expect("OrgBucket");
    assert_eq!(
        team.org_prefix.as_deref(),
        Some(""),
        "bucket mode: the bucket is the org's own"
    );
    assert_ne!(org_bucket, team.bucket);
    assert!(org_bucket.starts_with(&format!("{prefix}-")), "{org_bucket}");
    assert!(!org_bucket.contains(&org[4..]), "the claim never names storage");

    let me = app.me_with(&t).await;
    let org_id = me["org"]["org_id"].as_str().unwrap().to_owned();
    assert_eq!(me["org"]["bucket"], org_bucket.as_str());
    assert_eq!(
        (me["org"]["mode"].as_str(), me["org"]["state"].as_str()),
        (Some("bucket"), Some("ready"))
    );
    assert!(
        org_id.starts_with('o') && org_id.len() == 27 && !org_id.contains(&org[4..]),
        "{org_id}"
    );
    assert_eq!(
        app.state.store.orgs_of_key(&team.access_key_id).await.unwrap(),
        vec![Some(org_id)],
        "the audit row records the org"
    );
    assert_eq!(
        app.state
            .store
            .orgs_of_key(personal["AccessKeyId"].as_str().unwrap())
            .await
            .unwrap(),
        vec![None]
    );
    // The org's bucket is locked down and tagged with the org id like a user's.
    assert_eq!(owner_tag(&org_bucket).await.as_deref(), me["org"]["org_id"].as_str());
}

#[tokio::test]
async fn in_prefix_mode_the_org_gets_a_prefix_under_the_org_root_of_the_shared_bucket() {
    let (app, shared) = TestApp::spawn_prefix(with_orgs(Options::default())).await;
    let t = writer(&app, &unique_sub("alice"), &new_org());
    let before = app.s3_calls().await;
    let team = vended(&app, &t, TEAM_RW).await;
    assert_eq!(app.s3_calls().await - before, 0, "a prefix costs no S3 call");
    let me = app.me_with(&t).await;
    let org_id = me["org"]["org_id"].as_str().unwrap();
    assert_eq!(team.org_bucket.as_deref(), Some(shared.as_str()));
    assert_eq!(team.org_prefix, Some(format!("orgs/{org_id}/")));
    assert_eq!(me["org"]["mode"], "prefix");
}

/// An org template without an org in the token: 403 `org_required`, and nothing is made or
/// audited for the caller.
#[tokio::test]
async fn a_team_template_without_an_org_claim_is_refused_and_nothing_is_made() {
    let app = TestApp::spawn_with(with_orgs(Options::default())).await;
    let sub = unique_sub("loner");
    let t = token(&app, &sub, None, &["read:files", "write:files", "write:team-files"]);
    let (status, body) = vend_as(&app, &t, TEAM_RW).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("org_required")),
        "{body}"
    );
    assert_eq!(app.users_in_db().await, 0, "no user row");
    assert_eq!(app.state.store.count_orgs().await.unwrap(), 0, "no org row");
    // A personal template still works for them.
    assert_eq!(vend_as(&app, &t, "read-write").await.0, 200);
}

/// Every hostile claim value of issue 24 part 1: 403 `claim_invalid` for any template, with no
/// user row, no org row and no bucket made.
#[tokio::test]
async fn hostile_org_claims_are_refused_and_nothing_is_provisioned() {
    let prefix = private_prefix();
    let app = TestApp::spawn_with(with_orgs(
        Options::default().set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix),
    ))
    .await;
    let hostile = [
        json!("*"),
        json!("../x"),
        json!("org_a\"b"),
        json!("${aws:username}"),
        json!(format!("org_{}", "a".repeat(65))),
        json!("org_\u{ff41}\u{ff42}\u{ff43}"),
        json!("org_\u{430}bc"),
        json!(42),
        json!(["org_a"]),
    ];
    for (i, value) in hostile.into_iter().enumerate() {
        let t = token(
            &app,
            &unique_sub(&format!("hostile-{i}")),
            Some(value.clone()),
            &["read:files", "write:files", "write:team-files"],
        );
        for access in [TEAM_RW, "read-write"] {
            let (status, body) = vend_as(&app, &t, access).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("claim_invalid")),
                "{value} for {access}: {body}"
            );
        }
    }
    assert_eq!(app.users_in_db().await, 0, "no user row");
    assert_eq!(app.state.store.count_orgs().await.unwrap(), 0, "no org row");
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "no bucket");
}

/// With `[orgs]` unset nothing changes: the team templates are not offered, and an org claim
/// (even a hostile one) is not read.
#[tokio::test]
async fn without_orgs_the_team_templates_are_unknown_and_org_claims_are_ignored() {
    let app = TestApp::spawn().await;
    let t = token(
        &app,
        &unique_sub("plain"),
        Some(json!("../x")),
        &["read:files", "write:files", "write:team-files"],
    );
    let (status, body) = vend_as(&app, &t, TEAM_RW).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unknown_access")),
        "{body}"
    );
    let (status, body) = vend_as(&app, &t, "read-write").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("OrgBucket").is_none());
}

/// Clients learn the new fields from the `OpenAPI` document: optional, never required.
#[tokio::test]
async fn the_openapi_document_lists_org_bucket_and_org_prefix_as_optional() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = &doc["components"]["schemas"]["CredentialsResponse"];
    for field in ["OrgBucket", "OrgPrefix"] {
        assert!(schema["properties"].get(field).is_some(), "{field}: {schema}");
        assert!(
            !schema["required"].as_array().unwrap().contains(&json!(field)),
            "{field}"
        );
    }
    let vend = doc["paths"]["/v1/credentials"]["post"]["responses"]["403"]["description"].to_string();
    assert!(
        vend.contains("org_required") && vend.contains("claim_invalid"),
        "{vend}"
    );
}
