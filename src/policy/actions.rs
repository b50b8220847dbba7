//! Which S3 actions a template's `Allow` statements name, so a use case can refuse a request
//! the session could never perform (a read-only session asked for an upload URL) with a clear
//! 403 instead of a URL S3 would refuse. This is a reading of the template, not a policy
//! evaluator: S3 still enforces the rendered session policy on every request.

use serde_json::Value;

use super::Template;

impl Template {
    /// True when an `Allow` statement of the template names `action` (IAM wildcards `*` and
    /// `?` honoured, case-insensitive, as IAM compares action names).
    pub fn allows_action(&self, action: &str) -> bool {
        allows(&self.body)
            .flat_map(|s| strings(s.get("Action")))
            .any(|pattern| names_action(pattern, action))
    }
}

/// True when an `Allow` statement of the rendered policy `doc` names `action` on `resource`
/// (wildcards honoured in both) and, for a listing, its `s3:prefix` condition (`StringLike` or
/// `StringEquals`), if it has one, admits `list_prefix` (`None`: the listing names no prefix,
/// which such a condition never admits). Other conditions and `NotAction`/`NotResource` are
/// not read: this tells which storage a template is meant to reach (`stsvend selftest` then
/// asks S3), it does not evaluate a policy.
pub fn grants_on(doc: &Value, action: &str, resource: &str, list_prefix: Option<&str>) -> bool {
    allows(doc)
        .filter(|s| strings(s.get("Action")).any(|pattern| names_action(pattern, action)))
        .filter(|s| strings(s.get("Resource")).any(|pattern| glob(pattern, resource)))
        .any(|s| admits_prefix(s.get("Condition"), list_prefix))
}

/// The `Allow` statements of a policy document (one statement or a list of them).
pub(super) fn allows(doc: &Value) -> impl Iterator<Item = &Value> {
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    statements
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
}

/// A string or a list of strings; nothing for anything else.
pub(super) fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    let found: Vec<&str> = match v {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    found.into_iter()
}

/// IAM compares action names case-insensitively.
pub(super) fn names_action(pattern: &str, action: &str) -> bool {
    glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// True unless `condition` holds an `s3:prefix` test that `prefix` fails.
fn admits_prefix(condition: Option<&Value>, prefix: Option<&str>) -> bool {
    let test = |operator: &str| condition.and_then(|c| c.get(operator)).and_then(|o| o.get("s3:prefix"));
    let like = test("StringLike");
    let equals = test("StringEquals");
    if like.is_none() && equals.is_none() {
        return true;
    }
    let Some(prefix) = prefix else { return false };
    (like.is_none() || strings(like).any(|p| glob(p, prefix)))
        && (equals.is_none() || strings(equals).any(|p| p == prefix))
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn template(text: &str) -> Template {
        Template::parse(Path::new("t.json"), text).unwrap()
    }

    #[test]
    fn the_shipped_read_only_template_reads_but_never_writes() {
        let t = template(include_str!("../../policies/read-only.json"));
        assert!(t.allows_action("s3:GetObject"));
        assert!(!t.allows_action("s3:PutObject"));
        assert!(!t.allows_action("s3:DeleteObject"));
    }

    #[test]
    fn the_shipped_read_write_template_reads_writes_and_deletes() {
        let t = template(include_str!("../../policies/read-write.json"));
        for a in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
            assert!(t.allows_action(a), "{a}");
        }
    }

    /// The shipped team-read template, rendered as for a member in bucket mode.
    fn team_read(bucket: &str, org_bucket: &str) -> Value {
        let text = include_str!("../../policies/team-read.json")
            .replace("{{bucket}}", bucket)
            .replace("{{org_bucket}}", org_bucket)
            .replace("{{account_id}}", "123456789012");
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn team_read_grants_reading_the_org_bucket_and_writing_only_the_own() {
        let doc = team_read("stsvend-own", "stsvend-team");
        let on = |action, resource| grants_on(&doc, action, resource, None);
        assert!(on("s3:GetObject", "arn:aws:s3:::stsvend-team/k"));
        assert!(on("s3:ListBucket", "arn:aws:s3:::stsvend-team"));
        assert!(!on("s3:PutObject", "arn:aws:s3:::stsvend-team/k"));
        assert!(!on("s3:DeleteObject", "arn:aws:s3:::stsvend-team/k"));
        assert!(on("s3:PutObject", "arn:aws:s3:::stsvend-own/k"));
        assert!(!on("s3:GetObject", "arn:aws:s3:::stsvend-other/k"));
        assert!(
            !on("s3:GetObject", "arn:aws:s3:::stsvend-teamx/k"),
            "a bucket sharing the name's start"
        );
    }

    #[test]
    fn a_listing_is_granted_only_for_prefixes_its_condition_admits() {
        let text = include_str!("../../policies/prefix-team-read.json")
            .replace("{{bucket}}", "shared")
            .replace("{{org_bucket}}", "shared")
            .replace("{{org_prefix}}", "orgs/oa/")
            .replace("{{prefix}}", "users/u/")
            .replace("{{account_id}}", "123456789012");
        let doc: Value = serde_json::from_str(&text).unwrap();
        let list = |prefix| grants_on(&doc, "s3:ListBucket", "arn:aws:s3:::shared", prefix);
        assert!(list(Some("orgs/oa/")));
        assert!(list(Some("users/u/")));
        assert!(!list(Some("orgs/ob/")));
        assert!(!list(Some("orgs/oa")), "the stem without its slash");
        assert!(!list(None), "the bucket's root");
        let object = |action, key: &str| grants_on(&doc, action, &format!("arn:aws:s3:::shared/{key}"), None);
        assert!(object("s3:GetObject", "orgs/oa/k"));
        assert!(!object("s3:PutObject", "orgs/oa/k"));
        assert!(object("s3:PutObject", "users/u/k"));
    }

    #[test]
    fn a_resource_naming_every_bucket_grants_everywhere() {
        let doc: Value = serde_json::from_str(
            r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"}]}"#,
        )
        .unwrap();
        assert!(grants_on(&doc, "s3:PutObject", "arn:aws:s3:::any/k", None));
        assert!(grants_on(&doc, "s3:ListBucket", "arn:aws:s3:::any", None));
    }

    #[test]
    fn wildcards_and_case_follow_iam() {
        let t = template(
            r#"{"Statement": [{"Effect": "Allow", "Action": "S3:get*", "Resource": "*"},
                              {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
                              {"Effect": "Allow", "Action": ["s3:Delete?bject"], "Resource": "*"}]}"#,
        );
        assert!(t.allows_action("s3:GetObject"));
        assert!(t.allows_action("s3:DeleteObject"));
        assert!(!t.allows_action("s3:PutObject"), "a Deny grants nothing");
        assert!(!t.allows_action("s3:ListBucket"));
    }
}
