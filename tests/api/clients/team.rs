//! `stsvend-cli` for a member of an organisation (issue 24 part 7), in both storage modes:
//! `configure --access team-read-write` names both places the profile's keys reach (the
//! member's own files and the team's, as the vend's `OrgBucket`/`OrgPrefix` say), and
//! `credential-process` prints for the team template exactly the fields it prints for a
//! personal one: the AWS `credential_process` fields first, no organisation field.

use std::time::Duration;

use serde_json::Value;

use crate::orgs::{TEAM_RW, new_org, with_orgs};
use crate::support::auth0::auth0_issuer;
use crate::support::clients::*;
use crate::support::*;

/// The field names of a `credential-process` output, in the order printed.
fn printed_fields(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = stdout;
    // Every field name is a `"Name":` at the top level; values hold no `":` of their own
    // (keys, dates, bucket names, prefixes, URLs without credentials).
    while let Some(end) = rest.find("\":") {
        let start = rest[..end].rfind('"').unwrap();
        out.push(rest[start + 1..end].to_owned());
        rest = &rest[end + 2..];
    }
    out
}

async fn configure_names_both_places_and_credential_process_is_unchanged(app: &TestApp) -> (String, String) {
    let org = new_org();
    let user = User::new("cli-team");
    let login = user.login(app, Approval::Team(&org)).await;
    assert!(login.status.success(), "login failed: {}", text(&login.stderr));

    let out = run(
        &mut user.cli(&["configure", "--profile", "team", "--access", TEAM_RW]),
        Duration::from_secs(30),
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "configure failed: {stderr}");
    let named = |label: &str| {
        stderr.split_once(label).map_or_else(
            || panic!("configure did not print {label}: {stderr}"),
            |(_, rest)| rest.lines().next().unwrap().trim().to_owned(),
        )
    };
    let (own, team) = (named("Your files: "), named("Team files: "));
    let config = std::fs::read_to_string(user.aws_config()).unwrap();
    assert!(config.contains(&format!("--access {TEAM_RW}\n")), "{config}");

    // What the profile runs: the same fields as for a personal template, in the same order.
    let team_out = run(
        &mut user.cli(&["credential-process", "--access", TEAM_RW]),
        Duration::from_secs(30),
    )
    .await;
    let personal_out = run(&mut user.cli(&["credential-process"]), Duration::from_secs(30)).await;
    assert!(team_out.status.success(), "{}", text(&team_out.stderr));
    assert!(personal_out.status.success(), "{}", text(&personal_out.stderr));
    let (team_text, personal_text) = (text(&team_out.stdout), text(&personal_out.stdout));
    let fields = printed_fields(&team_text);
    assert_eq!(fields, printed_fields(&personal_text), "{team_text}");
    assert_eq!(
        fields[..5],
        [
            "Version",
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration"
        ],
        "{team_text}"
    );
    assert!(!fields.iter().any(|f| f.starts_with("Org")), "{team_text}");
    let creds: Value = serde_json::from_str(&team_text).unwrap();
    assert_eq!(creds["Access"], TEAM_RW);
    assert_eq!(
        own,
        format!(
            "s3://{}/{}",
            creds["Bucket"].as_str().unwrap(),
            creds["Prefix"].as_str().unwrap()
        )
    );
    assert_ne!(own, team);
    (own, team)
}

#[tokio::test]
async fn configure_with_a_team_template_names_the_users_and_the_teams_places() {
    let app = TestApp::spawn_with(with_orgs(
        Options::default().set("STSVEND_AUTH__ISSUER", &auth0_issuer()),
    ))
    .await;
    let (_, team) = configure_names_both_places_and_credential_process_is_unchanged(&app).await;
    let bucket = team.strip_prefix("s3://").and_then(|t| t.strip_suffix('/')).unwrap();
    assert!(!bucket.contains('/'), "bucket mode: the org's own bucket, {team}");
}

#[tokio::test]
async fn in_prefix_mode_configure_names_the_orgs_prefix_of_the_shared_bucket() {
    let (app, shared) = TestApp::spawn_prefix(with_orgs(
        Options::default().set("STSVEND_AUTH__ISSUER", &auth0_issuer()),
    ))
    .await;
    let (own, team) = configure_names_both_places_and_credential_process_is_unchanged(&app).await;
    assert!(own.starts_with(&format!("s3://{shared}/users/")), "{own}");
    assert!(team.starts_with(&format!("s3://{shared}/orgs/")), "{team}");
}
