//! IAM, for the operator commands only: `bootstrap` reads and writes the role stsvend assumes,
//! `doctor` reads its permission policy. The service itself never calls IAM.

use std::sync::Arc;

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::get_role::GetRoleError;
use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
use aws_sdk_iam::types::Tag;
use aws_smithy_runtime_api::http::Response;

use super::calls::{ANSWERS, CallMetrics};
use super::{Error, Sdk, Service};
use crate::runtime::metrics::Metrics;

/// A failed IAM call, classified.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(e: SdkError<E, Response>) -> Error {
    Error::from_sdk(Service::Iam, e)
}

/// A role as IAM shows it.
#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    /// The trust policy, URL-encoded JSON as IAM returns it.
    pub trust: Option<String>,
    pub max_session_seconds: Option<i32>,
}

/// A role to create.
pub struct NewRole<'a> {
    pub name: &'a str,
    /// `/` or `/some/path/`.
    pub path: &'a str,
    pub trust: String,
    pub max_session_seconds: i32,
    pub description: &'a str,
    /// One tag, `(key, value)`.
    pub tag: (&'a str, &'a str),
}

pub struct Iam {
    client: aws_sdk_iam::Client,
}

impl Iam {
    /// The operator commands' IAM client (its calls are not the service's metrics).
    pub fn new(sdk: &Sdk) -> Self {
        let conf = sdk
            .iam_config()
            .interceptor(CallMetrics::new(Arc::new(Metrics::new()), ANSWERS))
            .build();
        Self {
            client: aws_sdk_iam::Client::from_conf(conf),
        }
    }

    /// The role named `name`; `None` when there is none.
    pub async fn role(&self, name: &str) -> Result<Option<Role>, Error> {
        match self.client.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role.map(|r| Role {
                trust: r.assume_role_policy_document().map(ToOwned::to_owned),
                max_session_seconds: r.max_session_duration(),
                arn: r.arn,
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(GetRoleError::is_no_such_entity_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// The inline policy `policy` of role `role` (URL-encoded JSON as IAM returns it); `None`
    /// when the role has no such policy.
    pub async fn role_policy(&self, role: &str, policy: &str) -> Result<Option<String>, Error> {
        match self
            .client
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.policy_document)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(GetRolePolicyError::is_no_such_entity_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed(e)),
        }
    }

    pub async fn create_role(&self, role: NewRole<'_>) -> Result<(), Error> {
        let tag = Tag::builder()
            .key(role.tag.0)
            .value(role.tag.1)
            .build()
            .map_err(|e| Error::build(Service::Iam, e))?;
        self.client
            .create_role()
            .role_name(role.name)
            .path(role.path)
            .assume_role_policy_document(role.trust)
            .max_session_duration(role.max_session_seconds)
            .description(role.description)
            .tags(tag)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub async fn set_trust(&self, role: &str, trust: String) -> Result<(), Error> {
        self.client
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(trust)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub async fn set_max_session(&self, role: &str, seconds: i32) -> Result<(), Error> {
        self.client
            .update_role()
            .role_name(role)
            .max_session_duration(seconds)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    pub async fn put_role_policy(&self, role: &str, policy: &str, document: String) -> Result<(), Error> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// The names of the role's inline policies.
    pub async fn inline_policies(&self, role: &str) -> Result<Vec<String>, Error> {
        let out = self
            .client
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(failed)?;
        Ok(out.policy_names)
    }

    /// The ARNs of the managed policies attached to the role.
    pub async fn attached_policies(&self, role: &str) -> Result<Vec<String>, Error> {
        let out = self
            .client
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(failed)?;
        Ok(out
            .attached_policies()
            .iter()
            .map(|p| p.policy_arn().unwrap_or("?").to_owned())
            .collect())
    }
}
