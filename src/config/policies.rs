//! `[policies]`: the template folder, the default template and who may use each, and the
//! token claims templates may name (`[policies.claims]`, see `claims`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct PoliciesConfig {
    pub dir: PathBuf,
    /// Template vended when the request names none.
    pub default: String,
    /// Template name -> the scopes or permissions of which a token needs at least one.
    pub grants: BTreeMap<String, Vec<String>>,
    /// Claims templates may name as `{{claims.NAME}}`, by NAME.
    #[serde(default)]
    pub claims: BTreeMap<String, super::ClaimConfig>,
}
