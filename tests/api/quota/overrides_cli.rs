//! `stsvend users quota` / `stsvend orgs quota` through the real binary: the same routes,
//! answers and audit as over HTTP.

use serde_json::Value;

use super::limits::{vend_for, with_quota};
use crate::orgs::{TEAM_RW, with_orgs, writer};
use crate::support::admin::{ADMIN_PERMISSION, admin_token, user_id_of};
use crate::support::ops::Run;
use crate::support::process::BIN;
use crate::support::*;

async fn stsvend(api: &str, token: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(BIN)
        .args(&args[..1])
        .arg("--api")
        .arg(api)
        .args(&args[1..])
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
async fn the_quota_subcommands_set_and_reset_a_users_and_an_orgs_override() {
    let app = TestApp::spawn_with(
        with_quota(with_orgs(Options::default()), &[("USER_BYTES", "1000")])
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION),
    )
    .await;
    let token = admin_token(&app);
    let sub = unique_sub("cli-quota");
    let t = writer(&app, &sub, &crate::orgs::new_org());
    assert_eq!(vend_for(&app, &t, TEAM_RW).await.0, 200);
    let id = user_id_of(&app, &sub);
    let org_id = app.me_with(&t).await["org"]["org_id"].as_str().unwrap().to_owned();

    let set = json(
        &stsvend(
            &app.base,
            &token,
            &["users", "quota", &id, "--bytes", "0", "--objects", "unlimited"],
        )
        .await,
    );
    assert_eq!(
        set["override"],
        serde_json::json!({"bytes": 0, "objects": null}),
        "{set}"
    );
    assert_eq!(set["state"], "over");
    assert_eq!(vend_for(&app, &t, "read-write").await.0, 403);
    let reset = json(&stsvend(&app.base, &token, &["users", "quota-reset", &id]).await);
    assert_eq!(
        (reset["override"].clone(), reset["usage"]["limit_bytes"].clone()),
        (Value::Null, 1000.into())
    );
    assert_eq!(vend_for(&app, &t, "read-write").await.0, 200);

    let set = json(
        &stsvend(
            &app.base,
            &token,
            &["orgs", "quota", &org_id, "--bytes", "unlimited", "--objects", "0"],
        )
        .await,
    );
    assert_eq!(set["state"], "over", "{set}");
    assert_eq!(vend_for(&app, &t, TEAM_RW).await.0, 403);
    json(&stsvend(&app.base, &token, &["orgs", "quota-reset", &org_id]).await);
    assert_eq!(vend_for(&app, &t, TEAM_RW).await.0, 200);

    let bad = stsvend(
        &app.base,
        &token,
        &["users", "quota", &id, "--bytes", "5GB", "--objects", "1"],
    )
    .await;
    assert_ne!(bad.code, 0, "{bad}");
    assert!(bad.stderr.contains("5GB"), "{bad}");
}
