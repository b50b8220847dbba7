//! What operating organisations needs of the vend use case: every cached org row dropped
//! after one changed (here, or elsewhere through the change feed), and a session on an org's
//! storage for an org revocation's probe.

use super::Vend;
use crate::aws::Error as AwsError;
use crate::aws::sts::Credentials;
use crate::identity::OrgId;
use crate::store::{OrgRecord, UserRecord};

impl Vend {
    /// Drops what this process cached about an organisation: after an operator changed it
    /// (here, or on another process through the change feed). Only the org rows go: keys made
    /// for the org are bound to the state of its row they were issued under
    /// (`KeyCache::get`), so once the changed row is read again they are never found again,
    /// here or in the keys the fleet shares.
    pub fn drop_cached_org(&self, org_id: &OrgId) {
        tracing::debug!(org_id = %org_id, "organisation changed; cached organisations dropped");
        self.provisioner.forget_orgs();
    }

    /// A session of `user` on `org`'s storage (its first org template the user's storage mode
    /// has a variant of), never handed out: an org revocation probes the org's storage with it.
    /// `None` when there is no such template, or the two storages are in different modes.
    pub async fn org_probe_session(&self, user: &UserRecord, org: &OrgRecord) -> Result<Option<Credentials>, AwsError> {
        let template = self
            .policies
            .access_names()
            .filter_map(|a| self.policies.get(a))
            .filter(|t| t.is_org())
            .find_map(|t| self.policies.for_mode(t, user.storage_mode()));
        match template {
            Some(t) if org.prefix.is_some() == t.is_prefix_variant() => {
                self.keys.probe_session(user, Some(org), t).await.map(Some)
            }
            _ => Ok(None),
        }
    }
}
