//! Removing what a run made: each probe organisation with its storage (bucket, or prefix and
//! its objects and its statements in the shared bucket's policy) and row, then each probe user
//! likewise, at the end of every run; and, with `--cleanup`, every probe organisation and user
//! an interrupted run left in the database. The audit rows of the probes' vends stay, as every
//! deleted user's do (they carry the OAuth client `stsvend-selftest`).

use std::time::Instant;

use super::{Deployment, PROBE_ORG_CLAIM, Probe, ProbeOrg, Report};

/// Removes the run's probe orgs (those whose claim starts with `orgs.0`, named as in `orgs.1`)
/// and probe users; one line for all of them.
pub async fn probes<D: Deployment>(deployment: &D, probes: &[Probe], orgs: (&str, &[ProbeOrg]), report: &mut Report) {
    let started = Instant::now();
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    let (claim_start, named) = orgs;
    match deployment.probe_orgs(claim_start).await {
        Ok(found) => {
            for (id, claim) in found {
                let name = named
                    .iter()
                    .find(|o| o.claim == claim)
                    .map_or_else(|| id.to_string(), |o| o.name.to_owned());
                match deployment.remove_org(&id).await {
                    Ok(Some(what)) => removed.push(format!("org {name}: {what}")),
                    Ok(None) => {}
                    Err(e) => failed.push(format!("org {name} ({id}): {e}; run `stsvend selftest --cleanup`")),
                }
            }
        }
        Err(e) => failed.push(format!(
            "the probe organisations: {e}; run `stsvend selftest --cleanup`"
        )),
    }
    for probe in probes {
        match deployment.remove(&probe.user_id).await {
            Ok(Some(what)) => removed.push(format!("probe {}: {what}", probe.name)),
            Ok(None) => {}
            Err(e) => failed.push(format!(
                "probe {} (user {}): {e}; run `stsvend selftest --cleanup`",
                probe.name, probe.user_id
            )),
        }
    }
    finish(deployment, report, started, &removed, &failed);
}

/// Removes every probe organisation and probe user left in the database.
pub async fn leftovers<D: Deployment>(deployment: &D, report: &mut Report) {
    let started = Instant::now();
    let orgs = match deployment.probe_orgs(PROBE_ORG_CLAIM).await {
        Ok(orgs) => orgs,
        Err(e) => {
            report.fail("cleanup", started, format!("listing the probe organisations: {e}"));
            return;
        }
    };
    let left = match deployment.probes_left().await {
        Ok(left) => left,
        Err(e) => {
            report.fail("cleanup", started, format!("listing the probe users: {e}"));
            return;
        }
    };
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for (id, _) in &orgs {
        match deployment.remove_org(id).await {
            Ok(Some(what)) => removed.push(format!("org {id}: {what}")),
            Ok(None) => {}
            Err(e) => failed.push(format!("org {id}: {e}")),
        }
    }
    for id in &left {
        match deployment.remove(id).await {
            Ok(Some(what)) => removed.push(format!("user {id}: {what}")),
            Ok(None) => {}
            Err(e) => failed.push(format!("user {id}: {e}")),
        }
    }
    finish(deployment, report, started, &removed, &failed);
}

fn finish<D: Deployment>(deployment: &D, report: &mut Report, started: Instant, removed: &[String], failed: &[String]) {
    if failed.is_empty() {
        let detail = if !removed.is_empty() {
            format!("removed {}", removed.join("; "))
        } else if deployment.team_accesses().is_ok() {
            "no probe user or organisation to remove".to_owned()
        } else {
            "no probe user to remove".to_owned()
        };
        report.pass("cleanup", started, detail);
    } else {
        report.fail("cleanup", started, format!("could not remove {}", failed.join("; ")));
    }
}
