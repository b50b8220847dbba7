//! The container-credentials route, its TLS listener, and boto3 refreshing through it.

use std::time::Duration;

use serde_json::Value;
use stsvend::http::ContainerCredentials;

use crate::support::*;

async fn get_container(app: &TestApp, authorization: Option<&str>, query: &str) -> reqwest::Response {
    let mut req = app.http.get(format!("{}/v1/credentials/container{query}", app.base));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn container_route_answers_in_the_sdk_format_and_the_keys_work() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("container");
    // The SDKs send the token file's content verbatim as the Authorization header.
    let resp = get_container(&app, Some(&format!("Bearer {}", app.issuer.token(&sub))), "").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    let mut fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["AccessKeyId", "Expiration", "SecretAccessKey", "Token"]);
    let creds: ContainerCredentials = serde_json::from_value(body).unwrap();
    assert!(creds.expiration.ends_with('Z'), "{}", creds.expiration);

    // The same user's vend names the bucket; the container keys reach it.
    let vended = app.vend(&sub, None).await;
    assert_eq!(
        vended.access_key_id, creds.access_key_id,
        "one cached session serves both formats"
    );
    let s3 = user_s3(&Vended {
        access_key_id: creds.access_key_id.clone(),
        secret_access_key: creds.secret_access_key.clone(),
        session_token: creds.token.clone(),
        ..vended
    });
    let bucket = app.vend(&sub, None).await.bucket;
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("c.txt")
        .body(b"c".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&put), "ok");
}

#[tokio::test]
async fn container_route_refuses_what_the_vend_route_refuses() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("container-bad");
    let token = app.issuer.token(&sub);
    let cases = [
        (None, "", 401, "missing_token"),
        (Some(token.clone()), "", 401, "invalid_token"),
        (Some(format!("Bearer {token}")), "?access=admin", 400, "unknown_access"),
        (Some(format!("Bearer {token}")), "?bogus=1", 400, "invalid_query"),
    ];
    for (auth, query, status, code) in cases {
        let resp = get_container(&app, auth.as_deref(), query).await;
        assert_eq!(resp.status(), status, "{auth:?} {query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let read_only = get_container(&app, Some(&format!("Bearer {token}")), "?access=read-only").await;
    assert_eq!(read_only.status(), 200);
    assert_eq!(app.users_in_db().await, 1, "only the good request provisioned");
}

#[tokio::test]
async fn the_api_is_also_served_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_SERVER__TLS__BIND", "127.0.0.1:0")
            .set("STSVEND_SERVER__TLS__CERT_PATH", &cert_path.display().to_string())
            .set("STSVEND_SERVER__TLS__KEY_PATH", &key_path.display().to_string()),
    )
    .await;
    let port = app.tls_port.expect("TLS listener configured");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let sub = unique_sub("tls");
    let resp = client
        .get(format!("https://localhost:{port}/v1/credentials/container"))
        .header("Authorization", format!("Bearer {}", app.issuer.token(&sub)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<ContainerCredentials>().await.unwrap().access_key_id.len() >= 16);

    // A client offering HTTP/2 is answered in HTTP/1.1: HTTP/2 is compiled out (Cargo.toml).
    let ca = cert.cert.pem();
    let alpn = tokio::task::spawn_blocking(move || negotiated_alpn(port, &ca))
        .await
        .unwrap();
    assert_eq!(alpn.as_deref(), Some("http/1.1"));

    // A client that does not trust the certificate is refused by its own TLS check.
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .is_err()
    );
}

/// The protocol the TLS listener picks, by ALPN, for a client that offers `h2` and `http/1.1`.
fn negotiated_alpn(port: u16, ca_pem: &str) -> Option<String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned())
}

#[tokio::test]
async fn a_tls_key_that_does_not_load_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    std::fs::write(&cert_path, "not a certificate").unwrap();
    let issuer = TestIssuer::start();
    let config = test_config(
        &issuer.issuer,
        &dir.path().join("db"),
        &[
            ("STSVEND_SERVER__TLS__BIND".to_owned(), "127.0.0.1:0".to_owned()),
            (
                "STSVEND_SERVER__TLS__CERT_PATH".to_owned(),
                cert_path.display().to_string(),
            ),
            (
                "STSVEND_SERVER__TLS__KEY_PATH".to_owned(),
                "/nonexistent/key.pem".to_owned(),
            ),
        ],
    );
    let Err(err) = stsvend::app::Application::build(config).await else {
        panic!("start-up must fail");
    };
    assert!(err.to_string().contains("server.tls.cert_path"), "{err}");
}

/// boto3 finds the container provider on its own (no keys in its environment), uploads 64 MiB
/// in parts while its 10-second keys expire, fetches fresh ones from stsvend, and finishes.
#[tokio::test]
async fn boto3_multipart_upload_outlives_its_keys_through_the_container_route() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true")
            .set("STSVEND_AWS__SESSION_DURATION_SECONDS", "10")
            .set("STSVEND_AWS__MIN_REMAINING_SECONDS", "4"),
    )
    .await;
    let sub = unique_sub("boto3");
    let first = app.vend(&sub, None).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("Bearer {}", app.issuer.token(&sub))).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/boto3_container_upload.py");
    let out = tokio::process::Command::new(venv_python())
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials/container", app.base),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .env("S3_ENDPOINT", required_env("STSVEND_AWS__ENDPOINT_URL"))
        .env("BUCKET", &first.bucket)
        .env("KEY", "big.bin")
        .env("SIZE_MIB", "64")
        .env("PART_PAUSE_SECONDS", "2")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "boto3 upload failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["size"], 64 * 1024 * 1024);
    assert_eq!(result["same_content"], true);
    assert!(result["etag"].as_str().unwrap().contains("-8"), "8 parts: {result}");
    let keys: Vec<&str> = result["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(keys.len() >= 2, "the upload ran on one set of keys only: {result}");
    assert!(keys.iter().all(|k| *k != "unsigned"), "{result}");

    // The first keys really did expire: MiniStack refuses them now (or within moments: its
    // clock and ours may differ by a second).
    let stale = within(Duration::from_secs(5), async || {
        let stale = user_s3(&first)
            .head_object()
            .bucket(&first.bucket)
            .key("big.bin")
            .send()
            .await;
        stale.is_err().then_some(stale)
    })
    .await
    .expect("the first keys still work 5 s after the upload");
    assert_ne!(s3_code(&stale), "ok", "keys past their expiration must be refused");
}

fn venv_python() -> String {
    format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR"))
}
