//! A real load balancer in front of real `stsvend` processes: Debian's `HAProxy`, round robin,
//! health-checked on `/readyz`, as `scripts/fleet.sh` runs it (installed by
//! scripts/install-deps.sh; a test fails when it is missing).

use std::fmt::Write;
use std::process::{Child, Command, Stdio};

use super::wait::{READY_WITHIN, answers_200};

pub struct Balancer {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Balancer {
    /// `HAProxy` on a free loopback port in front of `backends` (base URLs).
    pub async fn start(backends: &[&str]) -> Self {
        let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("haproxy is not installed: scripts/install-deps.sh installs it (Debian's haproxy)");
        let port = free_port();
        let mut servers = String::new();
        for (i, b) in backends.iter().enumerate() {
            let addr = b.trim_start_matches("http://");
            writeln!(servers, "    server replica{i} {addr} check inter 200ms fall 2 rise 1").unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n    maxconn 8192\n\
                 defaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n    option forwardfor\n\
                 # A connection refused by a replica that just died is sent to another, and a\n\
                 # request it dropped unanswered is tried again there (a vend can be repeated).\n\
                 retries 3\n    option redispatch 1\n    retry-on conn-failure empty-response\n\
                 frontend api\n    bind 127.0.0.1:{port}\n    default_backend stsvend\n\
                 backend stsvend\n    balance roundrobin\n    option httpchk GET /readyz\n    http-check expect status 200\n\
                 {servers}"
            ),
        )
        .unwrap();
        let child = Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let me = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let ready = format!("{}/readyz", me.base);
        assert!(
            answers_200(&ready, READY_WITHIN).await,
            "haproxy did not come up on {}",
            me.base
        );
        me
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
