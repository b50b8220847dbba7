//! Browser tests: Debian's Chromium driven by the scripts in `web/e2e/` (playwright-core),
//! against the built web app that `web/serve.mjs` serves on `WEB_E2E_PORT`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use super::admin::ADMIN_PERMISSION;
use super::auth0::auth0_issuer;
use super::wait::{READY_WITHIN, answers_200};
use super::{Options, TestApp};

pub const WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
pub const OUT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/web-e2e");
/// One browser scenario: 10-15 s alone, more while the rest of the suite runs.
const E2E_TIMEOUT: Duration = Duration::from_mins(5);

/// Held by each browser test: they all serve the app on `WEB_E2E_PORT`, the one origin the
/// issuer lets the web client return to.
pub static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `node web/serve.mjs` serving the built app and a /config.json pointing at `api`.
pub async fn serve_web(port: &str, api: &str) -> Child {
    let dist = Path::new(WEB_DIR).join("dist/index.html");
    assert!(
        dist.is_file(),
        "{} is missing: run the suite through scripts/test.sh, which builds web/ with npm",
        dist.display()
    );
    std::fs::create_dir_all(OUT_DIR).unwrap();
    let log = std::fs::File::create(Path::new(OUT_DIR).join("serve.log")).unwrap();
    let child = Command::new("node")
        .arg("serve.mjs")
        .current_dir(WEB_DIR)
        .env("STSVEND_WEB_PORT", port)
        .env("STSVEND_WEB_API", api)
        .env("STSVEND_WEB_ISSUER", auth0_issuer())
        .env("STSVEND_WEB_EXIT_WITH_PARENT", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("node runs web/serve.mjs");
    let url = format!("http://127.0.0.1:{port}/config.json");
    assert!(
        answers_200(&url, READY_WITHIN).await,
        "web/serve.mjs did not answer on {url}; see {OUT_DIR}/serve.log"
    );
    child
}

/// Runs `node web/e2e/<script>` against the app on `port`, writing its screenshots to
/// `out_dir`, with `env`; its `E2E_RESULT` line, or a failed test.
pub async fn scenario(script: &str, port: &str, out_dir: &Path, env: &[(&str, &str)]) -> Value {
    std::fs::create_dir_all(out_dir).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(format!("e2e/{script}"))
        .current_dir(WEB_DIR)
        .env("WEB_URL", format!("http://127.0.0.1:{port}"))
        .env("E2E_OUT", out_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(E2E_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {E2E_TIMEOUT:?}"))
        .expect("node runs the scenario");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout.lines().find_map(|l| l.strip_prefix("E2E_RESULT "));
    serde_json::from_str(line.unwrap_or_else(|| panic!("no E2E_RESULT line:\n{stdout}\n{stderr}"))).unwrap()
}

/// An stsvend for the browser: the stand-in's tokens, the admin API on, the app's origin in
/// both CORS lists.
pub async fn app_for_browser(port: &str) -> TestApp {
    let origins = format!(r#"["http://127.0.0.1:{port}"]"#);
    TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &origins)
            .set("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", &origins),
    )
    .await
}
