//! `stsvend-cli credential-process`: the AWS `credential_process` contract. Version 1 JSON on
//! stdout and exit 0, or a message on stderr and a non-zero exit.

use std::io::Write;
use std::time::Duration;

use reqwest::blocking::Client;

use crate::api::{self, Credentials, VendError};
use crate::error::CliError;
use crate::session::{self, Want};
use crate::store::Store;

/// A token with less than this left is refreshed before use.
pub const MIN_TOKEN_VALIDITY: Duration = Duration::from_mins(1);

/// Vends with a fresh token; when stsvend still says 401 (a token revoked or expired early),
/// refreshes once more and retries once.
pub fn vend(http: &Client, store: &Store<'_>, access: Option<&str>) -> Result<Credentials, CliError> {
    let session = session::fresh(http, store, Want::AtLeast(MIN_TOKEN_VALIDITY))?;
    match api::vend(http, &session.api, &session.access_token, access) {
        Err(VendError::Unauthorized { .. }) if session.refresh_token.is_some() => {
            let session = session::fresh(http, store, Want::NewToken)?;
            Ok(api::vend(http, &session.api, &session.access_token, access)?)
        }
        other => Ok(other?),
    }
}

pub fn run(http: &Client, store: &Store<'_>, access: Option<&str>) -> Result<(), CliError> {
    let creds = vend(http, store, access)?;
    let mut out = serde_json::to_vec(&creds).map_err(|e| CliError::Usage(e.to_string()))?;
    out.push(b'\n');
    std::io::stdout()
        .lock()
        .write_all(&out)
        .map_err(CliError::io("cannot write to stdout"))
}
