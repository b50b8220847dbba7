//! The checks, in order: each probe's first login (`provision`), keys of every access for both
//! (`vend`), an object in each probe's storage (`seed`), what each access's keys may do on
//! their own storage (`access`), that they reach nothing of the other probe's (`isolation`)
//! and pre-signed URLs (`presign`) (both in `isolation.rs`), and how long a revocation takes
//! to deny old keys (`revoke`). The org checks follow (`orgs.rs`), with `verbs_on` and
//! `until_denied` from here.
//! A check that cannot run for want of an earlier one's result is not run; the earlier one
//! has failed already.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::isolation::{isolation, presign};
use super::{BODY, Deployment, Keyed, Options, Probe, Report, SEED, SEED_BODY, Storage, Vended, Verb};
use crate::aws::probe::{Outcome, ProbeS3};
use crate::config::AwsConfig;

/// How often old keys are tried while a revocation propagates.
const REVOKE_POLL: Duration = Duration::from_millis(250);

pub async fn run<D: Deployment>(d: &D, aws: &AwsConfig, probes: &[Probe; 2], options: &Options, report: &mut Report) {
    let [a, b] = probes;
    let accesses = d.accesses();
    let Some(default) = accesses.first() else {
        report.fail_now("vend", "the deployment offers no access");
        return;
    };
    // The first login of each: the storage is made and the default access's keys come back.
    let mut first = Vec::new();
    for probe in [a, b] {
        let started = Instant::now();
        match d.vend(probe, default).await {
            Ok(v) => {
                report.pass(
                    "provision",
                    started,
                    format!("probe {} (user {}) got {}", probe.name, probe.user_id, v.storage),
                );
                first.push(v);
            }
            Err(e) => {
                report.fail("provision", started, format!("probe {}'s first login: {e}", probe.name));
                return;
            }
        }
    }
    let mut keyed = Vec::new();
    for access in &accesses {
        let started = Instant::now();
        let (va, vb) = match (d.vend(a, access).await, d.vend(b, access).await) {
            (Ok(va), Ok(vb)) => (va, vb),
            (Err(e), _) | (_, Err(e)) => {
                report.fail("vend", started, format!("`{access}` keys: {e}"));
                continue;
            }
        };
        if va.storage != first[0].storage || vb.storage != first[1].storage {
            report.fail(
                "vend",
                started,
                format!("`{access}` keys came with other storage than the first login's"),
            );
            continue;
        }
        let grants: Vec<&str> = va.grants.iter().map(|v| v.name()).collect();
        report.pass(
            "vend",
            started,
            format!(
                "`{access}` keys for both probes (template {}; grants {})",
                va.template,
                if grants.is_empty() {
                    "nothing checked here".to_owned()
                } else {
                    grants.join(", ")
                }
            ),
        );
        keyed.push(Keyed {
            access: access.clone(),
            a: va,
            b: vb,
        });
    }
    if !seed(aws, &keyed, report).await {
        return;
    }
    for k in &keyed {
        own_storage(aws, &k.access, &k.a, report).await;
    }
    for k in &keyed {
        isolation(aws, &k.access, &k.a, &k.b, report).await;
    }
    if let Some(k) = keyed.first() {
        presign(d, aws, a, k, report).await;
    }
    revoke(d, aws, a, default, &first[0], options.revoke_timeout, report).await;
}

/// Writes [`SEED`] into both probes' storage with the first access that may write.
async fn seed(aws: &AwsConfig, keyed: &[Keyed], report: &mut Report) -> bool {
    let started = Instant::now();
    let Some(writer) = keyed.iter().find(|k| k.a.grants.contains(&Verb::Put)) else {
        report.fail(
            "seed",
            started,
            "no access grants s3:PutObject: the checks need an object in each probe's storage".to_owned(),
        );
        return false;
    };
    for v in [&writer.a, &writer.b] {
        let outcome = ProbeS3::new(aws, &v.keys)
            .put(&v.storage.bucket, &v.storage.key(SEED), SEED_BODY)
            .await;
        if outcome != Outcome::Allowed {
            report.fail(
                "seed",
                started,
                format!(
                    "writing {SEED} into {} with `{}` keys: {outcome:?}",
                    v.storage, writer.access
                ),
            );
            return false;
        }
    }
    report.pass(
        "seed",
        started,
        format!("{SEED} written into each probe's storage with `{}` keys", writer.access),
    )
}

/// Each verb on the probe's own storage: allowed exactly when the template grants it.
async fn own_storage(aws: &AwsConfig, access: &str, v: &Vended, report: &mut Report) {
    let s3 = ProbeS3::new(aws, &v.keys);
    verbs_on("access", &s3, access, &v.storage, &v.grants, None, report).await;
}

