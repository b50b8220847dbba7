//! The web app's usage bar (`web/src/usage.ts`) in Chromium: no bar while quotas are off
//! (`/v1/me` has no `usage`); with `usage` in `/v1/me` (added in the browser: the figures come
//! from the `limits` part), used against each limit, amber from 90%, "over quota" at a limit.

use crate::support::auth0::auth0_issuer;
use crate::support::browser::{BROWSER, OUT_DIR, scenario, serve_web};
use crate::support::*;

#[tokio::test]
async fn the_web_app_shows_no_usage_bar_without_quotas_and_warns_then_says_over_quota() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let origins = format!(r#"["http://127.0.0.1:{port}"]"#);
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
            .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &origins)
            .set("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", &origins),
    )
    .await;
    let _web = serve_web(&port, &app.base).await;
    let out = std::path::Path::new(OUT_DIR).join("usage-bar");
    let result = scenario("usage.mjs", &port, &out, &[("E2E_SUB", &unique_sub("web-usage"))]).await;

    assert_eq!(result["off"]["hidden"], true, "{result}");
    let state = |name: &str| &result["states"][name];
    assert_eq!(state("under")["hidden"], false, "{result}");
    assert_eq!(state("under")["level"], "ok");
    assert_eq!(state("under")["text"], "Using 1.0 KiB of 10.0 KiB, 2 object(s)");
    assert_eq!(state("under")["fill"], "10%");
    assert_eq!(state("warning")["level"], "warning");
    assert_eq!(
        state("warning")["text"],
        "Using 9.0 KiB of 10.0 KiB, 2 of 100 object(s): nearly full."
    );
    assert_eq!(state("over")["level"], "over");
    assert_eq!(
        state("over")["text"],
        "Using 100 B, 10 of 10 object(s): over quota. Delete files to upload again."
    );
    assert_eq!(state("over")["fill"], "100%");
}
