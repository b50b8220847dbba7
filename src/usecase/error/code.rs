//! The stable codes of each class of [`Failure`](super::Failure), as clients see them.

/// Seconds a client should wait before retrying an outage.
const RETRY_AFTER_SECONDS: u64 = 5;
/// Seconds to wait after `bucket_quota_exhausted`: the quota does not free up in seconds.
const QUOTA_RETRY_AFTER_SECONDS: u64 = 300;

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    MissingToken,
    InvalidToken,
    TokenExpired,
    TokenNotYetValid,
    InvalidIssuer,
    InvalidAudience,
    UnknownKey,
    ClientCredentialsRefused,
}

impl Unauthenticated {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::UnknownKey => "unknown_key",
            Self::ClientCredentialsRefused => "client_credentials_refused",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// The token lacks the scope or permission the action needs.
    InsufficientScope,
    UserDisabled,
    RequiredClaimMissing,
    /// An org template asked for by a token that names no organisation.
    OrgRequired,
    /// A claim (the organisation's) fails its configured pattern.
    ClaimInvalid,
    /// An operator disabled the caller's organisation: its templates are refused.
    OrgDisabled,
    /// A write (a template that can write, a pre-signed upload) into storage whose owner is at
    /// or over a quota limit (`Failure::QuotaExceeded` carries the usage).
    QuotaExceeded,
}

impl Forbidden {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InsufficientScope => "insufficient_scope",
            Self::UserDisabled => "user_disabled",
            Self::RequiredClaimMissing => "required_claim_missing",
            Self::OrgRequired => "org_required",
            Self::ClaimInvalid => "claim_invalid",
            Self::OrgDisabled => "org_disabled",
            Self::QuotaExceeded => "quota_exceeded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    UnknownAccess,
    InvalidKey,
    InvalidContentType,
    InvalidExpiresIn,
    InvalidMaxBytes,
    InvalidContentLength,
    ContentLengthRequired,
    InvalidUserId,
    InvalidOrgId,
    /// A quota override body that is not `{"bytes": n|null, "objects": n|null}`.
    InvalidQuota,
}

impl Invalid {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAccess => "unknown_access",
            Self::InvalidKey => "invalid_key",
            Self::InvalidContentType => "invalid_content_type",
            Self::InvalidExpiresIn => "invalid_expires_in",
            Self::InvalidMaxBytes => "invalid_max_bytes",
            Self::InvalidContentLength => "invalid_content_length",
            Self::ContentLengthRequired => "content_length_required",
            Self::InvalidUserId => "invalid_user_id",
            Self::InvalidOrgId => "invalid_org_id",
            Self::InvalidQuota => "invalid_quota",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    BucketNotEmpty,
    BucketPolicyUnreadable,
    RevocationCapacityExhausted,
    /// The user's storage is a prefix and the access has no prefix-mode template.
    AccessUnavailableInPrefixMode,
    /// The member's own storage and the organisation's were made in different storage modes.
    OrgStorageModeMismatch,
    /// A quota override asked for while `[quota]` is off.
    QuotasOff,
    /// A reconciliation of the owner's storage is running already (on some replica).
    ReconcileRunning,
}

impl Conflict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BucketNotEmpty => "bucket_not_empty",
            Self::BucketPolicyUnreadable => "bucket_policy_unreadable",
            Self::RevocationCapacityExhausted => "revocation_capacity_exhausted",
            Self::AccessUnavailableInPrefixMode => "access_unavailable_in_prefix_mode",
            Self::OrgStorageModeMismatch => "org_storage_mode_mismatch",
            Self::QuotasOff => "quotas_off",
            Self::ReconcileRunning => "reconcile_running",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooMany {
    /// The caller's vend rate.
    RateLimited,
    /// New users arrive faster than `limits.new_users_per_minute`.
    ProvisioningRateLimited,
    /// `limits.new_users_per_day` new users were made within the last day.
    NewUserLimitReached,
}

impl TooMany {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::ProvisioningRateLimited => "provisioning_rate_limited",
            Self::NewUserLimitReached => "new_user_limit_reached",
        }
    }

    pub(super) fn message(self, retry_after: u64) -> String {
        match self {
            Self::RateLimited => format!("too many requests; retry in {retry_after} s"),
            Self::ProvisioningRateLimited => format!("too many new users right now; retry in {retry_after} s"),
            Self::NewUserLimitReached => {
                format!("no more new accounts can be set up today; retry in {retry_after} s")
            }
        }
    }
}

/// What is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    AwsS3,
    AwsSts,
    AwsIam,
    Database,
    AuditLog,
    /// Prefix mode: other writers kept the shared bucket's policy lease.
    SharedBucketPolicy,
    /// The user changed while their keys were handed out; the next request sees the change.
    AccountCredentials,
    /// The issuer's signing keys (JWKS) were never loaded or cannot be refreshed.
    IssuerKeys,
    /// AWS refused a new bucket: the account's bucket quota is used up.
    BucketQuota,
}

impl Unavailable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwsS3
            | Self::AwsSts
            | Self::AwsIam
            | Self::Database
            | Self::AuditLog
            | Self::SharedBucketPolicy
            | Self::AccountCredentials => "service_unavailable",
            Self::IssuerKeys => "jwks_unavailable",
            Self::BucketQuota => "bucket_quota_exhausted",
        }
    }

    pub(super) fn message(self) -> String {
        let what = match self {
            Self::AwsS3 => "AWS S3",
            Self::AwsSts => "AWS STS",
            Self::AwsIam => "AWS IAM",
            Self::Database => "the database",
            Self::AuditLog => "the audit log",
            Self::SharedBucketPolicy => "the shared bucket's policy",
            Self::AccountCredentials => "this account's credentials",
            Self::IssuerKeys => return "the identity provider's keys are unavailable".to_owned(),
            Self::BucketQuota => {
                return "no storage can be created for new users right now; retry later".to_owned();
            }
        };
        format!("{what} is unavailable; retry later")
    }

    /// Seconds a client should wait: room in the bucket quota comes back when an operator
    /// deletes users or AWS raises it, not in seconds.
    fn retry_after(self) -> u64 {
        match self {
            Self::BucketQuota => QUOTA_RETRY_AFTER_SECONDS,
            Self::AwsS3
            | Self::AwsIam
            | Self::AwsSts
            | Self::Database
            | Self::AuditLog
            | Self::SharedBucketPolicy
            | Self::AccountCredentials
            | Self::IssuerKeys => RETRY_AFTER_SECONDS,
        }
    }

    pub(super) fn failure(self) -> super::Failure {
        super::Failure::Unavailable {
            what: self,
            retry_after: self.retry_after(),
        }
    }
}
