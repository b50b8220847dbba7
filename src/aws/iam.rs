//! The IAM read `stsvend selftest` makes: the role's inline permission policy, as IAM returns
//! it (URL-encoded JSON), so the caller can check what it grants.

use crate::aws::UpstreamError;
use crate::config::AwsConfig;

/// The document of `role`'s inline policy named `policy`; `None` when the role has none of
/// that name.
pub async fn role_policy(aws: &AwsConfig, role: &str, policy: &str) -> Result<Option<String>, UpstreamError> {
    let sdk = super::sdk_config(aws).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    match Box::pin(iam.get_role_policy().role_name(role).policy_name(policy).send()).await {
        Ok(out) => Ok(Some(out.policy_document().to_owned())),
        Err(e) => {
            let e = UpstreamError::classify("iam", "GetRolePolicy", &e);
            if e.is_rejected_with("NoSuchEntity") {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}
