//! CORS on the API: browser apps on the configured origins may call it; no other origin gets
//! a CORS header, so browsers keep responses from other sites' pages.

use crate::support::*;

const APP_ORIGIN: &str = "http://127.0.0.1:5173";

async fn app() -> TestApp {
    TestApp::spawn_with(Options::default().set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &format!(r#"["{APP_ORIGIN}"]"#)))
        .await
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, format!("{}/v1/credentials", app.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn preflight_from_the_app_origin_is_answered() {
    let app = app().await;
    let resp = preflight(&app, APP_ORIGIN).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "no cookies are involved"
    );

    // The actual request from that origin carries the allow header, and the vend works.
    let sub = unique_sub("cors");
    let resp = app
        .http
        .post(format!("{}/v1/credentials", app.base))
        .header("Origin", APP_ORIGIN)
        .bearer_auth(app.issuer.token(&sub))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], APP_ORIGIN);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let app = app().await;
    for origin in ["http://evil.example", "http://127.0.0.1:5174", "null"] {
        let resp = preflight(&app, origin).await;
        // The preflight is refused, so a browser never sends the credentialed request itself.
        assert_eq!(resp.status(), 400, "{origin}");
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{origin} was allowed: {:?}",
            resp.headers()
        );
        let sub = unique_sub("cors-evil");
        let resp = app
            .http
            .post(format!("{}/v1/credentials", app.base))
            .header("Origin", origin)
            .bearer_auth(app.issuer.token(&sub))
            .send()
            .await
            .unwrap();
        // A non-browser client can send any Origin: the token decides, and the answer still
        // carries no CORS header a browser would honour.
        assert_eq!(resp.status(), 200, "{origin}");
        assert!(resp.headers().get("access-control-allow-origin").is_none(), "{origin}");
    }
}

#[tokio::test]
async fn without_configured_origins_nothing_is_allowed_and_sdks_are_unaffected() {
    let app = TestApp::spawn_with(Options::default().set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", "[]")).await;
    let resp = preflight(&app, APP_ORIGIN).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // A client that sends no Origin (CLI, SDK) is served as before.
    app.vend(&unique_sub("cors-none"), None).await;
}

#[test]
fn a_wildcard_origin_is_refused_at_start_up() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
    let env = [(
        "STSVEND_SERVER__CORS_ALLOWED_ORIGINS".to_owned(),
        r#"["*", "http://a/b"]"#.to_owned(),
    )];
    let err = stsvend::config::Config::from_sources("t", &text, &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`*` is refused"), "{err}");
    assert!(err.contains("`http://a/b` is not an origin"), "{err}");
}
