//! The admin API's answers about key hand-outs and the admin audit log, as sent: the wire form
//! (and `OpenAPI` schema) of what the admin use cases read from the store.

use serde::{Deserialize, Serialize};

use crate::usecase::admin;

/// The hand-outs of an access key to one party (client address, OAuth client), with whose key
/// it was (also after the user was deleted).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyOwner {
    pub user_id: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub bucket: Option<String>,
    /// True when the user has since been deleted.
    pub user_deleted: bool,
    pub template: String,
    /// The first hand-out to this party.
    pub vended_at: String,
    /// The latest hand-out to this party (repeats are written within a second).
    pub last_at: String,
    /// How many times the key went to this party.
    pub hand_outs: u32,
    pub expiration: String,
    pub client_addr: Option<String>,
    pub client_id: Option<String>,
    /// True when the first hand-out to this party came from the credential cache.
    pub from_cache: bool,
    /// Prefix mode: the user's prefix of `bucket` (also after the user was deleted).
    #[serde(default)]
    pub prefix: Option<String>,
}

impl From<admin::KeyOwner> for KeyOwner {
    fn from(k: admin::KeyOwner) -> Self {
        Self {
            user_id: k.user_id,
            issuer: k.issuer,
            subject: k.subject,
            bucket: k.bucket,
            user_deleted: k.user_deleted,
            template: k.template,
            vended_at: k.vended_at,
            last_at: k.last_at,
            hand_outs: k.hand_outs,
            expiration: k.expiration,
            client_addr: k.client_addr,
            client_id: k.client_id,
            from_cache: k.from_cache,
            prefix: k.prefix,
        }
    }
}

/// One admin action, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdminAction {
    pub at: String,
    pub actor: String,
    pub actor_client: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub client_addr: Option<String>,
}

impl From<admin::AdminAction> for AdminAction {
    fn from(a: admin::AdminAction) -> Self {
        Self {
            at: a.at,
            actor: a.actor,
            actor_client: a.actor_client,
            action: a.action,
            target: a.target,
            outcome: a.outcome,
            detail: a.detail,
            client_addr: a.client_addr,
        }
    }
}
