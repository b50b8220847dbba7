//! Session-policy templates: the folder of JSON documents STS sessions are scoped by.
//!
//! A template is a JSON file in `policies.dir`, named `<access>.json`; `prefix-<access>.json`
//! is the same access for users in prefix mode (a prefix of a shared bucket), and only it may
//! (and must) use `{{prefix}}`. Placeholders (`{{bucket}}`, `{{user_id}}`, `{{account_id}}`,
//! `{{prefix}}`) may only appear inside JSON string values: the template is parsed first and
//! substitution happens on the parsed strings, so no value can change the policy's structure.
//! A template naming `{{org_bucket}}`, `{{org_prefix}}` or `{{org_id}}` is an org template: it
//! also reaches the caller's organisation's storage (`[orgs]`); only prefix-mode variants use
//! `{{org_prefix}}`. `{{claims.NAME}}` is a token claim declared in `[policies.claims]`, its
//! value checked against the claim's pattern before it is substituted. Every template is trial-rendered at start-up with the longest names
//! stsvend can produce, and refused if it is invalid or exceeds STS's 2048-character limit.
//!
//! - `template`: one file: parsing, the placeholder checks, the trial render, rendering.
//! - `set`: the folder: loading every template, checking it against `[policies]` and
//!   `[orgs]`, choosing a template for an access and a storage mode.
//! - `actions`: which S3 actions a template allows (to refuse a presign it could never use).
//! - `pin`: which statements are not pinned to the service's own account.
//! - `trial`: a made-up user's storage, to render templates for without a real user.
//! - `strict_json`: JSON parsing that refuses a key written twice in one object.
//! - `claims`: token claims named as `{{claims.NAME}}` (`[policies.claims]`): their longest
//!   values for the trial renders, and the values one session is made with.

mod actions;
mod claims;
mod pin;
mod set;
mod strict_json;
mod template;
mod trial;
mod writes;

use std::path::PathBuf;

pub use actions::grants_on;
pub use claims::{DeclaredClaims, SessionClaims, longest as longest_claim_value};
pub use pin::{ACCOUNT_CONDITION_KEY, unpinned_statements};
pub use set::PolicySet;
pub use template::{OrgContext, RenderContext, Template};
pub use trial::{TrialNames, TrialStorage};
pub use writes::{WRITE_ACTIONS, WriteTargets};

/// STS rejects inline session policies longer than this (minified, in characters).
pub const MAX_POLICY_CHARS: usize = 2048;

/// File-name prefix of a template's prefix-mode variant: `prefix-read-write.json` serves
/// `read-write` to users in prefix mode.
pub const PREFIX_VARIANT: &str = "prefix-";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy directory {dir}: {source}")]
    Dir { dir: PathBuf, source: std::io::Error },
    #[error("{file}: {reason}")]
    Template { file: PathBuf, reason: String },
    #[error("no template named `{0}` in the policy directory (referenced by config)")]
    Missing(String),
    #[error("storage.mode = \"prefix\" needs a prefix-mode variant of `{0}`: {PREFIX_VARIANT}{0}.json")]
    MissingVariant(String),
    #[error("`{0}` is an org template (it names {{{{org_*}}}}): configure [orgs] to grant it")]
    OrgsOff(String),
    #[error("policies.default `{0}` is an org template: the default must serve callers without an organisation")]
    OrgDefault(String),
}

#[cfg(test)]
mod claims_tests;
#[cfg(test)]
mod org_tests;
#[cfg(test)]
mod tests;
