//! `org-revoke`: org A revoked (as `stsvend orgs revoke` does): the seconds until probe a's
//! keys vended before are denied on the org's storage (polled, bounded by `--revoke-timeout`)
//! while they still reach its own storage, and keys vended after work there; then probe b's
//! org access revoked alone (`stsvend orgs revoke-member`): b's keys are denied on the org's
//! storage and still reach b's own, a's keep working there, and b's next keys work.

use std::time::{Duration, Instant};

use super::checks::until_denied;
use super::orgs::{TeamKeyed, vend_one};
use super::{Deployment, Probe, ProbeOrg, Report, Storage};
use crate::aws::probe::{Outcome, ProbeS3};
use crate::aws::sts::Credentials;
use crate::config::AwsConfig;
use crate::identity::OrgId;

/// What the checks need of one another.
struct Ctx<'a> {
    aws: &'a AwsConfig,
    org: &'a OrgId,
    /// Org A's storage.
    storage: &'a Storage,
    timeout: Duration,
}

pub async fn run<D: Deployment>(
    dep: &D,
    aws: &AwsConfig,
    keyed: &[TeamKeyed],
    [a, b]: [&Probe; 2],
    org_a: &ProbeOrg,
    timeout: Duration,
    report: &mut Report,
) {
    let started = Instant::now();
    // Listing is what is polled: on the org's storage and on the member's own.
    let Some(team) = keyed
        .iter()
        .find(|t| t.a.org.grants.contains(&super::Verb::List) && t.a.own.grants.contains(&super::Verb::List))
    else {
        report.fail(
            "org-revoke",
            started,
            "no team access grants s3:ListBucket on the org's storage and on the member's own: the revocation is observed by listing".to_owned(),
        );
        return;
    };
    let cx = Ctx {
        aws,
        org: &team.a.org.id,
        storage: &team.a.org.storage,
        timeout,
    };
    let how = match dep.revoke_org(cx.org, None).await {
        Ok(how) => how,
        Err(err) => {
            report.fail("org-revoke", started, format!("revoking org A: {err}"));
            return;
        }
    };
    denied(
        &cx,
        &team.a.own.keys,
        started,
        &how,
        "org A revoked: probe a's keys vended before",
        report,
    )
    .await;
    works(
        &cx,
        &team.a.own.keys,
        &team.a.own.storage,
        "probe a's keys vended before org A's revocation still work on its own storage",
        report,
    )
    .await;
    let started = Instant::now();
    let fresh = async {
        Ok::<_, String>((
            vend_one(dep, a, org_a, &team.access).await?,
            vend_one(dep, b, org_a, &team.access).await?,
        ))
    };
    let (new_a, new_b) = match fresh.await {
        Ok(vended) => vended,
        Err(err) => {
            report.fail(
                "org-revoke",
                started,
                format!("vending after org A's revocation: {err}"),
            );
            return;
        }
    };
    let both = [
        list(&cx, &new_a.own.keys, cx.storage).await,
        list(&cx, &new_b.own.keys, cx.storage).await,
    ];
    let result = match both {
        [Outcome::Allowed, Outcome::Allowed] => {
            Ok("keys vended after org A's revocation work on org A's storage (probes a and b)".to_owned())
        }
        [of_a, of_b] => Err(format!(
            "keys vended after org A\'s revocation on org A\'s storage: probe a\'s {of_a:?}, probe b\'s {of_b:?}"
        )),
    };
    if !report.record("org-revoke", started, result) {
        return;
    }

    let started = Instant::now();
    let how = match dep.revoke_org(cx.org, Some(b)).await {
        Ok(how) => how,
        Err(err) => {
            report.fail("org-revoke", started, format!("revoking probe b's org access: {err}"));
            return;
        }
    };
    denied(
        &cx,
        &new_b.own.keys,
        started,
        &how,
        "probe b's org access revoked: its keys vended before",
        report,
    )
    .await;
    works(
        &cx,
        &new_b.own.keys,
        &new_b.own.storage,
        "probe b's keys vended before its org access was revoked still work on its own storage",
        report,
    )
    .await;
    works(
        &cx,
        &new_a.own.keys,
        cx.storage,
        "probe a's keys still work on org A's storage after probe b's org access was revoked",
        report,
    )
    .await;
    let started = Instant::now();
    let result = match vend_one(dep, b, org_a, &team.access).await {
        Err(err) => Err(format!("vending to probe b after its org access was revoked: {err}")),
        Ok(newer) => match list(&cx, &newer.own.keys, cx.storage).await {
            Outcome::Allowed => {
                Ok("keys vended to probe b after its org access was revoked work on org A's storage".to_owned())
            }
            other => Err(format!(
                "keys vended to probe b after its org access was revoked: list of org A's storage {other:?}"
            )),
        },
    };
    report.record("org-revoke", started, result);
}

/// Polls `keys` on org A's storage until denied (`whose` names them), bounded by the timeout.
async fn denied(cx: &Ctx<'_>, keys: &Credentials, started: Instant, how: &str, whose: &str, report: &mut Report) {
    let s3 = ProbeS3::new(cx.aws, keys);
    match until_denied(&s3, cx.storage, started, cx.timeout).await {
        Ok(code) => report.pass(
            "org-revoke",
            started,
            format!(
                "{whose} denied on org A's storage ({code}) {:.1} s after it began (the service answered {how})",
                started.elapsed().as_secs_f64()
            ),
        ),
        Err(last) => report.fail(
            "org-revoke",
            started,
            format!(
                "{whose} still not denied on org A's storage after {} s (--revoke-timeout; the service answered {how}; last: {last:?})",
                cx.timeout.as_secs()
            ),
        ),
    };
}

/// A listing of `storage` with `keys` must be allowed (`what` says whose and where).
async fn works(cx: &Ctx<'_>, keys: &Credentials, storage: &Storage, what: &str, report: &mut Report) {
    let started = Instant::now();
    let result = match list(cx, keys, storage).await {
        Outcome::Allowed => Ok(what.to_owned()),
        other => Err(format!("expected: {what}; the listing answered {other:?}")),
    };
    report.record("org-revoke", started, result);
}

async fn list(cx: &Ctx<'_>, keys: &Credentials, storage: &Storage) -> Outcome {
    ProbeS3::new(cx.aws, keys).list(&storage.bucket, &storage.prefix).await
}