/// Each verb on `storage` with the keys of `s3`: allowed exactly when `grants` holds it. The
/// storage is the keys' own, or (`org` names it) their organisation's.
pub(super) async fn verbs_on(
    check: &'static str,
    s3: &ProbeS3,
    access: &str,
    storage: &Storage,
    grants: &BTreeSet<Verb>,
    org: Option<&str>,
    report: &mut Report,
) {
    let bucket = &storage.bucket;
    let key = storage.key(&format!("selftest-{access}.txt"));
    let (place, there) = match org {
        None => ("own storage".to_owned(), ""),
        Some(name) => (format!("{name}'s storage"), " there"),
    };
    for verb in Verb::ALL {
        let started = Instant::now();
        let outcome = match verb {
            Verb::Put => s3.put(bucket, &key, BODY).await,
            Verb::Get => s3.get(bucket, &storage.key(SEED), SEED_BODY).await,
            Verb::List => s3.list(bucket, &storage.prefix).await,
            // What the put above wrote (when it could): S3 answers a permitted delete of a
            // missing key too.
            Verb::Delete => s3.delete(bucket, &key).await,
            Verb::Multipart => {
                s3.multipart(bucket, &storage.key(&format!("selftest-{access}.bin")), BODY)
                    .await
            }
        };
        let (what, action) = (verb.name(), verb.action());
        let granted = grants.contains(&verb);
        let result = match (granted, outcome) {
            (true, Outcome::Allowed) => Ok(format!("`{access}`: {what} on {place} allowed")),
            (false, Outcome::Denied(code)) => Ok(format!(
                "`{access}`: {what} on {place} denied ({code}), as the template grants no {action}{there}"
            )),
            (true, Outcome::Denied(code)) => Err(format!(
                "`{access}`: {what} on {place} denied ({code}), though the template grants {action}{there}"
            )),
            (false, Outcome::Allowed) => Err(format!(
                "`{access}`: {what} on {place} allowed, though the template grants no {action}{there}"
            )),
            (_, Outcome::Failed(e)) => Err(format!("`{access}`: {what} on {place} failed: {e}")),
        };
        report.record(check, started, result);
    }
}

/// Revokes probe a: keys vended before are tried until they are denied (bounded by
/// `--revoke-timeout`), then keys vended after must work.
async fn revoke<D: Deployment>(
    d: &D,
    aws: &AwsConfig,
    a: &Probe,
    default: &str,
    old: &Vended,
    timeout: Duration,
    report: &mut Report,
) {
    let started = Instant::now();
    let how = match d.revoke(a).await {
        Ok(how) => how,
        Err(e) => {
            report.fail("revoke", started, format!("revoking probe a: {e}"));
            return;
        }
    };
    let s3 = ProbeS3::new(aws, &old.keys);
    match until_denied(&s3, &old.storage, started, timeout).await {
        Ok(code) => report.pass(
            "revoke",
            started,
            format!(
                "keys vended before the revocation denied ({code}) {:.1} s after it began (the service answered {how})",
                started.elapsed().as_secs_f64()
            ),
        ),
        Err(outcome) => report.fail(
            "revoke",
            started,
            format!(
                "keys vended before the revocation still not denied after {} s (--revoke-timeout; the service answered {how}; last: {outcome:?})",
                timeout.as_secs()
            ),
        ),
    };
    let started = Instant::now();
    let result = match d.vend(a, default).await {
        Err(e) => Err(format!("vending after the revocation: {e}")),
        Ok(new) => match ProbeS3::new(aws, &new.keys)
            .list(&new.storage.bucket, &new.storage.prefix)
            .await
        {
            Outcome::Allowed => Ok("keys vended after the revocation work".to_owned()),
            other => Err(format!(
                "keys vended after the revocation: list of own storage {other:?}"
            )),
        },
    };
    report.record("revoke", started, result);
}

/// Lists `storage` with the keys of `s3` until S3 denies it (its code), or `timeout` after
/// `started` (the last answer).
pub(super) async fn until_denied(
    s3: &ProbeS3,
    storage: &Storage,
    started: Instant,
    timeout: Duration,
) -> Result<String, Outcome> {
    loop {
        match s3.list(&storage.bucket, &storage.prefix).await {
            Outcome::Denied(code) => return Ok(code),
            outcome if started.elapsed() >= timeout => return Err(outcome),
            _ => tokio::time::sleep(REVOKE_POLL).await,
        }
    }
}
