//! `stsvend orgs ...` through the real binary, against a running service's admin API: the same
//! routes, answers and audit as over HTTP.

use serde_json::Value;

use super::admin::{Mode, audited_on, org_admin_app, org_id_of};
use super::*;
use crate::support::admin::{admin_token, user_id_of};
use crate::support::ops::Run;
use crate::support::process::BIN;

async fn orgs(api: &str, token: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(BIN)
        .arg("orgs")
        .arg("--api")
        .arg(api)
        .args(args)
        .env("STSVEND_ADMIN_TOKEN", token)
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(run: &Run) -> Value {
    assert_eq!(run.code, 0, "{run}");
    serde_json::from_str(&run.stdout).unwrap()
}

#[tokio::test]
async fn the_orgs_command_lists_shows_disables_enables_and_revokes_a_member() {
    let app = org_admin_app(Mode::Bucket).await;
    let token = admin_token(&app);
    let (org, alice) = (new_org(), unique_sub("alice"));
    let t = writer(&app, &alice, &org);
    vended(&app, &t, TEAM_RW).await;
    let id = org_id_of(&app, &t).await;
    let alice_id = user_id_of(&app, &alice);

    let listed = json(&orgs(&app.base, &token, &["list", "--search", &org[4..]]).await);
    assert_eq!(listed["orgs"][0]["org_id"], id.as_str(), "{listed}");
    let shown = json(&orgs(&app.base, &token, &["show", &id]).await);
    assert_eq!(shown["members_seen"]["user_ids"][0], alice_id.as_str(), "{shown}");

    assert_eq!(
        json(&orgs(&app.base, &token, &["disable", &id]).await)["state"],
        "disabled"
    );
    assert_eq!(vend_as(&app, &t, TEAM_RW).await.1["error"]["code"], "org_disabled");
    assert_eq!(json(&orgs(&app.base, &token, &["enable", &id]).await)["state"], "ready");
    let revoked = json(&orgs(&app.base, &token, &["revoke-member", &id, &alice_id]).await);
    assert_eq!(revoked["members_revoked"][0]["user_id"], alice_id.as_str(), "{revoked}");

    let missing = orgs(&app.base, &token, &["show", &format!("o{}", "a".repeat(26))]).await;
    assert_eq!(missing.code, 1, "{missing}");
    assert!(missing.stderr.contains("404"), "{missing}");
    let actions: Vec<String> = audited_on(&app, &id).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        ["orgs.show", "orgs.disable", "orgs.enable", "orgs.revoke_member"]
    );
}
