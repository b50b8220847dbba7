//! The real `stsvend` binary as a child process: for logs, crashes (SIGKILL) and memory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wait::{READY_WITHIN, answers_200, within};

pub const BIN: &str = env!("CARGO_BIN_EXE_stsvend");
pub const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
pub const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

/// The shipped config.toml, as a newcomer gets it.
pub fn shipped_config() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap()
}

/// Runs `stsvend serve` on `config_text` (policies from `policies_dir`) and returns its exit
/// status and stderr; start-up must fail, so the process ends by itself.
pub fn serve_expecting_failure(config_text: &str, policies_dir: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config_text).unwrap();
    // Only the given overrides: the suite's own STSVEND_* environment must not mask the file.
    let out = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--config", path.to_str().unwrap()])
        .env("STSVEND_POLICIES__DIR", policies_dir)
        .env("STSVEND_DATABASE__PATH", dir.path().join("s.db"))
        .env("STSVEND_SERVER__BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub struct ServiceProcess {
    child: Child,
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts `stsvend serve` with the shipped config, the suite's environment and `env` on
    /// top, and waits until it is ready.
    pub async fn start(env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--config", CONFIG])
            .env("STSVEND_POLICIES__DIR", POLICIES)
            .env("STSVEND_SERVER__BIND", "127.0.0.1:0")
            .env("STSVEND_SERVER__METRICS_BIND", "127.0.0.1:0")
            // Test issuers serve plain http on loopback.
            .env("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "true")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let listening = within(READY_WITHIN, async || {
            lines
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains("stsvend listening"))
                .find_map(|l| match serde_json::from_str::<serde_json::Value>(l) {
                    Ok(json) => json["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
                    Err(_) => l.split("port=").nth(1)?.split_whitespace().next()?.parse::<u16>().ok(),
                })
        })
        .await;
        let Some(port) = listening else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stsvend did not start:\n{}", lines.lock().unwrap().join("\n"));
        };
        let me = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
        };
        let ready = format!("{}/readyz", me.base);
        assert!(
            answers_200(&ready, READY_WITHIN).await,
            "stsvend did not become ready:\n{}",
            me.logs()
        );
        me
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit code once the process has ended by itself, or None after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn logs(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Resident memory, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
