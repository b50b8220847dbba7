//! `stsvend doctor`: checks a deployment the way the service will use it, one line per check
//! (`ok`, `warn` or `FAIL` and a reason). Nothing it does is visible to users: the trial
//! session is for a made-up user and the database probe is rolled back.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod account;
mod mappings;
mod quota;
mod shared;

mod session;
use super::is_role_session;
use crate::auth::JwksCache;
use crate::aws::Sdk;
use crate::aws::gate::AwsGate;
use crate::aws::iam::Iam;
use crate::aws::s3::Buckets;
use crate::aws::sts::{ROLE_CHAINING_CAP, Sts, chaining_refused};
use crate::config::Config;
use crate::store::Store;
use account::{check_bucket_quota, check_first_login, check_role_pin};
use mappings::check_mappings;
use quota::check_quota;
use session::{check_templates, trial_assume};
use shared::check_shared_bucket;

/// The shortest session STS grants, used for the trial.
const TRIAL_SECONDS: i32 = 900;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so `{:<4}` lines the reasons up.
        f.pad(match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        })
    }
}

/// Prints each check as it completes and remembers whether any failed.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, status: Status, check: &str, reason: &str) {
        self.failed |= status == Status::Fail;
        println!("{status:<4} {check}: {}", one_line(reason));
    }

    fn result(&mut self, check: &str, outcome: Result<String, String>) -> bool {
        match outcome {
            Ok(reason) => {
                self.line(Status::Ok, check, &reason);
                true
            }
            Err(reason) => {
                self.line(Status::Fail, check, &reason);
                false
            }
        }
    }
}

/// One line per check, whatever the error text holds: list items become `; `-separated.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for part in text
        .lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .filter(|l| !l.is_empty())
    {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(part);
    }
    out
}

/// Runs every check; true when none failed (warnings allowed).
pub async fn run(config_path: &Path) -> bool {
    let mut report = Report::default();
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            report.line(Status::Fail, "config", &e.to_string());
            return false;
        }
    };
    report.line(
        Status::Ok,
        "config",
        &format!(
            "{} (issuer {}, role {}, duration {} s)",
            config_path.display(),
            config.auth.issuer,
            config.aws.role_arn,
            config.aws.session_duration_seconds
        ),
    );

    let policies = check_templates(&config);
    report.result(
        "templates",
        policies.as_ref().map(|(_, r)| r.clone()).map_err(Clone::clone),
    );
    let database = match config
        .database
        .redacted_url()
        .filter(|_| config.database.postgres_url().is_some())
    {
        Some(shown) => check_postgres(&config.database, &shown).await,
        None => check_database(&config.database.path).await,
    };
    report.result("database", database);
    report.result("jwks", check_jwks(&config).await);

    let sdk = Sdk::load(&config.aws).await;
    // The vend's own `AssumeRole` (its gate and metrics are doctor's alone).
    let gate = AwsGate::for_command(&config.aws, &config.limits);
    let vend_sts =
        Sts::new(&sdk, &config.aws, Arc::clone(&gate)).with_session_tags(&config.sts, &config.policies.claims);
    match vend_sts.caller_identity().await {
        Ok(me) => {
            report.line(Status::Ok, "identity", &format!("{} (account {})", me.arn, me.account));
            let duration = config.aws.session_duration_seconds;
            if !is_role_session(&me.arn) {
                report.line(
                    Status::Ok,
                    "role-chaining",
                    "the service runs on non-role credentials: no one-hour cap",
                );
            } else if duration > ROLE_CHAINING_CAP {
                report.line(Status::Warn, "role-chaining", &chaining_refused(duration));
            } else {
                report.line(
                    Status::Ok,
                    "role-chaining",
                    &format!(
                        "role credentials, and {duration} s is within the {ROLE_CHAINING_CAP} s cap on chained sessions"
                    ),
                );
            }
        }
        Err(e) => report.line(Status::Fail, "identity", &e.to_string()),
    }
    let (status, reason) = check_role_pin(&Iam::new(&sdk), &config).await;
    report.line(status, "account-pin", &reason);
    let buckets = Buckets::new(&sdk, &config.storage, &config.aws, gate);
    let (status, reason) = check_bucket_quota(&buckets, &config).await;
    report.line(status, "bucket-quota", &reason);
    let (status, reason) = check_mappings(&buckets, &config).await;
    report.line(status, "mappings", &reason);
    if let Some((status, reason)) = check_shared_bucket(&buckets, &config).await {
        report.line(status, "shared-bucket", &reason);
    }
    if let Some((status, reason)) = check_quota(&crate::aws::sqs::Sqs::for_command(&sdk), &buckets, &config).await {
        report.line(status, "quota", &reason);
    }
    report.result(
        "first-login",
        Box::pin(check_first_login(
            &buckets,
            &vend_sts,
            &config,
            policies.as_ref().ok().map(|(p, _)| p),
        ))
        .await,
    );

    let Ok((policies, _)) = policies else {
        report.line(
            Status::Fail,
            "assume-role",
            "no trial session policy: the templates did not load",
        );
        return !report.failed;
    };
    let trial = |seconds| trial_assume(&vend_sts, &config, &policies, seconds);
    let assumed = report.result(
        "assume-role",
        trial(TRIAL_SECONDS).await.map(|arn| {
            format!(
                "{arn}: trial session policy, tag {}, SourceIdentity, {TRIAL_SECONDS} s",
                config.aws.session_tag_key
            )
        }),
    );
    let duration = i32::try_from(config.aws.session_duration_seconds).unwrap_or(i32::MAX);
    if assumed && duration != TRIAL_SECONDS {
        report.result(
            "session-duration",
            trial(duration)
                .await
                .map(|_| format!("AssumeRole grants the configured {duration} s"))
                .map_err(|e| {
                    format!("AssumeRole refuses {duration} s ({e}); the role's MaxSessionDuration must be at least that (`stsvend bootstrap` raises it)")
                }),
        );
    }
    !report.failed
}

