//! `stsvend selftest`: proves on the configured deployment (its config, its AWS account, its
//! database) that one user's keys cannot reach another's storage and how long a revocation
//! takes there, the things an AWS emulator cannot prove. Two probe users go through the same
//! code a vend uses, with no identity provider; every check prints one line with its time, and
//! everything the run made is removed at the end, on failure and on Ctrl-C.
//!
//! Probe users are (issuer `stsvend-selftest`, subject `stsvend-selftest-probe-<run>-<a|b|c>`).
//! No real token can carry that issuer: `auth.issuer` must be an https URL (or http on
//! loopback in tests), and a token is accepted only from the configured issuer, so a probe's
//! user id (a hash of issuer and subject) is never a real user's. The stored row's issuer is
//! the probe flag: `--cleanup` finds the leftovers of an interrupted run by it.
//!
//! With `[orgs]` and team templates granted, two probe organisations follow (`orgs.rs`): org A
//! with probes a and b as members, org B with a third probe, c. A probe org's claim is
//! `stsvend-selftest-org-<run>-<A|B>` at the probe issuer: an org row is keyed by (issuer,
//! claim), so no real token reaches it whatever `orgs.id_pattern` allows (the claim, outside
//! the default pattern, is only what `--cleanup` searches for). Its storage is made by the
//! first team vend of a member, through the same code a real member's first team vend runs.
//!
//! This module decides what to check and how to report it; the vend-path operations
//! ([`Deployment`]) are handed in by the wiring place (`app::selftest`), since operator
//! commands sit beside the use cases, not above them (tests/layers.rs). The S3 requests made
//! with the probes' keys are `aws::probe`'s.

mod checks;
mod cleanup;
mod isolation;
mod org_revoke;
mod orgs;
mod pin;
mod report;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::aws::sts::Credentials;
use crate::config::Config;
use crate::identity::{BucketName, OrgId, UserId};

pub use report::Report;

/// The issuer of every probe user; never a real token's (see the module comment).
pub const PROBE_ISSUER: &str = "stsvend-selftest";
/// The start of every probe subject: `--cleanup` searches the users for it.
pub const PROBE_SUBJECT: &str = "stsvend-selftest-probe-";
/// The start of every probe organisation's claim: `--cleanup` searches the orgs for it.
pub const PROBE_ORG_CLAIM: &str = "stsvend-selftest-org-";

