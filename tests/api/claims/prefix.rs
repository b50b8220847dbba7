//! Prefix mode: `prefix-tiered.json` scopes the tier under the user's prefix of the shared
//! bucket, and a second tier value gets a session of its own there too.

use serde_json::json;

use super::{TIER_CLAIM, put, token, vend_as, vended, with_claims};
use crate::support::*;

#[tokio::test]
async fn in_prefix_mode_a_claim_scopes_the_users_prefix_and_each_value_has_its_own_session() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _shared) = TestApp::spawn_prefix(with_claims(Options::default(), dir.path())).await;
    let sub = unique_sub("tier-prefix");
    let pro = vended(&app, &token(&app, &sub, &[(TIER_CLAIM, json!("pro"))]), "tiered").await;
    assert!(!pro.prefix.is_empty(), "a prefix-mode user");
    assert_eq!(put(&pro, &format!("{}pro/a.txt", pro.prefix)).await, "ok");
    assert_eq!(put(&pro, &format!("{}free/a.txt", pro.prefix)).await, "AccessDenied");
    assert_eq!(put(&pro, &format!("{}a.txt", pro.prefix)).await, "AccessDenied");

    let free = vended(&app, &token(&app, &sub, &[(TIER_CLAIM, json!("free"))]), "tiered").await;
    assert_ne!(free.access_key_id, pro.access_key_id);
    assert_eq!(put(&free, &format!("{}free/a.txt", free.prefix)).await, "ok");
    assert_eq!(put(&free, &format!("{}pro/a.txt", free.prefix)).await, "AccessDenied");

    let (status, body) = vend_as(
        &app,
        &token(&app, &unique_sub("tier-prefix-bad"), &[(TIER_CLAIM, json!("*"))]),
        "tiered",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("claim_invalid")),
        "{body}"
    );
}
