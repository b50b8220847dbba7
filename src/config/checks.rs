//! Semantic checks of a parsed configuration: serde cannot express them, and every failed
//! check is collected so an operator fixes the file in one pass.

use super::{Config, JWKS_REFRESH_RANGE, STS_MAX_DURATION, STS_MIN_DURATION};

/// `cache.change_retention_seconds`: at least twice the longest poll period (a second), so a
/// replica that polls on time never finds a gap; at most a week, which bounds the feed's table.
const MIN_CHANGE_RETENTION: u64 = 2;
const MAX_CHANGE_RETENTION: u64 = 7 * 24 * 3600;

/// The signature algorithms an operator may allow (`auth.algorithms`): asymmetric ones only.
/// The service holds no shared secret with the issuer, and allowing HS* invites key confusion.
pub const ACCEPTED_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Claims the token checks read themselves; `auth.required_claims` may not name them.
const RESERVED_CLAIMS: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "scope",
    "permissions",
    "gty",
    "azp",
];

impl Config {
    /// Semantic checks serde cannot express. Every failed check is collected.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let auth = &self.auth;
        p.extend(issuer_url_problem(
            "auth.issuer",
            &auth.issuer,
            auth.allow_insecure_http,
        ));
        if !auth.issuer.ends_with('/') {
            p.push("auth.issuer: must end with `/` (Auth0 issuers do, and `iss` is compared exactly)".to_owned());
        }
        if auth.audience.trim().is_empty() {
            p.push("auth.audience: must not be empty".to_owned());
        }
        if auth.algorithms.is_empty() {
            p.push("auth.algorithms: at least one algorithm is required".to_owned());
        }
        for alg in &auth.algorithms {
            if !ACCEPTED_ALGORITHMS.contains(&alg.as_str()) {
                p.push(format!(
                    "auth.algorithms: `{alg}` is not an accepted asymmetric algorithm ({})",
                    ACCEPTED_ALGORITHMS.join(", ")
                ));
            }
        }
        if auth.leeway_seconds > 300 {
            p.push("auth.leeway_seconds: at most 300".to_owned());
        }
        if let Some(url) = &auth.jwks_url {
            p.extend(issuer_url_problem("auth.jwks_url", url, auth.allow_insecure_http));
        }
        if !JWKS_REFRESH_RANGE.contains(&auth.jwks_refresh_seconds) {
            p.push(format!(
                "auth.jwks_refresh_seconds: {} is outside {}..={} (a key removed from the issuer keeps verifying until the next refresh)",
                auth.jwks_refresh_seconds,
                JWKS_REFRESH_RANGE.start(),
                JWKS_REFRESH_RANGE.end()
            ));
        }
        for (name, value) in &auth.required_claims {
            if RESERVED_CLAIMS.contains(&name.as_str()) || name.is_empty() || name.len() > 256 {
                p.push(format!(
                    "auth.required_claims: `{name}` cannot be required here (stsvend checks {} itself)",
                    RESERVED_CLAIMS.join(", ")
                ));
            }
            if !(value.is_string() || value.is_boolean() || value.is_i64() || value.is_u64()) {
                p.push(format!(
                    "auth.required_claims.{name}: must be a string, a boolean or an integer"
                ));
            }
        }

        p.extend(self.presign.problems());

