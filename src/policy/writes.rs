//! Which storage a template can add objects to, read once when it loads: quotas refuse such a
//! template to an owner over a limit, while read and delete templates keep working (so the
//! owner can free space). A reading of the template like `actions`, not a policy evaluator.

use serde_json::Value;

use super::Template;
use super::actions::{allows, names_action, strings};

/// Actions that add bytes or objects: `PutObject` covers uploads, copies, multipart parts and
/// their completion; the others make objects too.
pub const WRITE_ACTIONS: [&str; 3] = ["s3:PutObject", "s3:ReplicateObject", "s3:RestoreObject"];

/// Whose storage a template can write to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteTargets {
    /// The caller's own storage (`{{bucket}}`).
    pub own: bool,
    /// The caller's organisation's storage (`{{org_bucket}}`; org templates only).
    pub org: bool,
}

impl WriteTargets {
    pub fn any(self) -> bool {
        self.own || self.org
    }
}

impl Template {
    /// Whose storage the template can write to.
    pub fn writes(&self) -> WriteTargets {
        self.writes
    }
}

/// What `body`'s `Allow` statements naming a write action reach, by their resources: one
/// naming `{{org_bucket}}` the org's storage, one naming `{{bucket}}` the caller's, any other
/// (a wildcard, a literal ARN) both, as it may reach either.
pub(super) fn write_targets(body: &Value, org_template: bool) -> WriteTargets {
    let mut t = WriteTargets::default();
    let writing = allows(body)
        .filter(|s| strings(s.get("Action")).any(|pattern| WRITE_ACTIONS.iter().any(|a| names_action(pattern, a))));
    for statement in writing {
        for resource in strings(statement.get("Resource")) {
            if resource.contains("{{org_") {
                t.org = true;
            } else if resource.contains("{{bucket}}") {
                t.own = true;
            } else {
                t.own = true;
                t.org = true;
            }
        }
    }
    t.org &= org_template;
    t
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn writes(name: &str, text: &str) -> WriteTargets {
        Template::parse(Path::new(name), text).unwrap().writes()
    }

    #[test]
    fn the_shipped_templates_write_where_their_put_statements_reach() {
        let w = |own, org| WriteTargets { own, org };
        assert_eq!(
            writes("read-only.json", include_str!("../../policies/read-only.json")),
            w(false, false)
        );
        assert_eq!(
            writes("read-write.json", include_str!("../../policies/read-write.json")),
            w(true, false)
        );
        assert_eq!(
            writes("team-read.json", include_str!("../../policies/team-read.json")),
            w(true, false)
        );
        assert_eq!(
            writes(
                "team-read-write.json",
                include_str!("../../policies/team-read-write.json")
            ),
            w(true, true)
        );
        assert_eq!(
            writes(
                "prefix-team-read-write.json",
                include_str!("../../policies/prefix-team-read-write.json")
            ),
            w(true, true)
        );
    }

    #[test]
    fn wildcard_actions_write_and_delete_only_templates_do_not() {
        let doc = |action: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"arn:aws:s3:::{{{{bucket}}}}/*"}}]}}"#
            )
        };
        assert!(writes("a.json", &doc("s3:*")).own);
        assert!(writes("a.json", &doc("s3:Put*")).own);
        assert!(!writes("a.json", &doc("s3:DeleteObject")).any());
        assert!(!writes("a.json", &doc("s3:PutObjectTagging")).any());
    }
}
