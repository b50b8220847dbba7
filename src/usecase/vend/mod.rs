//! The vend use case, shared by both credential routes: the grant check, the user's mapping
//! (provisioned on first login, refused when disabled), keys from the vend cache or
//! `AssumeRole`, and the audit row without which no key reaches a new party. The routes only
//! parse, call [`Vend::hand_out`], and format. An org template (`{{org_*}}`) also needs the
//! caller's organisation from their token (`[orgs]`), whose storage is made on its first vend.

mod claims;
mod coherence;
mod failure;
mod keys;
mod org_admin;
mod quota;
mod seal;

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::auth::Caller;
use crate::aws::Error as AwsError;
use crate::aws::sts::{Credentials, Grantee};
use crate::identity::{OrgClaim, TokenOrg, UserId};
use crate::policy::{PolicySet, Template};
use crate::provision::{ProvisionError, Provisioner};
use crate::runtime::limits::VendRate;
use crate::runtime::metrics::Metrics;
use crate::store::{OrgRecord, Store, StoreError, UserRecord, VendRecord};
use crate::usecase::error::Failure;

pub use claims::SessionTags;
pub use coherence::{FeedTimes, spawn as spawn_coherence};
pub use keys::{Found, Issued, KeyCache, KeyCacheParts, KeysError};
pub use quota::warning_header;
pub use seal::SealerError;

#[derive(Debug, thiserror::Error)]
pub enum VendError {
    #[error("vend rate exceeded; retry in {0:?}")]
    RateLimited(Duration),
    #[error("unknown access `{access}`; available: {available}")]
    UnknownAccess { access: String, available: String },
    #[error("access `{access}` needs one of these scopes or permissions: {needs}")]
    InsufficientScope { access: String, needs: String },
    #[error("this account is disabled; contact the administrator")]
    Disabled,
    /// The token lacks an `auth.required_claims` entry (named).
    #[error("this service requires the token claim `{0}` (with its configured value); it is missing or different")]
    RequiredClaim(Box<str>),
    #[error("provisioning failed: {0}")]
    Provisioning(Arc<ProvisionError>),
    #[error("AssumeRole failed: {0}")]
    Sts(Arc<KeysError>),
    /// The user is in prefix mode and the access has no prefix-mode variant
    /// (`prefix-<access>.json`): the deployment removed it after giving users prefixes.
    #[error(
        "access `{0}` is not available for storage in prefix mode (a prefix of a shared bucket), which this account has; ask for another access or contact the administrator"
    )]
    NoVariant(String),
    /// Keys are withheld when their audit row could not be written.
    #[error("audit write failed: {0}")]
    Audit(StoreError),
    /// An org template asked for with a token that names no organisation.
    #[error(
        "access `{0}` reaches your organisation's storage; sign in through your organisation (the token carries no organisation)"
    )]
    OrgRequired(String),
    /// An operator disabled the caller's organisation: its templates are refused to every
    /// member (personal templates still work).
    #[error(
        "access `{0}` reaches your organisation's storage, and your organisation is disabled; contact the administrator"
    )]
    OrgDisabled(String),
    /// The token's organisation claim fails `orgs.id_pattern` (or holds characters outside
    /// printable ASCII): nothing is made or vended for it.
    #[error("the token's organisation claim is not valid")]
    ClaimInvalid,
    /// A claim the session needs (`{{claims.NAME}}` in the template, by NAME) is missing or
    /// fails its pattern, or a session tag's claim fails it: nothing is made or vended.
    #[error("the token's claim `{0}` (policies.claims) is missing or does not match its pattern")]
    ClaimRefused(Box<str>),
    /// The user's storage and their organisation's are laid out in different modes (one
    /// switched since): no variant of the org template covers both.
    #[error(
        "access `{0}` is not available: your storage and your organisation's are in different storage modes; contact the administrator"
    )]
    OrgModeMismatch(String),
    /// Prefix mode: the user was disabled, deleted or revoked while these keys were being
    /// handed out; they are withheld (see [`Vend::still_current`]) and the next request gets
    /// the user's new state.
    #[error("the user's state changed while their keys were handed out")]
    Superseded,
    /// The template can write to storage whose owner (named in the report) is at or over a
    /// quota limit (`[quota]`): read and delete templates still work.
    #[error(
        "access `{access}` can write to storage that is at or over its quota; read and delete access still work (delete objects to get back under it)"
    )]
    QuotaExceeded {
        access: String,
        report: Box<crate::usecase::quota::limits::Report>,
    },
}

