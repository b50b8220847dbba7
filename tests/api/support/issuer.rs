//! A local stand-in for the issuer's discovery document and JWKS, with switches for tests:
//! down, a discovery document naming a JWKS elsewhere, redirects, endless bodies.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde_json::{Value, json};

use crate::support::{AUDIENCE, KID, jwk_for, now, sign, signing_key};

pub struct TestIssuer {
    pub issuer: String,
    pub state: Arc<IssuerState>,
    handle: actix_web::dev::ServerHandle,
}

pub struct IssuerState {
    pub keys: Mutex<Vec<Jwk>>,
    pub down: AtomicBool,
    pub jwks_fetches: AtomicUsize,
    /// Requests for the discovery document (answered or redirected).
    pub discovery_fetches: AtomicUsize,
    /// The `jwks_uri` the discovery document names; the issuer's own JWKS when `None`.
    pub jwks_uri: Mutex<Option<String>>,
    /// Discovery answers 302 to `/moved/openid-configuration`, which serves the real document.
    pub redirect_discovery: AtomicBool,
    /// The JWKS answers 302 to `/moved/jwks.json`, which serves the real keys.
    pub redirect_jwks: AtomicBool,
    /// Requests that reached a `/moved/...` target of a redirect.
    pub moved_hits: AtomicUsize,
    /// Discovery or the JWKS (as chosen) answers an endless chunked body, without a length.
    pub endless_discovery: AtomicBool,
    pub endless_jwks: AtomicBool,
    /// Bytes of endless bodies handed to the connection so far.
    pub endless_bytes: AtomicUsize,
    /// Endless bodies dropped by the server because the client hung up.
    pub endless_hangups: AtomicUsize,
    issuer: Mutex<String>,
}

impl TestIssuer {
    pub fn start() -> Self {
        let state = Arc::new(IssuerState {
            keys: Mutex::new(vec![jwk_for(&signing_key(), KID)]),
            down: AtomicBool::new(false),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            jwks_uri: Mutex::new(None),
            redirect_discovery: AtomicBool::new(false),
            redirect_jwks: AtomicBool::new(false),
            moved_hits: AtomicUsize::new(0),
            endless_discovery: AtomicBool::new(false),
            endless_jwks: AtomicBool::new(false),
            endless_bytes: AtomicUsize::new(0),
            endless_hangups: AtomicUsize::new(0),
            issuer: Mutex::new(String::new()),
        });
        let data = web::Data::from(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://127.0.0.1:{port}/");
        state.issuer.lock().unwrap().clone_from(&issuer);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/.well-known/jwks.json", web::get().to(jwks))
                .route("/moved/openid-configuration", web::get().to(moved_discovery))
                .route("/moved/jwks.json", web::get().to(moved_jwks))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { issuer, state, handle }
    }

    pub fn fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// This issuer's JWKS address.
    pub fn jwks_url(&self) -> String {
        format!("{}.well-known/jwks.json", self.issuer)
    }

    /// Claims of a typical Auth0 user access token for `sub`, valid for an hour.
    pub fn claims(&self, sub: &str) -> Value {
        json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": [AUDIENCE, format!("{}userinfo", self.issuer)],
            "iat": now(),
            "exp": now() + 3600,
            "azp": "test-spa",
            "scope": "openid profile read:files write:files",
            "permissions": ["read:files", "write:files"],
        })
    }

    /// A valid token for `sub`, signed with the published key.
    pub fn token(&self, sub: &str) -> String {
        sign(&self.claims(sub), &signing_key(), KID)
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", location.to_owned()))
        .finish()
}

async fn discovery(state: web::Data<IssuerState>) -> HttpResponse {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if state.redirect_discovery.load(Ordering::SeqCst) {
        return found("/moved/openid-configuration");
    }
    if state.endless_discovery.load(Ordering::SeqCst) {
        return endless(state.into_inner());
    }
    discovery_document(&state)
}

fn discovery_document(state: &IssuerState) -> HttpResponse {
    let issuer = state.issuer.lock().unwrap().clone();
    let jwks_uri = state
        .jwks_uri
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| format!("{issuer}.well-known/jwks.json"));
    HttpResponse::Ok().json(json!({"issuer": issuer, "jwks_uri": jwks_uri}))
}

async fn jwks(state: web::Data<IssuerState>) -> HttpResponse {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    if state.redirect_jwks.load(Ordering::SeqCst) {
        return found("/moved/jwks.json");
    }
    if state.endless_jwks.load(Ordering::SeqCst) {
        return endless(state.into_inner());
    }
    key_set(&state)
}

fn key_set(state: &IssuerState) -> HttpResponse {
    HttpResponse::Ok().json(JwkSet {
        keys: state.keys.lock().unwrap().clone(),
    })
}

async fn moved_discovery(state: web::Data<IssuerState>) -> HttpResponse {
    state.moved_hits.fetch_add(1, Ordering::SeqCst);
    discovery_document(&state)
}

async fn moved_jwks(state: web::Data<IssuerState>) -> HttpResponse {
    state.moved_hits.fetch_add(1, Ordering::SeqCst);
    key_set(&state)
}

/// Counts an endless body as hung up when the server drops it: it never ends by itself.
struct HangUp(Arc<IssuerState>);

impl Drop for HangUp {
    fn drop(&mut self) {
        self.0.endless_hangups.fetch_add(1, Ordering::SeqCst);
    }
}

/// A JSON-looking body that never ends: 16 KiB every 2 ms, chunked, with no `Content-Length`.
/// Slow enough that the client, not the socket buffers, decides how much is sent.
fn endless(state: Arc<IssuerState>) -> HttpResponse {
    const CHUNK: usize = 16 * 1024;
    let filler = bytes::Bytes::from(format!("{{\"keys\":[{}", " ".repeat(CHUNK - 9)));
    let body = futures::stream::unfold(HangUp(state), move |guard| {
        let chunk = filler.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            guard.0.endless_bytes.fetch_add(chunk.len(), Ordering::SeqCst);
            Some((Ok::<_, actix_web::Error>(chunk), guard))
        }
    });
    HttpResponse::Ok().content_type("application/json").streaming(body)
}