/// One of the run's probe users: a and b (both members of org A), and c (org B's).
#[derive(Debug, Clone)]
pub struct Probe {
    /// `a`, `b` or `c`, as the output names them.
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

/// One of the run's two probe organisations.
#[derive(Debug, Clone)]
pub struct ProbeOrg {
    /// `A` or `B`, as the output names them.
    pub name: &'static str,
    /// The org claim value its members' callers carry.
    pub claim: String,
}

impl ProbeOrg {
    fn new(name: &'static str, run: &str) -> Self {
        Self {
            name,
            claim: format!("{PROBE_ORG_CLAIM}{run}-{name}"),
        }
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
    /// A team template's: the organisation's storage the keys also reach.
    pub org: Option<OrgSide>,
}

/// The organisation's side of a team template's keys.
pub struct OrgSide {
    pub id: OrgId,
    pub storage: Storage,
    /// What the template grants on the org's storage, of [`Verb::ALL`] (a reading of the
    /// rendered policy: [`grants_on_storage`]).
    pub grants: BTreeSet<Verb>,
}

/// What the rendered policy `doc` grants on `storage`, of [`Verb::ALL`]: each verb's action on
/// an object under it, or for a listing on its bucket with its prefix.
pub fn grants_on_storage(doc: &serde_json::Value, storage: &Storage) -> BTreeSet<Verb> {
    let bucket = format!("arn:aws:s3:::{}", storage.bucket);
    let object = format!("{bucket}/{}", storage.key(SEED));
    let prefix = (!storage.prefix.is_empty()).then_some(storage.prefix.as_str());
    Verb::ALL
        .into_iter()
        .filter(|v| match v {
            Verb::List => crate::policy::grants_on(doc, v.action(), &bucket, prefix),
            Verb::Put | Verb::Get | Verb::Delete | Verb::Multipart => {
                crate::policy::grants_on(doc, v.action(), &object, None)
            }
        })
        .collect()
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
    /// The team templates' accesses to check, or why the org checks do not apply (`[orgs]`
    /// is not configured, or no team template is granted).
    fn team_accesses(&self) -> Result<Vec<String>, String>;
    /// Keys of the team template `access` for `probe` as a member of `org`: the org's first
    /// team vend makes its storage.
    async fn vend_team(&self, probe: &Probe, org: &ProbeOrg, access: &str) -> Result<Vended, String>;
    /// Revokes on the org's storage every member's sessions, or `member`'s, as `stsvend orgs
    /// revoke` and `revoke-member` do; says how it ended.
    async fn revoke_org(&self, org: &OrgId, member: Option<&Probe>) -> Result<String, String>;
    /// Deletes the org with everything in its storage, as `stsvend orgs delete --force` does,
    /// and its statements in a shared bucket's policy; `None` when there is no such org.
    async fn remove_org(&self, org: &OrgId) -> Result<Option<String>, String>;
    /// Every probe organisation in the database whose claim starts with `claim_start`, with
    /// its claim.
    async fn probe_orgs(&self, claim_start: &str) -> Result<Vec<(OrgId, String)>, String>;
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
    let third = Probe::new("c", &run);
    let orgs = [ProbeOrg::new("A", &run), ProbeOrg::new("B", &run)];
    let interrupted = {
        let checks = async {
            checks::run(deployment, &config.aws, &probes, options, &mut report).await;
            let members = [&probes[0], &probes[1], &third];
            orgs::run(deployment, &config.aws, members, &orgs, options, &mut report).await;
        };
        tokio::select! {
            () = checks => false,
            _ = tokio::signal::ctrl_c() => true,
        }
    };
    if interrupted {
        report.fail_now("interrupted", "Ctrl-C: the checks stopped; removing what the run made");
    }
    let everyone = [probes[0].clone(), probes[1].clone(), third];
    let claims = format!("{PROBE_ORG_CLAIM}{run}-");
    cleanup::probes(deployment, &everyone, (&claims, &orgs), &mut report).await;
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

    #[test]
    fn probe_org_claims_start_with_the_probe_claim_and_differ_per_run() {
        let (a, b) = (ProbeOrg::new("A", "r1"), ProbeOrg::new("B", "r1"));
        assert!(a.claim.starts_with(&format!("{PROBE_ORG_CLAIM}r1-")));
        assert_ne!(a.claim, b.claim);
        assert_ne!(ProbeOrg::new("A", "r2").claim, a.claim);
    }

    #[test]
    fn the_team_read_prefix_variant_reads_and_lists_the_org_prefix_and_writes_nothing_there() {
        let text = include_str!("../../../policies/prefix-team-read.json")
            .replace("{{bucket}}", "stsvend-shared")
            .replace("{{org_bucket}}", "stsvend-shared")
            .replace("{{prefix}}", "users/u/")
            .replace("{{org_prefix}}", "orgs/oa/")
            .replace("{{account_id}}", "123456789012");
        let doc = serde_json::from_str(&text).unwrap();
        let storage = |prefix: &str| Storage {
            bucket: BucketName::parse("stsvend-shared").unwrap(),
            prefix: prefix.to_owned(),
        };
        assert_eq!(
            grants_on_storage(&doc, &storage("orgs/oa/")),
            BTreeSet::from([Verb::Get, Verb::List])
        );
        assert_eq!(grants_on_storage(&doc, &storage("users/u/")), BTreeSet::from(Verb::ALL));
        assert!(grants_on_storage(&doc, &storage("orgs/ob/")).is_empty());
    }
}
