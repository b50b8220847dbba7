//! Account pinning: which `Allow` statements of a policy document could reach a bucket of the
//! same name in another account.

use serde_json::Value;

use crate::identity::AccountId;

/// The condition that pins a statement to the service's own account: bucket names are global,
/// so without it a session scoped to `arn:aws:s3:::<name>` also reaches a bucket of that name
/// in any other account (one registered after a user's bucket was deleted, say).
pub const ACCOUNT_CONDITION_KEY: &str = "s3:ResourceAccount";

/// The `Allow` statements of a policy document that grant S3 actions without pinning
/// `s3:ResourceAccount` to `account` (a `StringEquals` condition), by `Sid` or position.
pub fn unpinned_statements(doc: &Value, account: &AccountId) -> Vec<String> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let grants_s3 = |s: &Value| match s.get("Action") {
        Some(Value::String(a)) => a.starts_with("s3:") || a == "*",
        Some(Value::Array(items)) => items
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("s3:") || a == "*")),
        _ => false,
    };
    statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.get("Effect").and_then(Value::as_str) == Some("Allow") && grants_s3(s))
        .filter(|(_, s)| {
            s.pointer("/Condition/StringEquals")
                .and_then(|c| c.get(ACCOUNT_CONDITION_KEY))
                .and_then(Value::as_str)
                != Some(account.as_str())
        })
        .map(|(i, s)| {
            s.get("Sid")
                .and_then(Value::as_str)
                .map_or_else(|| format!("statement {}", i + 1), ToOwned::to_owned)
        })
        .collect()
}
