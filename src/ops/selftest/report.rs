//! selftest's output: a line per check as it finishes (`ok    1.2s  isolation: ...`), or with
//! `--json` one document at the end for a CI pipeline; either way, whether any check failed.
//! Checks that do not apply to the deployment (the org checks without `[orgs]`) are one
//! `skip` line saying why, counted neither as passed nor as failed.

use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Serialize)]
struct Check {
    #[serde(rename = "check")]
    name: &'static str,
    ok: bool,
    seconds: f64,
    detail: String,
    /// Not run: the deployment has nothing for it to check (`detail` says why).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skipped: bool,
}

#[derive(Serialize)]
struct Document<'a> {
    ok: bool,
    seconds: f64,
    checks: &'a [Check],
}

pub struct Report {
    json: bool,
    started: Instant,
    checks: Vec<Check>,
}

impl Report {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            started: Instant::now(),
            checks: Vec::new(),
        }
    }

    /// Records the check `name` begun at `since`: passed with `Ok(detail)`, failed with `Err`.
    pub fn record(&mut self, name: &'static str, since: Instant, outcome: Result<String, String>) -> bool {
        self.record_took(name, since.elapsed(), outcome)
    }

    /// Records the check `name` that took `took`.
    pub fn record_took(&mut self, name: &'static str, took: Duration, outcome: Result<String, String>) -> bool {
        let ok = outcome.is_ok();
        let detail = outcome.unwrap_or_else(|e| e);
        let check = Check {
            name,
            ok,
            seconds: (took.as_secs_f64() * 10.0).round() / 10.0,
            detail: detail.replace('\n', "; "),
            skipped: false,
        };
        if !self.json {
            println!("{}", line(&check));
        }
        self.checks.push(check);
        ok
    }

    pub fn pass(&mut self, name: &'static str, since: Instant, detail: String) -> bool {
        self.record(name, since, Ok(detail))
    }

    pub fn fail(&mut self, name: &'static str, since: Instant, detail: String) -> bool {
        self.record(name, since, Err(detail))
    }

    /// Checks not run, and why.
    pub fn skip(&mut self, name: &'static str, why: String) {
        let check = Check {
            name,
            ok: true,
            seconds: 0.0,
            detail: why,
            skipped: true,
        };
        if !self.json {
            println!("{}", line(&check));
        }
        self.checks.push(check);
    }

    /// A failure that took no time of its own (an interruption).
    pub fn fail_now(&mut self, name: &'static str, detail: &str) {
        self.record(name, Instant::now(), Err(detail.to_owned()));
    }

    /// Prints the JSON document when asked for; true when no check failed.
    pub fn finish(&self) -> bool {
        let ok = self.checks.iter().all(|c| c.ok);
        if self.json {
            let doc = Document {
                ok,
                seconds: (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                checks: &self.checks,
            };
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else {
            let failed = self.checks.iter().filter(|c| !c.ok).count();
            println!(
                "{} checks, {failed} failed, in {:.1}s",
                self.checks.iter().filter(|c| !c.skipped).count(),
                self.started.elapsed().as_secs_f64()
            );
        }
        ok
    }
}

fn line(c: &Check) -> String {
    let status = match (c.ok, c.skipped) {
        (_, true) => "skip",
        (true, false) => "ok",
        (false, false) => "FAIL",
    };
    format!(
        "{status:<4}{:>6}  {}: {}",
        format!("{:.1}s", c.seconds),
        c.name,
        c.detail
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_status_time_check_and_detail() {
        let check = |ok, seconds| Check {
            name: "isolation",
            ok,
            seconds,
            detail: "get on the other probe's storage denied".to_owned(),
            skipped: false,
        };
        assert_eq!(
            line(&check(true, 1.2)),
            "ok    1.2s  isolation: get on the other probe's storage denied"
        );
        assert_eq!(
            line(&check(false, 12.0)),
            "FAIL 12.0s  isolation: get on the other probe's storage denied"
        );
        let skipped = Check {
            name: "orgs",
            ok: true,
            seconds: 0.0,
            detail: "not run: [orgs] is not configured".to_owned(),
            skipped: true,
        };
        assert_eq!(line(&skipped), "skip  0.0s  orgs: not run: [orgs] is not configured");
    }
}
