//! A claim value that fails its pattern (or is no string) never reaches AWS: 403
//! `claim_invalid`, and nothing is made for the caller.

use serde_json::{Value, json};

use super::{DEPARTMENT_CLAIM, TIER_CLAIM, token, vend_as, with_claims};
use crate::support::*;

fn hostile() -> Vec<Value> {
    vec![
        json!("*"),
        json!("../x"),
        json!("a\"b"),
        json!("${aws:username}"),
        json!("a".repeat(257)),
        json!("\u{ff53}\u{ff41}\u{ff4c}\u{ff45}\u{ff53}"),
        json!("s\u{430}les"),
        json!(42),
        json!(true),
        json!(["sales"]),
        json!({"v": "sales"}),
    ]
}

#[tokio::test]
async fn hostile_claim_values_answer_claim_invalid_and_nothing_is_provisioned() {
    let prefix = private_prefix();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(with_claims(
        Options::default().set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix),
        dir.path(),
    ))
    .await;
    for (i, value) in hostile().into_iter().enumerate() {
        // As a placeholder's claim, for the template naming it.
        let t = token(
            &app,
            &unique_sub(&format!("hostile-tier-{i}")),
            &[(TIER_CLAIM, value.clone())],
        );
        let (status, body) = vend_as(&app, &t, "tiered").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("claim_invalid")),
            "tier {value}: {body}"
        );
        // As a session tag's claim, for every template.
        let t = token(
            &app,
            &unique_sub(&format!("hostile-dept-{i}")),
            &[(DEPARTMENT_CLAIM, value.clone())],
        );
        for access in ["tiered", "read-write"] {
            let (status, body) = vend_as(&app, &t, access).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (403, Some("claim_invalid")),
                "department {value} for {access}: {body}"
            );
        }
    }
    // A template naming a claim the token lacks is refused the same way.
    let (status, body) = vend_as(&app, &token(&app, &unique_sub("no-tier"), &[]), "tiered").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("claim_invalid")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("`tier`"), "{body}");
    assert_eq!(app.users_in_db().await, 0, "no user row");
    assert_eq!(buckets_named(&prefix).await, Vec::<String>::new(), "no bucket");
}
