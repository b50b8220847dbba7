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
        let statements: Vec<&Value> = match self.body.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        statements
            .into_iter()
            .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
            .filter_map(|s| s.get("Action"))
            .flat_map(|a| match a {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            })
            .any(|pattern| glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase()))
    }
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