/// Opens the database as the service does, then takes the write lock and writes inside a
/// transaction that is rolled back, so nothing is left behind.
async fn check_database(path: &Path) -> Result<String, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        Store::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let probe = || -> rusqlite::Result<()> {
            let c = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            c.busy_timeout(Duration::from_secs(5))?;
            c.execute_batch(
                "BEGIN IMMEDIATE;
                 CREATE TABLE stsvend_doctor_probe (x INTEGER);
                 INSERT INTO stsvend_doctor_probe VALUES (1);
                 ROLLBACK;",
            )
        };
        probe().map_err(|e| format!("{} is not writable: {e}", path.display()))?;
        Ok(format!("{} opens and takes a write", path.display()))
    })
    .await
    .map_err(|e| format!("database check did not finish: {e}"))?
}

/// The `PostgreSQL` server answers over the configured TLS, and the schema is up to date (the
/// migrations ran, under their lock: a write).
async fn check_postgres(database: &crate::config::DatabaseConfig, shown: &str) -> Result<String, String> {
    let store = Store::connect(database).await.map_err(|e| format!("{shown}: {e}"))?;
    store.ping().await.map_err(|e| format!("{shown}: {e}"))?;
    Ok(format!("{shown} answers; schema up to date"))
}

/// The JWKS is fetched (through discovery unless `auth.jwks_url` is set) and holds at least one
/// usable signing key; the cache refuses a set without one.
async fn check_jwks(config: &Config) -> Result<String, String> {
    let jwks = JwksCache::from_config(&config.auth);
    jwks.refresh().await.map_err(|e| e.to_string())?;
    if !jwks.is_loaded() {
        return Err("fetched, but no keys were loaded".to_owned());
    }
    let source = config
        .auth
        .jwks_url
        .clone()
        .unwrap_or_else(|| format!("discovery at {}", config.auth.issuer));
    Ok(format!("usable signing keys from {source}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_as_documented() {
        assert_eq!(
            [Status::Ok, Status::Warn, Status::Fail].map(|s| s.to_string()),
            ["ok", "warn", "FAIL"]
        );
    }

    #[test]
    fn multi_line_reasons_fit_on_one_line() {
        assert_eq!(
            one_line("invalid configuration (c.toml):\n  - a: bad\n  - b: worse\n"),
            "invalid configuration (c.toml): a: bad; b: worse"
        );
    }
}
