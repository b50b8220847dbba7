//! Operator commands, each run once from the command line and printing for a human:
//! `bootstrap` creates or repairs the role stsvend assumes (`plan` says what it would change,
//! `documents` holds the IAM documents it writes, `usage_queue` the quotas' queue), `doctor` checks a deployment's settings and
//! AWS account end to end, `selftest` probes a running deployment as a user would.

pub mod bootstrap;
pub mod doctor;
pub mod documents;
pub mod plan;
pub mod selftest;
pub mod usage_queue;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Aws(#[from] crate::aws::Error),
    #[error("{0}")]
    Invalid(String),
}

/// An IAM role ARN split into the parts IAM calls take separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub partition: String,
    pub account: String,
    /// `/` or `/some/path/`, as `CreateRole` wants it.
    pub path: String,
    pub name: String,
}

impl RoleArn {
    /// Parses `arn:<partition>:iam::<account>:role[/path]/<name>` (config has checked the shape).
    pub fn parse(arn: &str) -> Result<Self, OpsError> {
        let bad = || OpsError::Invalid(format!("`{arn}` is not an IAM role ARN"));
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, "iam", "", account, resource] = parts[..] else {
            return Err(bad());
        };
        let rest = resource.strip_prefix("role/").ok_or_else(bad)?;
        let (path, name) = match rest.rsplit_once('/') {
            Some((dirs, name)) => (format!("/{dirs}/"), name),
            None => ("/".to_owned(), rest),
        };
        if name.is_empty() || account.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            partition: partition.to_owned(),
            account: account.to_owned(),
            path,
            name: name.to_owned(),
        })
    }
}

/// The role ARN behind an assumed-role session ARN
/// (`arn:aws:sts::<account>:assumed-role/<role>/<session>` -> `arn:aws:iam::<account>:role/<role>`);
/// `None` for any other kind of ARN. The session ARN carries no role path, so a role with a
/// path must be looked up to get its full ARN.
pub fn role_of_session(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "sts", "", account, resource] = parts[..] else {
        return None;
    };
    let (role, _session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (!role.is_empty()).then(|| format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// True when `arn` names an assumed-role session, i.e. the caller runs on role credentials.
pub fn is_role_session(arn: &str) -> bool {
    role_of_session(arn).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_split_into_path_and_name() {
        let r = RoleArn::parse("arn:aws:iam::000000000000:role/stsvend-vend").unwrap();
        assert_eq!((r.path.as_str(), r.name.as_str()), ("/", "stsvend-vend"));
        let r = RoleArn::parse("arn:aws-us-gov:iam::123456789012:role/a/b/name").unwrap();
        assert_eq!(r.partition, "aws-us-gov");
        assert_eq!((r.path.as_str(), r.name.as_str()), ("/a/b/", "name"));
        assert!(RoleArn::parse("arn:aws:iam::000000000000:user/x").is_err());
        assert!(RoleArn::parse("arn:aws:iam::000000000000:role/").is_err());
    }

    #[test]
    fn an_assumed_role_session_leads_to_its_role() {
        assert_eq!(
            role_of_session("arn:aws:sts::123456789012:assumed-role/svc-role/i-0abc").as_deref(),
            Some("arn:aws:iam::123456789012:role/svc-role")
        );
        assert_eq!(
            role_of_session("arn:aws-cn:sts::123456789012:assumed-role/r/s@x").as_deref(),
            Some("arn:aws-cn:iam::123456789012:role/r")
        );
        assert_eq!(role_of_session("arn:aws:iam::123456789012:user/svc"), None);
        assert_eq!(role_of_session("arn:aws:iam::123456789012:root"), None);
        assert_eq!(role_of_session("arn:aws:sts::123456789012:federated-user/bob"), None);
        assert!(is_role_session("arn:aws:sts::1:assumed-role/r/s"));
    }
}
