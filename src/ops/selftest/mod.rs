//! `stsvend selftest`: proves on the configured deployment (its config, its AWS account, its
//! database) that one user's keys cannot reach another's storage and how long a revocation
//! takes there, the things an AWS emulator cannot prove. Two probe users go through the same
//! code a vend uses, with no identity provider; every check prints one line with its time, and
//! everything the run made is removed at the end, on failure and on Ctrl-C.
//!
//! Probe users are (issuer `stsvend-selftest`, subject `stsvend-selftest-probe-<run>-<a|b>`).
//! No real token can carry that issuer: `auth.issuer` must be an https URL (or http on
//! loopback in tests), and a token is accepted only from the configured issuer, so a probe's
//! user id (a hash of issuer and subject) is never a real user's. The stored row's issuer is
//! the probe flag: `--cleanup` finds the leftovers of an interrupted run by it.
//!
//! This module decides what to check and how to report it; the vend-path operations
//! ([`Deployment`]) are handed in by the wiring place (`app::selftest`), since operator
//! commands sit beside the use cases, not above them (tests/layers.rs). The S3 requests made
//! with the probes' keys are `aws::probe`'s.

mod checks;
mod cleanup;
mod isolation;
mod pin;
mod report;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::aws::sts::Credentials;
use crate::config::Config;
use crate::identity::{BucketName, UserId};

pub use report::Report;

/// The issuer of every probe user; never a real token's (see the module comment).
pub const PROBE_ISSUER: &str = "stsvend-selftest";
/// The start of every probe subject: `--cleanup` searches the users for it.
pub const PROBE_SUBJECT: &str = "stsvend-selftest-probe-";

/// One of the run's two probe users.
#[derive(Debug, Clone)]
pub struct Probe {
    /// `a` or `b`, as the output names them.
    pub name: &'static str,
    pub subject: String,
    pub user_id: UserId,
}

impl Probe {
    fn new(name: &'static str, run: &str) -> Self {
        let subject = format!("{PROBE_SUBJECT}{run}-{name}");
        let user_id = UserId::derive(PROBE_ISSUER, &subject);
        Self { name, subject, user_id }
    }
}

/// Where a probe's keys may write: its own bucket (`prefix` empty), or its prefix of the
/// shared bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    pub bucket: BucketName,
    pub prefix: String,
}

impl Storage {
    /// The S3 key of `relative` in this storage.
    pub fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// A request a template may or may not grant on the probe's own storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Put,
    Get,
    List,
    Delete,
    Multipart,
}

impl Verb {
    pub const ALL: [Self; 5] = [Self::Put, Self::Get, Self::List, Self::Delete, Self::Multipart];

    pub fn name(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Get => "get",
            Self::List => "list",
            Self::Delete => "delete",
            Self::Multipart => "multipart upload",
        }
    }

    /// The IAM action S3 checks for it (a multipart upload starts with `s3:PutObject`).
    pub fn action(self) -> &'static str {
        match self {
            Self::Put | Self::Multipart => "s3:PutObject",
            Self::Get => "s3:GetObject",
            Self::List => "s3:ListBucket",
            Self::Delete => "s3:DeleteObject",
        }
    }
}

/// Keys handed to a probe, as a vend hands them out.
pub struct Vended {
    pub keys: Credentials,
    pub storage: Storage,
    /// The template that served the access (a prefix-mode variant for a prefix user).
    pub template: String,
    /// What the template grants, of [`Verb::ALL`].
    pub grants: BTreeSet<Verb>,
}

/// The vend path of the deployment, as selftest drives it: each call goes through the use case
/// the service itself runs. Errors are the use cases' messages.
// Called on one task only (`run` is awaited by the command line), so no `Send` bound is needed.
#[allow(async_fn_in_trait)]
pub trait Deployment {
    /// The accesses the deployment offers (template names), the default first.
    fn accesses(&self) -> Vec<String>;
    /// Keys of `access` for `probe` (its first login provisions its storage).
    async fn vend(&self, probe: &Probe, access: &str) -> Result<Vended, String>;
    /// A pre-signed GET URL for `key` in the probe's own storage, from the presign use case.
    async fn presign_get(&self, probe: &Probe, key: &str) -> Result<String, String>;
    /// Revokes every session of the probe, as `stsvend users revoke` does; says how it ended.
    async fn revoke(&self, probe: &Probe) -> Result<String, String>;
    /// Deletes the user with everything in their storage, as `stsvend users delete --force`
    /// does; `None` when there is no such user.
    async fn remove(&self, user_id: &UserId) -> Result<Option<String>, String>;
    /// Every probe user in the database (left by an interrupted run).
    async fn probes_left(&self) -> Result<Vec<UserId>, String>;
}

/// An object written into each probe's storage, read back by the checks.
const SEED: &str = "selftest-seed.txt";
const SEED_BODY: &[u8] = b"stsvend selftest seed\n";
/// What the checks write.
const BODY: &[u8] = b"stsvend selftest\n";
/// The keys of one access, for each probe.
struct Keyed {
    access: String,
    a: Vended,
    b: Vended,
}

/// How the command was asked to run.
pub struct Options {
    /// One JSON document at the end instead of a line per check.
    pub json: bool,
    /// How long to wait for a revocation to deny keys issued before it.
    pub revoke_timeout: Duration,
    /// Only remove the leftovers of earlier runs.
    pub cleanup_only: bool,
}

/// Runs every check (or, with `cleanup_only`, the clean-up of earlier runs); true when none
/// failed.
pub async fn run<D: Deployment>(deployment: &D, config: &Config, options: &Options) -> bool {
    let mut report = Report::new(options.json);
    if options.cleanup_only {
        cleanup::leftovers(deployment, &mut report).await;
        return report.finish();
    }
    pin::check(config, &mut report).await;
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let probes = [Probe::new("a", &run), Probe::new("b", &run)];
    let interrupted = {
        let checks = checks::run(deployment, &config.aws, &probes, options, &mut report);
        tokio::select! {
            () = checks => false,
            _ = tokio::signal::ctrl_c() => true,
        }
    };
    if interrupted {
        report.fail_now("interrupted", "Ctrl-C: the checks stopped; removing what the run made");
    }
    cleanup::probes(deployment, &probes, &mut report).await;
    report.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_users_are_distinct_and_carry_the_probe_issuer_and_subject() {
        let (a, b) = (Probe::new("a", "r1"), Probe::new("b", "r1"));
        assert_ne!(a.user_id, b.user_id);
        assert!(a.subject.starts_with(PROBE_SUBJECT));
        assert_eq!(a.user_id, UserId::derive(PROBE_ISSUER, &a.subject));
        // Another run's probes are other users.
        assert_ne!(Probe::new("a", "r2").user_id, a.user_id);
    }
}
