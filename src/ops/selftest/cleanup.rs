//! Removing what a run made: each probe user with its storage (bucket, or prefix and its
//! objects) and row, at the end of every run; and, with `--cleanup`, every probe user an
//! interrupted run left in the database. The audit rows of the probes' vends stay, as every
//! deleted user's do (they carry the OAuth client `stsvend-selftest`).

use std::time::Instant;

use super::{Deployment, Probe, Report};

/// Removes the run's probes; one line for all of them.
pub async fn probes<D: Deployment>(deployment: &D, probes: &[Probe], report: &mut Report) {
    let started = Instant::now();
    let mut removed = Vec::new();
    let mut failed = Vec::new();
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
    finish(report, started, &removed, &failed);
}

/// Removes every probe user left in the database.
pub async fn leftovers<D: Deployment>(deployment: &D, report: &mut Report) {
    let started = Instant::now();
    let left = match deployment.probes_left().await {
        Ok(left) => left,
        Err(e) => {
            report.fail("cleanup", started, format!("listing the probe users: {e}"));
            return;
        }
    };
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for id in &left {
        match deployment.remove(id).await {
            Ok(Some(what)) => removed.push(format!("user {id}: {what}")),
            Ok(None) => {}
            Err(e) => failed.push(format!("user {id}: {e}")),
        }
    }
    finish(report, started, &removed, &failed);
}

fn finish(report: &mut Report, started: Instant, removed: &[String], failed: &[String]) {
    if failed.is_empty() {
        let detail = if removed.is_empty() {
            "no probe user to remove".to_owned()
        } else {
            format!("removed {}", removed.join("; "))
        };
        report.pass("cleanup", started, detail);
    } else {
        report.fail("cleanup", started, format!("could not remove {}", failed.join("; ")));
    }
}