        let aws = &self.aws;
        if aws.region.is_empty()
            || !aws
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            p.push(format!("aws.region: `{}` is not a region name", aws.region));
        }
        if aws.endpoint_url.as_deref().is_some_and(|u| !is_http_url(u)) {
            p.push("aws.endpoint_url: must be an http(s) URL".to_owned());
        }
        if !is_role_arn(&aws.role_arn) {
            p.push(format!(
                "aws.role_arn: `{}` is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>)",
                aws.role_arn
            ));
        }
        let min_duration = if aws.allow_short_sessions { 1 } else { STS_MIN_DURATION };
        if !(min_duration..=STS_MAX_DURATION).contains(&aws.session_duration_seconds) {
            p.push(format!(
                "aws.session_duration_seconds: {} is outside {min_duration}..={STS_MAX_DURATION}",
                aws.session_duration_seconds
            ));
        } else if aws.min_remaining_seconds >= aws.session_duration_seconds {
            p.push("aws.min_remaining_seconds: must be less than aws.session_duration_seconds".to_owned());
        }
        if !is_tag_key(&aws.session_tag_key) {
            p.push("aws.session_tag_key: 1-128 characters of letters, digits, spaces and _.:/=+-@".to_owned());
        }
        if aws.call_timeout_seconds == 0 || aws.call_timeout_seconds > 60 {
            p.push("aws.call_timeout_seconds: must be 1..=60".to_owned());
        }

        if let Err(e) = crate::identity::validate_bucket_name_prefix(&self.storage.bucket_name_prefix) {
            p.push(format!("storage.bucket_name_prefix: {e}"));
        }
        let storage = &self.storage;
        if let Err(e) = crate::identity::validate_prefix_root(&storage.prefix_root) {
            p.push(format!("storage.prefix_root: {e}"));
        }
        if let Err(e) = crate::identity::validate_prefix_root(&storage.org_prefix_root) {
            p.push(format!("storage.org_prefix_root: {e}"));
        } else if crate::identity::prefix_roots_overlap(&storage.prefix_root, &storage.org_prefix_root) {
            p.push(format!(
                "storage.org_prefix_root: `{}` overlaps storage.prefix_root `{}`: organisations' prefixes would sit among users'",
                storage.org_prefix_root, storage.prefix_root
            ));
        }
        if let Some(quota) = &self.quota {
            p.extend(quota.problems());
        }
        if let Some(orgs) = &self.orgs {
            p.extend(orgs.problems(&RESERVED_CLAIMS));
        }
        // The org claim only ever reaches AWS as the internal id (`{{org_id}}`, `stsvend-org`).
        let mut unreadable = RESERVED_CLAIMS.to_vec();
        unreadable.extend(self.orgs.as_ref().map(|o| o.claim.as_str()));
        p.extend(super::claims::problems(&self.policies.claims, &unreadable));
        p.extend(self.sts.problems(&self.policies.claims, &self.aws.session_tag_key));
        match (&storage.shared_bucket, storage.mode) {
            (None, super::StorageMode::Prefix) => {
                p.push("storage.shared_bucket: required when storage.mode = \"prefix\"".to_owned());
            }
            (Some(b), _) => {
                let under_prefix = b.strip_prefix(&format!("{}-", storage.bucket_name_prefix));
                if crate::identity::BucketName::parse(b).is_err() || under_prefix.is_none_or(str::is_empty) {
                    p.push(format!(
                        "storage.shared_bucket: `{b}` must be a bucket name (a-z, 0-9, -) starting with `{}-`, so the role's permissions reach it",
                        storage.bucket_name_prefix
                    ));
                }
            }
            (None, super::StorageMode::Bucket) => {}
        }
        for origin in &self.storage.cors_allowed_origins {
            if origin != "*" && !is_http_url(origin) {
                p.push(format!(
                    "storage.cors_allowed_origins: `{origin}` is not an origin (scheme://host[:port])"
                ));
            }
        }

        for origin in &self.server.cors_allowed_origins {
            if !is_origin(origin) {
                p.push(format!(
                    "server.cors_allowed_origins: `{origin}` is not an origin (scheme://host[:port], no path; `*` is refused)"
                ));
            }
        }
        if let Some(perm) = &self.admin.permission
            && (perm.trim().is_empty() || perm.contains(char::is_whitespace))
        {
            p.push("admin.permission: one scope or permission name, without spaces".to_owned());
        }
        if !(1..=300).contains(&self.admin.policy_lease_seconds) {
            p.push("admin.policy_lease_seconds: must be 1..=300".to_owned());
        }

        if !(10..=1000).contains(&self.cache.coherence_poll_ms) {
            p.push(
                "cache.coherence_poll_ms: must be 10..=1000 (changes must hold everywhere within a second)".to_owned(),
            );
        }

        let retention = self.cache.change_retention_seconds;
        if !(MIN_CHANGE_RETENTION..=MAX_CHANGE_RETENTION).contains(&retention) {
            p.push(format!(
                "cache.change_retention_seconds: {retention} is outside {MIN_CHANGE_RETENTION}..={MAX_CHANGE_RETENTION} (keep the default of 3600 outside tests)"
            ));
        }

        if let Err(e) = super::parse_sealing_keys(&self.cache.sealing_keys.0) {
            p.push(format!("cache.sealing_keys: {e}"));
        }

        let pol = &self.policies;
        if !pol.grants.contains_key(&pol.default) {
            p.push(format!(
                "policies.default: `{}` has no entry in policies.grants",
                pol.default
            ));
        }
        for (name, needs) in &pol.grants {
            if needs.is_empty() {
                p.push(format!("policies.grants.{name}: list at least one scope or permission"));
            }
        }
        let lim = &self.limits;
        for (key, value) in [
            ("vends_per_minute", lim.vends_per_minute),
            ("vend_burst", lim.vend_burst),
            ("max_concurrent_aws_calls", lim.max_concurrent_aws_calls),
            ("assume_role_per_second", lim.assume_role_per_second),
            ("replicas", lim.replicas),
            ("new_users_per_minute", lim.new_users_per_minute),
        ] {
            if value == 0 {
                p.push(format!("limits.{key}: must be at least 1"));
            }
        }
        if self.cache.credentials_mib == 0 {
            p.push("cache.credentials_mib: must be at least 1".to_owned());
        }
        p.extend(self.database.problems());
        p
    }
}

pub(super) fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && name.len() <= 512
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        })
}

fn is_tag_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && !key.starts_with("aws:")
        && key.chars().all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
}

/// Where the issuer's keys come from (`auth.issuer`, `auth.jwks_url`): `https://`, or plain
/// `http://` only when the operator allowed it. Loopback gets no exception.
fn issuer_url_problem(key: &str, url: &str, allow_insecure_http: bool) -> Option<String> {
    if url.starts_with("https://") {
        None
    } else if url.starts_with("http://") {
        (!allow_insecure_http).then(|| {
            format!(
                "{key}: `{url}` is plain http; the issuer's keys decide which tokens are accepted, so they must come over https (set auth.allow_insecure_http = true only for a local test issuer)"
            )
        })
    } else {
        Some(format!("{key}: must be an https:// URL"))
    }
}

/// What follows `https://` or `http://` in `url`; `None` for any other scheme.
fn after_http_scheme(url: &str) -> Option<&str> {
    url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))
}

fn is_http_url(url: &str) -> bool {
    after_http_scheme(url).is_some()
}

/// `scheme://host[:port]` exactly as browsers send it in `Origin`.
fn is_origin(origin: &str) -> bool {
    after_http_scheme(origin).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    })
}
