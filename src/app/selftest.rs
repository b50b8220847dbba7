//! `stsvend selftest` on the wired use cases: the deployment's vend, presign and admin use
//! cases (built by [`UseCases::build`], as `serve` builds them) driven for probe users, with no
//! identity provider: a probe's [`Caller`] is made here instead of from a token.

use std::collections::BTreeSet;

use super::{StartError, UseCases};
use crate::auth::Caller;
use crate::aws::sts::Credentials;
use crate::config::Config;
use crate::identity::{BucketName, TokenOrg, UserId};
use crate::ops::selftest::{self, Deployment, Options, PROBE_ISSUER, PROBE_SUBJECT, Probe, Storage, Vended, Verb};
use crate::usecase::Failure;
use crate::usecase::admin::{MAX_PAGE, Revocation};
use crate::usecase::presign::{Method, ObjectKey, Requester, UrlRequest};

/// The OAuth client the probes' vends are audited under.
const PROBE_CLIENT: &str = "stsvend-selftest";

/// The deployment as the configuration describes it, with its use cases wired.
pub struct Live {
    uses: UseCases,
    /// Every grant any access requires: a probe may use every access.
    grants: Box<[Box<str>]>,
    accesses: Vec<String>,
}

impl Live {
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        let uses = UseCases::build(config).await?;
        // Sorted and without duplicates, as a token's grants are (`Caller::has_any`).
        let grants: BTreeSet<Box<str>> = config
            .policies
            .grants
            .values()
            .flatten()
            .map(|g| g.as_str().into())
            .collect();
        let mut accesses = vec![config.policies.default.clone()];
        accesses.extend(
            config
                .policies
                .grants
                .keys()
                .filter(|a| **a != config.policies.default)
                .cloned(),
        );
        Ok(Self {
            uses,
            grants: grants.into_iter().collect(),
            accesses,
        })
    }

    fn caller(&self, probe: &Probe) -> Caller {
        Caller {
            user_id: probe.user_id.clone(),
            issuer: PROBE_ISSUER.to_owned(),
            subject: probe.subject.clone(),
            grants: self.grants.clone(),
            permissions: self.grants.clone(),
            client_id: Some(PROBE_CLIENT.to_owned()),
            machine: false,
            unmet_claim: None,
            org: TokenOrg::None,
            claims: crate::identity::TokenClaims::default(),
        }
    }
}

/// Runs selftest (or its clean-up) on the deployment `config` describes; true when no check
/// failed.
pub async fn run(config: &Config, options: &Options) -> Result<bool, StartError> {
    let live = Live::build(config).await?;
    Ok(selftest::run(&live, config, options).await)
}

impl Deployment for Live {
    fn accesses(&self) -> Vec<String> {
        self.accesses.clone()
    }

    async fn vend(&self, probe: &Probe, access: &str) -> Result<Vended, String> {
        let caller = self.caller(probe);
        let out = self
            .uses
            .vend
            .hand_out(&caller, Some(access), None)
            .await
            .map_err(|e| e.to_string())?;
        let c = &out.issued.credentials;
        let keys = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            &c.session_token(),
            c.expiration,
        )
        .ok_or("the vended keys could not be copied")?;
        Ok(Vended {
            keys,
            storage: Storage {
                bucket: out.user.bucket.clone(),
                prefix: out.user.key_prefix().to_owned(),
            },
            template: out.template.name().to_owned(),
            grants: Verb::ALL
                .into_iter()
                .filter(|v| out.template.allows_action(v.action()))
                .collect(),
        })
    }

    async fn presign_get(&self, probe: &Probe, key: &str) -> Result<String, String> {
        let caller = self.caller(probe);
        let key = ObjectKey::parse(key).map_err(|e| e.to_string())?;
        let who = Requester {
            caller: &caller,
            client_addr: None,
        };
        let request = UrlRequest {
            method: Method::Get,
            key: &key,
            expires_in: Some(300),
            access: None,
            content_length: None,
        };
        let signed = self
            .uses
            .presigner
            .url(&who, request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(signed.url)
    }

    async fn revoke(&self, probe: &Probe) -> Result<String, String> {
        let view = self
            .uses
            .admin
            .revoke(&probe.user_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match view.revocation {
            Some(Revocation::InEffect) => "in_effect",
            Some(Revocation::Propagating) => "propagating",
            None => "done",
        }
        .to_owned())
    }

    async fn remove(&self, user_id: &UserId) -> Result<Option<String>, String> {
        match self.uses.admin.delete(user_id, true).await {
            Ok(d) if d.prefix.is_empty() => Ok(Some(format!("bucket {} ({})", d.bucket, objects(d.objects_deleted)))),
            Ok(d) => {
                // The probe's revocations leave the shared bucket's policy with it.
                let bucket = BucketName::parse(&d.bucket).map_err(|e| e.to_string())?;
                self.uses
                    .admin
                    .drop_shared_revocations(&bucket, std::slice::from_ref(user_id))
                    .await
                    .map_err(|e| format!("the probe's statements in {bucket}'s policy: {e}"))?;
                Ok(Some(format!(
                    "prefix {} of {} ({}) and its statements in the bucket's policy",
                    d.prefix,
                    d.bucket,
                    objects(d.objects_deleted)
                )))
            }
            Err(Failure::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn probes_left(&self) -> Result<Vec<UserId>, String> {
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .uses
                .admin
                .list(Some(PROBE_SUBJECT.to_owned()), after.take(), MAX_PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = Some(last.user_id.clone());
            found.extend(
                page.iter()
                    .filter(|u| u.issuer == PROBE_ISSUER)
                    .filter_map(|u| UserId::parse(&u.user_id).ok()),
            );
        }
        Ok(found)
    }
}

fn objects(n: u64) -> String {
    format!("{n} object{}", if n == 1 { "" } else { "s" })
}
