//! `stsvend selftest` on the wired use cases: the deployment's vend, presign and admin use
//! cases (built by [`UseCases::build`], as `serve` builds them) driven for probe users, with no
//! identity provider: a probe's [`Caller`] is made here instead of from a token (with a probe
//! organisation's claim for team vends).

use std::collections::BTreeSet;

use super::{StartError, UseCases};
use crate::auth::Caller;
use crate::aws::sts::Credentials;
use crate::config::Config;
use crate::identity::{AccountId, BucketName, OrgClaim, OrgId, TokenOrg, UserId};
use crate::ops::selftest::{
    self, Deployment, Options, OrgSide, PROBE_ISSUER, PROBE_SUBJECT, Probe, ProbeOrg, Storage, Vended, Verb,
    grants_on_storage,
};
use crate::policy::{OrgContext, RenderContext, Template};
use crate::usecase::Failure;
use crate::usecase::admin::{MAX_PAGE, Revocation};
use crate::usecase::presign::{Method, ObjectKey, Requester, UrlRequest};
use crate::usecase::vend::Handout;

/// The OAuth client the probes' vends are audited under.
const PROBE_CLIENT: &str = "stsvend-selftest";

/// The deployment as the configuration describes it, with its use cases wired.
pub struct Live {
    uses: UseCases,
    /// Every grant any access requires: a probe may use every access.
    grants: Box<[Box<str>]>,
    /// The personal accesses, the default first.
    accesses: Vec<String>,
    /// The team templates' accesses, or why there are none to check.
    team: Result<Vec<String>, String>,
    account: AccountId,
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
        // A team template needs an organisation: the org checks drive those.
        let policies = super::load_policies(config)?;
        let (team, accesses): (Vec<String>, Vec<String>) = accesses
            .into_iter()
            .partition(|a| policies.get(a).is_some_and(Template::is_org));
        let team = if config.orgs.is_none() {
            Err("[orgs] is not configured".to_owned())
        } else if team.is_empty() {
            Err("no team template is granted ([policies.grants])".to_owned())
        } else {
            Ok(team)
        };
        Ok(Self {
            uses,
            grants: grants.into_iter().collect(),
            accesses,
            team,
            account: config.aws.account_id(),
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
        self.vended(&self.caller(probe), access).await
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
        Ok(revocation(view.revocation))
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

    fn team_accesses(&self) -> Result<Vec<String>, String> {
        self.team.clone()
    }

    async fn vend_team(&self, probe: &Probe, org: &ProbeOrg, access: &str) -> Result<Vended, String> {
        // The probe claim is outside `orgs.id_pattern` on purpose (no token can carry it); the
        // row it keys is the probe issuer's, which no token can carry either.
        let claim = OrgClaim::parse(&org.claim, |_| true).map_err(|e| e.to_string())?;
        let mut caller = self.caller(probe);
        caller.org = TokenOrg::Valid(claim);
        self.vended(&caller, access).await
    }

    async fn revoke_org(&self, org: &OrgId, member: Option<&Probe>) -> Result<String, String> {
        let admin = &self.uses.admin;
        let view = match member {
            None => admin.revoke_org(org).await,
            Some(p) => admin.revoke_member(org, &p.user_id).await,
        }
        .map_err(|e| e.to_string())?;
        Ok(revocation(view.revocation))
    }

    async fn remove_org(&self, org: &OrgId) -> Result<Option<String>, String> {
        match self.uses.admin.delete_org(org, true).await {
            Ok(d) if d.prefix.is_empty() => Ok(Some(format!("bucket {} ({})", d.bucket, objects(d.objects_deleted)))),
            Ok(d) => {
                // Its revocations leave the shared bucket's policy with it.
                let bucket = BucketName::parse(&d.bucket).map_err(|e| e.to_string())?;
                self.uses
                    .admin
                    .drop_org_statements(&bucket, org)
                    .await
                    .map_err(|e| format!("the org's statements in {bucket}'s policy: {e}"))?;
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

    async fn probe_orgs(&self, claim_start: &str) -> Result<Vec<(OrgId, String)>, String> {
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .uses
                .admin
                .list_orgs(Some(claim_start.to_owned()), after.take(), MAX_PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = Some(last.org_id.clone());
            found.extend(
                page.iter()
                    .filter(|o| o.issuer == PROBE_ISSUER && o.claim.starts_with(claim_start))
                    .filter_map(|o| Some((OrgId::parse(&o.org_id).ok()?, o.claim.clone()))),
            );
        }
        Ok(found)
    }
}

impl Live {
    /// Keys of `access` for `caller`, as a vend hands them out.
    async fn vended(&self, caller: &Caller, access: &str) -> Result<Vended, String> {
        let out = self
            .uses
            .vend
            .hand_out(caller, Some(access), None)
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
            org: self.org_side(&out)?,
        })
    }

    /// The org's storage a team template's keys reach, and what the policy rendered for this
    /// member grants there.
    fn org_side(&self, out: &Handout<'_>) -> Result<Option<OrgSide>, String> {
        let Some(org) = &out.org else { return Ok(None) };
        let storage = Storage {
            bucket: org.bucket.clone(),
            prefix: org.key_prefix().to_owned(),
        };
        let ctx = RenderContext {
            bucket: &out.user.bucket,
            user_id: &out.user.user_id,
            account_id: &self.account,
            prefix: out.user.prefix.as_ref(),
            org: Some(OrgContext {
                id: &org.org_id,
                bucket: &org.bucket,
                prefix: org.prefix.as_ref(),
            }),
            claims: &[],
        };
        let doc = serde_json::from_str(&out.template.render(&ctx))
            .map_err(|e| format!("template {} renders invalid JSON: {e}", out.template.name()))?;
        Ok(Some(OrgSide {
            id: org.org_id,
            grants: grants_on_storage(&doc, &storage),
            storage,
        }))
    }
}

fn revocation(r: Option<Revocation>) -> String {
    match r {
        Some(Revocation::InEffect) => "in_effect",
        Some(Revocation::Propagating) => "propagating",
        None => "done",
    }
    .to_owned()
}

fn objects(n: u64) -> String {
    format!("{n} object{}", if n == 1 { "" } else { "s" })
}
