//! `[policies]`: the template folder, the default template and who may use each.

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
}