/// Keys handed out, with what a response needs besides them.
pub struct Handout<'a> {
    pub issued: Arc<Issued>,
    pub user: Arc<UserRecord>,
    pub template: &'a Template,
    /// The organisation whose storage the keys also reach (org templates).
    pub org: Option<Arc<OrgRecord>>,
    /// Owners the template writes to that are at 90% of a quota limit (`X-Stsvend-Quota-Warning`).
    pub quota_warning: Option<String>,
}

/// The caller's keys before they go anywhere (see [`Vend::session`]).
pub struct Session<'a> {
    pub found: keys::Found,
    pub user: Arc<UserRecord>,
    pub template: &'a Template,
    pub org: Option<Arc<OrgRecord>>,
}

/// Who may use each template, and which one applies when none is asked for.
pub struct Grants {
    pub by_template: BTreeMap<String, Vec<String>>,
    pub default: String,
}

pub struct Vend {
    policies: PolicySet,
    grants: Grants,
    tags: SessionTags,
    provisioner: Provisioner,
    keys: KeyCache,
    store: Store,
    rate: Arc<VendRate>,
    metrics: Arc<Metrics>,
    quotas: Option<Arc<crate::usecase::quota::limits::Quotas>>,
}

/// What the use case is made of (see `app.rs`).
pub struct VendParts {
    pub policies: PolicySet,
    pub grants: Grants,
    /// `[sts.session_tags]`, each key with its claim's `[policies.claims]` name.
    pub tags: SessionTags,
    pub provisioner: Provisioner,
    pub keys: KeyCache,
    pub store: Store,
    pub rate: Arc<VendRate>,
    pub metrics: Arc<Metrics>,
    /// `[quota]` on: owners' limits and states, checked on every vend.
    pub quotas: Option<Arc<crate::usecase::quota::limits::Quotas>>,
}

impl Vend {
    pub fn new(p: VendParts) -> Self {
        Self {
            policies: p.policies,
            grants: p.grants,
            tags: p.tags,
            provisioner: p.provisioner,
            keys: p.keys,
            store: p.store,
            rate: p.rate,
            metrics: p.metrics,
            quotas: p.quotas,
        }
    }

