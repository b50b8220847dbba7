//! "Team files" in the web app (organisations, issue 24 part 7) in Chromium, driven by
//! `web/e2e/team.mjs`: two members of one organisation, signed in through the stand-in's login
//! page with its `org_id`, each upload a file of their own and one for the team; each sees the
//! other's team file and not the other's own; a `team-read` member sees the team's files with
//! no team upload; a user with the team permission but no organisation gets their own files
//! and a note saying why there are no team files. Once in each storage mode. What the browser wrote is then checked from
//! outside it, with keys the service vends a member for the team template.

use std::path::Path;

use serde_json::json;

use crate::orgs::{TEAM_READ, TEAM_RW, new_org, with_orgs};
use crate::support::auth0::{auth0_issuer, oauth_token};
use crate::support::browser::{BROWSER, OUT_DIR, scenario, serve_web};
use crate::support::*;

/// Size of the team's multipart upload in team.mjs (6 MiB + 777 bytes: two 5 MiB parts).
const BIG_FILE_BYTES: i64 = 6 * 1024 * 1024 + 777;

/// The service for the page: the stand-in's tokens, organisations on with the team templates
/// granted as README says, the page's origin in both CORS lists.
fn team_options(port: &str) -> Options {
    let origins = format!(r#"["http://127.0.0.1:{port}"]"#);
    with_orgs(
        Options::default()
            .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
            .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &origins)
            .set("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", &origins),
    )
}

/// A team vend for `sub` in `org` with a token from the stand-in.
async fn team_keys(app: &TestApp, sub: &str, org: &str) -> Vended {
    let token = oauth_token(&[
        ("grant_type", "client_credentials"),
        ("client_id", "stsvend-test"),
        ("client_secret", "test-secret"),
        ("audience", AUDIENCE),
        ("scope", "openid"),
        ("test_sub", sub),
        ("test_permissions", "read:files write:files write:team-files"),
        ("test_org_id", org),
    ])
    .await;
    let resp = app
        .post_credentials(Some(&token), Some(json!({"access": TEAM_RW})))
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn two_members_see_each_others_team_files_and_not_each_others_own_and_a_reader_gets_no_team_upload() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let app = TestApp::spawn_with(team_options(&port)).await;
    let team = members_share_team_files(&app, &port, Path::new(OUT_DIR)).await;
    assert_eq!(
        team.org_prefix.as_deref(),
        Some(""),
        "bucket mode: the org's own bucket"
    );
}

#[tokio::test]
async fn in_prefix_mode_team_files_live_under_the_orgs_prefix_of_the_shared_bucket() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let (app, shared) = TestApp::spawn_prefix(team_options(&port)).await;
    let team = members_share_team_files(&app, &port, &Path::new(OUT_DIR).join("prefix-mode")).await;
    assert_eq!(team.org_bucket.as_deref(), Some(shared.as_str()));
    assert!(
        team.org_prefix.as_deref().is_some_and(|p| p.starts_with("orgs/")),
        "{:?}",
        team.org_prefix
    );
}

/// Runs team.mjs for a new organisation and checks, with alice's team keys, that the page used
/// the org's storage: the files are there (the big one whole), and each member's own file is in
/// their own storage only. Returns alice's team vend.
async fn members_share_team_files(app: &TestApp, port: &str, out_dir: &Path) -> Vended {
    let org = new_org();
    let (alice, bob, carol, dan) = (
        unique_sub("team-alice"),
        unique_sub("team-bob"),
        unique_sub("team-carol"),
        unique_sub("team-dan"),
    );
    let _web = serve_web(port, &app.base).await;
    let result = scenario(
        "team.mjs",
        port,
        out_dir,
        &[
            ("ORG", &org),
            ("ALICE_SUB", &alice),
            ("BOB_SUB", &bob),
            ("CAROL_SUB", &carol),
            ("DAN_SUB", &dan),
        ],
    )
    .await;

    let keys = team_keys(app, &alice, &org).await;
    let org_bucket = keys.org_bucket.clone().expect("OrgBucket");
    let org_prefix = keys.org_prefix.clone().expect("OrgPrefix");
    assert_eq!(result["alice"]["teamBucket"], org_bucket.as_str(), "{result}");
    assert_eq!(result["alice"]["teamPrefix"], org_prefix.as_str(), "{result}");
    assert_eq!(result["carol"]["teamUpload"], false, "{result}");
    assert_eq!(result["carol"]["ownUpload"], true, "{result}");
    assert_eq!(result["carolDownloaded"], "from bob\n", "{result}");
    assert_eq!(result["share"]["status"], 200, "{result}");
    // The page asked for the team template its token's permission grants; dan's, refused for
    // want of an organisation, was followed by the default.
    assert_eq!(
        result["asked"],
        json!([TEAM_RW, TEAM_RW, TEAM_RW, TEAM_READ, TEAM_RW, "(default)"]),
        "{result}"
    );
    assert_eq!(result["dan"]["teamShown"], false, "{result}");

    let s3 = user_s3(&keys);
    let head = |bucket: String, key: String| {
        let s3 = s3.clone();
        async move { s3.head_object().bucket(bucket).key(key).send().await }
    };
    let big = head(org_bucket.clone(), format!("{org_prefix}team-big.bin"))
        .await
        .unwrap();
    assert_eq!(big.content_length(), Some(BIG_FILE_BYTES));
    for name in ["alice-team.txt", "bob-team.txt"] {
        let r = head(org_bucket.clone(), format!("{org_prefix}{name}")).await;
        assert_eq!(s3_code(&r), "ok", "{name} in the org's storage");
    }
    // Each member's own file went to their own storage, not the team's.
    let own = head(keys.bucket.clone(), format!("{}alice-own.txt", keys.prefix)).await;
    assert_eq!(s3_code(&own), "ok");
    for name in ["alice-own.txt", "bob-own.txt"] {
        let r = head(org_bucket.clone(), format!("{org_prefix}{name}")).await;
        assert_ne!(s3_code(&r), "ok", "{name} must not be in the team's storage");
    }
    keys
}
