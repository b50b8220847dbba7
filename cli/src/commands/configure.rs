//! `stsvend-cli configure`: an AWS CLI / SDK profile whose credentials come from this binary.

use reqwest::blocking::Client;

use crate::awsconfig::{self, Profile, shell_quote};
use crate::error::CliError;
use crate::files::{self, PRIVATE};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct ConfigureArgs {
    /// Profile to write (`default` writes the `[default]` section).
    #[arg(long, default_value = "stsvend")]
    pub profile: String,
    /// Region for the profile [default: the one stsvend reports, which needs a login].
    #[arg(long)]
    pub region: Option<String>,
    /// S3 endpoint for a non-AWS store [default: the one stsvend reports, when --region is not given].
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Access level the profile asks for (as in `credential-process --access`).
    #[arg(long)]
    pub access: Option<String>,
}

pub fn run(http: &Client, store: &Store<'_>, store_explicit: bool, args: ConfigureArgs) -> Result<(), CliError> {
    let (region, endpoint_url, place) = if let Some(region) = args.region {
        (region, args.endpoint_url, None)
    } else {
        // Ask stsvend where the bucket lives: one vend, which also proves the login works.
        let creds = super::credential_process::vend(http, store, args.access.as_deref())?;
        let place = creds.place();
        if let Some(place) = &place {
            // In a shared bucket (a non-empty prefix) the keys list and write under it only.
            eprintln!("Your files: {place}");
        }
        if let Some(team) = creds.team_place() {
            // A team template: the same keys reach the organisation's storage too.
            eprintln!("Team files: {team}");
        }
        let region = creds.region.ok_or_else(|| CliError::BadResponse {
            what: "stsvend".into(),
            reason: "no Region in the credentials; pass --region".into(),
        })?;
        (region, args.endpoint_url.or(creds.endpoint), place)
    };

    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(CliError::io("cannot find the path of stsvend-cli"))?;
    let mut command = vec![shell_quote(&exe.to_string_lossy()), "credential-process".to_owned()];
    if store_explicit {
        // The AWS CLI runs the command without our environment: name the store explicitly.
        let abs = std::path::absolute(store.path()).map_err(CliError::io("cannot resolve --token-store"))?;
        command.extend(["--token-store".to_owned(), shell_quote(&abs.to_string_lossy())]);
    }
    if !store.keychain_enabled() {
        // Same reason: a keychain turned off here stays off when the AWS CLI runs it.
        command.extend(["--keyring".to_owned(), "off".to_owned()]);
    }
    if let Some(access) = &args.access {
        command.extend(["--access".to_owned(), shell_quote(access)]);
    }
    let profile = Profile {
        name: args.profile,
        credential_process: command.join(" "),
        region,
        endpoint_url,
    };

    let path = awsconfig::config_path()?;
    let before = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CliError::io(format!("cannot read {}", path.display()))(e)),
    };
    let after = awsconfig::upsert(&before, &profile);
    if after != before {
        let mode = files::existing_mode(&path).unwrap_or(PRIVATE);
        files::write_atomic(&path, after.as_bytes(), mode)?;
    }
    // `aws s3 ls` without a path lists every bucket, which the keys may not do: name the place.
    eprintln!(
        "Profile `{}` in {} gets its credentials from stsvend-cli; try: aws --profile {} s3 ls {}",
        profile.name,
        path.display(),
        profile.name,
        place.as_deref().unwrap_or("s3://<your bucket>/<your prefix>")
    );
    Ok(())
}
