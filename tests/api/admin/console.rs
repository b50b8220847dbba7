//! The web app's operator console in Chromium (`web/e2e/console.mjs`, playwright-core),
//! against an stsvend with the admin API on and the Auth0 stand-in. What the page showed is
//! checked in the browser; what S3 and the admin API say afterwards is checked here. The
//! console's screenshot is written to `<repo>/target/web-e2e/console.png`, beside the app's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::admin::{ADMIN_PERMISSION, put};
use crate::support::auth0::{auth0_issuer, token_with, vend_on_auth0};
use crate::support::browser::{BROWSER, OUT_DIR, app_for_browser, scenario, serve_web};
use crate::support::*;

async fn admin_get(app: &TestApp, path: &str) -> (u16, Value) {
    let token = token_with("auth0|console-test-ops", &format!("read:files {ADMIN_PERMISSION}")).await;
    let resp = app
        .http
        .get(format!("{}/admin/v1{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_operator_revokes_alice_from_the_console_and_her_old_keys_are_denied_while_new_ones_work() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let app = app_for_browser(&port).await;
    // Six users sharing a tag in their subject: two pages of five in the console's search.
    let tag = unique_sub("console");
    let names = ["alice", "carol", "u1", "u2", "u3", "u4"];
    let mut vended = Vec::new();
    for name in names {
        vended.push(vend_on_auth0(&app, &format!("{tag}-{name}")).await);
    }
    let (alice, carol) = (&vended[0], &vended[1]);
    let alice_sub = format!("{tag}-alice");
    let alice_id = stsvend::identity::UserId::derive(&auth0_issuer(), &alice_sub).to_string();
    assert_eq!(put(alice, "before.txt").await, "ok");
    assert_eq!(put(carol, "carol.txt").await, "ok");
    let operator = unique_sub("operator");
    // An organisation for the console's Organisations section, whose storage was never made
    // (pending): every org action there runs without S3, and its delete finds no bucket.
    let org = pending_org(&app, &tag).await;

    let shot = PathBuf::from(OUT_DIR).join("console.png");
    let _ = std::fs::remove_file(&shot);
    let _web = serve_web(&port, &app.base).await;
    let result = scenario(
        "console.mjs",
        &port,
        Path::new(OUT_DIR),
        &[
            ("OPERATOR_SUB", &operator),
            ("ADMIN_PERMISSION", ADMIN_PERMISSION),
            ("TAG", &tag),
            ("TAGGED", &names.len().to_string()),
            ("ALICE_SUB", &alice_sub),
            ("ALICE_USER_ID", &alice_id),
            ("ALICE_KEY", &alice.access_key_id),
            ("CAROL_SUB", &format!("{tag}-carol")),
            ("ORG_ID", org.as_str()),
            ("ORG_SEARCH", &tag[tag.len() - 32..]),
        ],
    )
    .await;
    assert_eq!(result["paging"]["first"], 5, "{result}");
    assert_eq!(result["paging"]["second"], 1, "{result}");
    assert_eq!(result["aliceBefore"]["bucket"], format!("s3://{}", alice.bucket));
    assert_eq!(result["keyOwners"][0], alice_id.as_str());
    // The page says where the operator is.
    assert_eq!(result["titleOnFiles"], "Your files", "{result}");
    assert_eq!(result["titleOnConsole"], "Operator console", "{result}");
    assert_eq!(result["documentTitle"], "Operator console · stsvend", "{result}");
    // The audit shows what operators did, not the console's own reads of the log (the read
    // being answered would be listed as `started`); those appear only when asked for.
    let listed = |key: &str| -> Vec<String> {
        result[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}: {result}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(!listed("audit").iter().any(|a| a == "audit.list"), "{result}");
    assert!(!listed("auditOutcomes").iter().any(|o| o == "started"), "{result}");
    assert!(listed("auditWithReads").iter().any(|a| a == "audit.list"), "{result}");
    assert!(shot.is_file(), "no screenshot at {}", shot.display());

    // Alice's keys from before the revocation are denied by S3 (at once when the console said
    // "in effect"; within moments when it said "propagating").
    let in_effect = result["revoked"].as_str().unwrap().contains("in effect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(if in_effect { 0 } else { 15 });
    let denied = loop {
        let code = put(alice, "after-revoke.txt").await;
        if code == "AccessDenied" || tokio::time::Instant::now() >= deadline {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(denied, "AccessDenied", "old keys after the revocation ({result})");
    let old_list = user_s3(alice).list_objects_v2().bucket(&alice.bucket).send().await;
    assert_eq!(s3_code(&old_list), "AccessDenied");
    // Keys vended after it work.
    let fresh = vend_on_auth0(&app, &alice_sub).await;
    assert_ne!(fresh.access_key_id, alice.access_key_id);
    assert_eq!(fresh.bucket, alice.bucket);
    assert_eq!(put(&fresh, "after-revoke.txt").await, "ok");
    // Other users are untouched.
    assert_eq!(put(&vended[2], "still.txt").await, "ok");

    // Carol is gone; the audit names the operator for every action.
    let (status, _) = admin_get(&app, &format!("/users/{}", carol_id(&tag))).await;
    assert_eq!(status, 404);
    let (status, audit) = admin_get(&app, &format!("/audit?target={alice_id}")).await;
    assert_eq!(status, 200);
    let revoke = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "users.revoke")
        .unwrap_or_else(|| panic!("no revoke in the audit: {audit}"));
    assert_eq!(revoke["actor"], operator.as_str());
    assert_eq!(revoke["outcome"], "ok");

    // The organisation: disabled, enabled, Alice's org access and everyone's revoked, deleted,
    // all through the console and each audited with the operator as actor.
    assert_eq!(result["orgFound"], serde_json::json!([org.as_str()]), "{result}");
    assert_eq!(
        (result["orgDisabled"].as_str(), result["orgEnabled"].as_str()),
        (Some("disabled"), Some("pending")),
        "{result}"
    );
    assert!(
        result["orgMembersRevoked"].as_str().unwrap().contains(&alice_id),
        "{result}"
    );
    assert!(
        result["orgRevokedBefore"].as_str().unwrap().starts_with("20"),
        "{result}"
    );
    let (status, _) = admin_get(&app, &format!("/orgs/{org}")).await;
    assert_eq!(status, 404, "deleted");
    let (_, audit) = admin_get(&app, &format!("/audit?target={org}")).await;
    let mut done: Vec<&str> = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["actor"] == operator.as_str() && a["outcome"] == "ok")
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    done.reverse();
    assert_eq!(
        done,
        [
            "orgs.show",
            "orgs.disable",
            "orgs.enable",
            "orgs.revoke_member",
            "orgs.revoke",
            "orgs.delete"
        ],
        "{audit}"
    );
}

/// Inserts a bucket-mode organisation whose claim holds `tag`, its storage never made.
async fn pending_org(app: &TestApp, tag: &str) -> stsvend::identity::OrgId {
    let id = stsvend::identity::OrgId::fresh().unwrap();
    let claim = stsvend::identity::OrgClaim::parse(
        &format!("org_{}", tag.replace(|c: char| !c.is_ascii_alphanumeric(), "")),
        |_| true,
    )
    .unwrap();
    let bucket = stsvend::identity::BucketName::fresh("stsvend-console").unwrap();
    app.state
        .store
        .insert_org(&stsvend::store::NewOrg {
            org_id: &id,
            issuer: &auth0_issuer(),
            claim: &claim,
            bucket: &bucket,
            region: "us-east-1",
            prefix: None,
        })
        .await
        .unwrap();
    id
}

fn carol_id(tag: &str) -> String {
    stsvend::identity::UserId::derive(&auth0_issuer(), &format!("{tag}-carol")).to_string()
}