    /// Keys for `caller` under the template named `access` (default: the configured one),
    /// handed to the party at `client_addr`.
    pub async fn hand_out(
        &self,
        caller: &Caller,
        access: Option<&str>,
        client_addr: Option<IpAddr>,
    ) -> Result<Handout<'_>, Failure> {
        let Session {
            found,
            user,
            template,
            org,
        } = self.session(caller, access).await?;
        let warned = self.check_quota(&user, org.as_deref(), template)?;
        // Keys go to a party (client address, OAuth client) only once an audit row for that
        // party is committed; later hand-outs of the same keys to it are counted on that row.
        let issued = found.issued;
        let party = party(client_addr, caller.client_id.as_deref());
        if let Some(row) = issued.audit_row(party) {
            self.store.note_repeat(row);
        } else {
            let row = Box::pin(self.store.record_vend(VendRecord {
                user_id: user.user_id.clone(),
                access_key_id: issued.credentials.access_key_id().to_owned(),
                template: template.name().to_owned(),
                expiration: issued.credentials.expiration,
                client_addr: client_addr.map(|a| a.to_string()),
                client_id: caller.client_id.clone(),
                from_cache: found.from_cache,
                org_id: org.as_ref().map(|o| o.org_id),
            }))
            .await
            .map_err(VendError::Audit)?;
            issued.remember_audit_row(party, row);
            self.still_current(&user, &issued.credentials).await?;
        }
        self.metrics.vend_ok(template.index());
        Ok(Handout {
            issued,
            user,
            template,
            org,
            quota_warning: warning_header(&warned),
        })
    }

    /// The caller's session under the template named `access`, through every check a vend
    /// makes (rate, required claims, grant, first login, disabled) and from the same cache,
    /// without handing the keys to anyone: pre-signed URLs are signed with it (`presign`),
    /// and the caller records what it gives out.
    pub async fn session(&self, caller: &Caller, access: Option<&str>) -> Result<Session<'_>, Failure> {
        self.rate.check(&caller.user_id).map_err(VendError::RateLimited)?;
        if let Some(claim) = &caller.unmet_claim {
            return Err(VendError::RequiredClaim(claim.clone()).into());
        }
        // A claim that fails its checks is refused before anything is made for the caller.
        if caller.org == TokenOrg::Invalid {
            return Err(VendError::ClaimInvalid.into());
        }
        let template = self.authorize(caller, access)?;
        let org_claim = org_claim(caller, template)?;
        let claims = self.tags.for_access(caller, template, &self.policies)?;
        let early_claims = &claims;
        // On a first login, the keys are asked for while the bucket is being configured; they
        // are used only once `ensure_ready_with` has returned (every setting confirmed). An org
        // template's keys wait for the org's storage as well, so they are not asked for early.
        let early = std::sync::Mutex::new(None);
        let slot = &early;
        let user = self
            .provisioner
            .ensure_ready_with(caller, |row| async move {
                if org_claim.is_none() {
                    let found = self.keys.get(&row, None, template, early_claims).await;
                    *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(found);
                }
            })
            .await
            .map_err(VendError::Provisioning)?;
        if user.disabled_at.is_some() {
            return Err(VendError::Disabled.into());
        }
        let org = match org_claim {
            Some(claim) => Some(
                self.provisioner
                    .ensure_org(&caller.issuer, claim)
                    .await
                    .map_err(VendError::Provisioning)?,
            ),
            None => None,
        };
        if org.as_ref().is_some_and(|o| o.disabled_at.is_some()) {
            return Err(VendError::OrgDisabled(template.access().to_owned()).into());
        }
        // A user in prefix mode gets the access's prefix-mode variant (never asked for in the
        // meanwhile above: that runs only when a bucket is being created).
        let template = self
            .policies
            .for_mode(template, user.storage_mode())
            .ok_or_else(|| VendError::NoVariant(template.name().to_owned()))?;
        // The variant follows the user's storage mode; the org's must be the same, or its
        // storage would be rendered into a policy written for the other layout.
        if let Some(org) = &org
            && org.prefix.is_some() != template.is_prefix_variant()
        {
            return Err(VendError::OrgModeMismatch(template.access().to_owned()).into());
        }
        let early = early.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let claims = self.tags.for_variant(caller, template, claims)?;
        let found = match early {
            Some(found) => found,
            None => self.keys.get(&user, org.as_deref(), template, &claims).await,
        }
        .map_err(VendError::Sts)?;
        Ok(Session {
            found,
            user,
            template,
            org,
        })
    }

    /// Prefix mode: revoking (or deleting) a user no session of whom can be alive writes no
    /// Deny (`admin/shared.rs`): it records the cut-off on the user's row, and then reads the
    /// audit to see that no session is out. A process whose cache still holds the older row
    /// could hand out keys issued before that cut-off afterwards, which no Deny refuses. So
    /// after a new audit row is committed (and before the keys or a URL leave) the user's row
    /// is read again from the database: keys issued before its cut-off, or for a user disabled
    /// or gone since, are withheld ([`VendError::Superseded`]; this process's cached state of
    /// the user is dropped). Either this read comes after the revocation recorded its cut-off,
    /// or the audit row was committed before that and the revocation's read of the audit sees
    /// it. Bucket mode always writes the Deny and skips this read.
    pub async fn still_current(&self, user: &UserRecord, credentials: &Credentials) -> Result<(), Failure> {
        if user.prefix.is_none() {
            return Ok(());
        }
        let issued = self.keys.issued_at(credentials);
        let current = self
            .store
            .user(&user.user_id)
            .await
            .map_err(VendError::Audit)?
            .is_some_and(|row| row.disabled_at.is_none() && row.revoked_before.is_none_or(|cut| issued >= cut));
        if current {
            return Ok(());
        }
        tracing::info!(user_id = %user.user_id, "keys withheld: the user was disabled, deleted or revoked while they were handed out");
        self.drop_cached(&user.user_id).await;
        Err(VendError::Superseded.into())
    }

    /// The template named `access`, when the caller holds one of the grants it requires.
    fn authorize(&self, caller: &Caller, access: Option<&str>) -> Result<&Template, VendError> {
        let access = access.unwrap_or(&self.grants.default);
        let template = self.policies.get(access).ok_or_else(|| VendError::UnknownAccess {
            access: access.escape_debug().to_string(),
            available: self.policies.access_names().collect::<Vec<_>>().join(", "),
        })?;
        let needs = self
            .grants
            .by_template
            .get(template.name())
            .map(Vec::as_slice)
            .unwrap_or_default();
        if caller.has_any(needs) {
            Ok(template)
        } else {
            Err(VendError::InsufficientScope {
                access: access.to_owned(),
                needs: needs.join(", "),
            })
        }
    }

    /// A session of the user's default access, never handed out: revocation probes the bucket
    /// with it (issued before the cut-off) until the bucket policy refuses it. `None` when the
    /// default access has no template for the user's storage mode (start-up warns of it).
    pub async fn probe_session(&self, user: &UserRecord) -> Result<Option<Credentials>, AwsError> {
        let Some(template) = self
            .policies
            .get(&self.grants.default)
            .and_then(|t| self.policies.for_mode(t, user.storage_mode()))
        else {
            tracing::warn!(user_id = %user.user_id, access = %self.grants.default, "no template of the default access for the user's storage mode: no probe session");
            return Ok(None);
        };
        self.keys.probe_session(user, None, template).await.map(Some)
    }

    /// The caller's organisation's stored mapping, when their token names a valid one and it
    /// has a row (`/v1/me`); nothing is provisioned.
    pub async fn org_mapping(&self, caller: &Caller) -> Result<Option<OrgRecord>, Failure> {
        match &caller.org {
            TokenOrg::Valid(claim) => self
                .provisioner
                .lookup_org(&caller.issuer, claim)
                .await
                .map_err(|e| Failure::store("organisation lookup", &e)),
            TokenOrg::None | TokenOrg::Invalid => Ok(None),
        }
    }

    /// The provisioner that makes and checks the mappings vends are made from (admin actions
    /// check the rows they act on with it).
    pub fn provisioner(&self) -> &Provisioner {
        &self.provisioner
    }

    /// The caller's stored mapping, without provisioning anything (`/v1/me`); not found before
    /// their first vend. A token missing a claim `auth.required_claims` names is refused as a
    /// vend would be: it learns nothing of the storage a token that had it was given.
    pub async fn mapping(&self, caller: &Caller) -> Result<UserRecord, Failure> {
        if let Some(claim) = &caller.unmet_claim {
            return Err(VendError::RequiredClaim(claim.clone()).into());
        }
        let user_id = &caller.user_id;
        self.provisioner
            .lookup(user_id)
            .await
            .map_err(|e| Failure::store("user lookup", &e))?
            .ok_or_else(|| Failure::not_found("no bucket yet: the first POST /v1/credentials creates it"))
    }

    /// Drops everything cached about the user (mapping and keys), here and in the keys the
    /// fleet shares, so the next request reads the stored row and asks STS: after an operator
    /// changed the user.
    pub async fn forget_user(&self, user_id: &UserId) {
        self.keys.forget_user(user_id).await;
        self.provisioner.forget(user_id).await;
    }

    /// Drops what this process alone cached about the user: after another process changed
    /// them (the change feed). The shared keys stay; they are checked against the user's
    /// stored row when they are read.
    pub async fn drop_cached(&self, user_id: &UserId) {
        self.keys.drop_cached(user_id).await;
        self.provisioner.forget(user_id).await;
    }

    /// Drops every mapping and key this process cached: after it may have missed changes
    /// (a gap in the change feed). Each user's next request reads their stored row again.
    pub fn drop_all_cached(&self) {
        self.keys.drop_all_cached();
        self.provisioner.forget_all();
    }
}

/// The organisation an org template needs (`None` for a personal template); an org template
/// with no organisation in the token is refused before anything is made.
fn org_claim<'c>(caller: &'c Caller, template: &Template) -> Result<Option<&'c OrgClaim>, VendError> {
    if !template.is_org() {
        return Ok(None);
    }
    match &caller.org {
        TokenOrg::Valid(claim) => Ok(Some(claim)),
        TokenOrg::None | TokenOrg::Invalid => Err(VendError::OrgRequired(template.access().to_owned())),
    }
}

/// A fingerprint of who receives keys: the client address and the OAuth client. Keyed with a
/// per-process random key, so it cannot be steered into a collision from outside.
fn party(addr: Option<IpAddr>, client_id: Option<&str>) -> u64 {
    static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    KEY.hash_one((addr, client_id))
}
/// Whose keys `user`'s are, and the storage they are scoped to.
impl<'a> From<&'a UserRecord> for Grantee<'a> {
    fn from(user: &'a UserRecord) -> Self {
        Self {
            user_id: &user.user_id,
            bucket: &user.bucket,
            prefix: user.prefix.as_ref(),
        }
    }
}
