//! Figures the hostile-input, fault and load tests report. Each test appends one JSON line to
//! `$FIGURES_FILE`; scripts/test.sh adds them up into the suite's summary line.

use std::io::Write;

#[derive(Default, serde::Serialize)]
pub struct Figures {
    pub cases: u64,
    pub faults: u64,
    pub requests: u64,
    /// 5xx answers where none was acceptable.
    pub server_errors: u64,
    /// 503s the test demanded, during an outage it injected.
    pub expected_unavailable: u64,
    pub mappings_lost: u64,
    pub cross_user_attempts: u64,
    pub cross_user_allowed: u64,
    /// Changes made through one replica and awaited on another (tests/api/fleet.rs).
    pub coherence_trials: u64,
    /// The slowest of them to hold, in milliseconds.
    pub coherence_worst_ms: u64,
    /// Requests that failed when a replica was killed under load (its requests in flight).
    pub lost_to_kill: u64,
}

impl Figures {
    /// Appends these figures under `test`'s name (no-op when `FIGURES_FILE` is unset).
    pub fn record(&self, test: &str) {
        let Ok(path) = std::env::var("FIGURES_FILE") else {
            return;
        };
        let mut line = serde_json::to_value(self).unwrap();
        line["test"] = test.into();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
}
