//! What `bootstrap` changes: the role as it should be, as it is, and the steps between.

use serde_json::Value;

use super::documents::PERMISSION_POLICY_NAME;

/// AWS's smallest `MaxSessionDuration` (and its default).
pub const MIN_MAX_SESSION: i32 = 3600;

/// What the role should look like.
pub struct Desired {
    pub trust: Value,
    pub permissions: Value,
    /// The configured session duration; the role must allow at least this.
    pub session_seconds: i32,
}

/// What the role looks like now.
pub struct Observed {
    pub arn: String,
    pub trust: Option<Value>,
    pub max_session: i32,
    pub permissions: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateRole { max_session: i32 },
    UpdateTrust,
    RaiseMaxSession { from: i32, to: i32 },
    PutPermissions { replace: bool },
    Unchanged(String),
}

impl Step {
    pub fn describe(&self, role_arn: &str) -> String {
        match self {
            Self::CreateRole { max_session } => format!("role {role_arn} (MaxSessionDuration {max_session})"),
            Self::UpdateTrust => "trust policy".to_owned(),
            Self::RaiseMaxSession { from, to } => format!("MaxSessionDuration {from} -> {to}"),
            Self::PutPermissions { .. } => format!("permission policy {PERMISSION_POLICY_NAME}"),
            Self::Unchanged(what) => what.clone(),
        }
    }

    pub fn verb(&self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Self::Unchanged(_), _) => "unchanged:",
            (Self::CreateRole { .. } | Self::PutPermissions { replace: false }, false) => "created",
            (Self::CreateRole { .. } | Self::PutPermissions { replace: false }, true) => "would create",
            (Self::UpdateTrust | Self::RaiseMaxSession { .. } | Self::PutPermissions { replace: true }, false) => {
                "updated"
            }
            (Self::UpdateTrust | Self::RaiseMaxSession { .. } | Self::PutPermissions { replace: true }, true) => {
                "would update"
            }
        }
    }
}

/// The steps that bring `observed` to `desired`, in the order they run.
pub fn plan(desired: &Desired, observed: Option<&Observed>) -> Vec<Step> {
    let wanted_max = desired.session_seconds.max(MIN_MAX_SESSION);
    let Some(now) = observed else {
        return vec![
            Step::CreateRole {
                max_session: wanted_max,
            },
            Step::PutPermissions { replace: false },
        ];
    };
    let mut steps = vec![Step::Unchanged(format!("role {}", now.arn))];
    steps.push(if now.trust.as_ref() == Some(&desired.trust) {
        Step::Unchanged("trust policy".to_owned())
    } else {
        Step::UpdateTrust
    });
    // A longer maximum than needed is left alone: the service asks for its own duration.
    steps.push(if now.max_session >= desired.session_seconds {
        Step::Unchanged(format!(
            "MaxSessionDuration {} (configured duration {})",
            now.max_session, desired.session_seconds
        ))
    } else {
        Step::RaiseMaxSession {
            from: now.max_session,
            to: wanted_max,
        }
    });
    steps.push(match &now.permissions {
        Some(p) if *p == desired.permissions => Step::Unchanged(format!("permission policy {PERMISSION_POLICY_NAME}")),
        Some(_) => Step::PutPermissions { replace: true },
        None => Step::PutPermissions { replace: false },
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::documents;

    fn desired(seconds: i32) -> Desired {
        Desired {
            trust: documents::trust_policy("arn:aws:iam::000000000000:user/svc", "stsvend-user"),
            permissions: documents::permission_policy(
                "aws",
                "stsvend",
                &crate::identity::AccountId::parse("000000000000").unwrap(),
            ),
            session_seconds: seconds,
        }
    }

    fn matching(d: &Desired, max_session: i32) -> Observed {
        Observed {
            arn: "arn:aws:iam::000000000000:role/r".to_owned(),
            trust: Some(d.trust.clone()),
            max_session,
            permissions: Some(d.permissions.clone()),
        }
    }

    #[test]
    fn a_missing_role_is_created_with_at_least_an_hour() {
        assert_eq!(
            plan(&desired(900), None),
            vec![
                Step::CreateRole { max_session: 3600 },
                Step::PutPermissions { replace: false }
            ]
        );
        assert_eq!(plan(&desired(7200), None)[0], Step::CreateRole { max_session: 7200 });
    }

    #[test]
    fn a_matching_role_is_left_alone() {
        let d = desired(3600);
        let steps = plan(&d, Some(&matching(&d, 43_200)));
        assert!(steps.iter().all(|s| matches!(s, Step::Unchanged(_))), "{steps:?}");
    }

    #[test]
    fn only_what_differs_is_changed() {
        let d = desired(7200);
        let mut now = matching(&d, 3600);
        assert_eq!(
            plan(&d, Some(&now))[2..],
            [
                Step::RaiseMaxSession { from: 3600, to: 7200 },
                Step::Unchanged(format!("permission policy {PERMISSION_POLICY_NAME}"))
            ]
        );
        now.trust = Some(documents::trust_policy(
            "arn:aws:iam::000000000000:user/other",
            "stsvend-user",
        ));
        now.permissions = None;
        let steps = plan(&d, Some(&now));
        assert_eq!(steps[1], Step::UpdateTrust);
        assert_eq!(steps[3], Step::PutPermissions { replace: false });
    }

    #[test]
    fn step_lines_read_as_the_operator_expects() {
        let arn = "arn:aws:iam::1:role/r";
        let line = |s: Step, dry| format!("{} {}", s.verb(dry), s.describe(arn));
        assert_eq!(
            line(Step::CreateRole { max_session: 3600 }, false),
            "created role arn:aws:iam::1:role/r (MaxSessionDuration 3600)"
        );
        assert_eq!(line(Step::UpdateTrust, false), "updated trust policy");
        assert_eq!(line(Step::UpdateTrust, true), "would update trust policy");
        assert_eq!(
            line(Step::Unchanged("trust policy".to_owned()), true),
            "unchanged: trust policy"
        );
    }
}
