//! Criterion micro-benchmarks of the pieces of a vend: token verification, policy rendering,
//! and the store's user lookup and audit insert. `cargo bench --bench components`.
//! The whole service under load is measured by `scripts/bench.sh` instead.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use stsvend::auth::{JwksCache, Verifier};
use stsvend::config::{AuthConfig, Config};
use stsvend::identity::{AccountId, BucketName, UserId};
use stsvend::policy::{PolicySet, RenderContext};
use stsvend::store::{Store, VendRecord};

const SIGNING_PEM: &[u8] = include_bytes!("../tests/fixtures/signing_key.pem");
const ISSUER: &str = "https://bench.stsvend.invalid/";
const AUDIENCE: &str = "https://stsvend.local/api";
const KID: &str = "bench-key";
/// Users in the store benchmarks' database.
const STORE_USERS: u64 = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Serves `body` as the JWKS on a loopback port for as long as the process runs.
fn serve_jwks(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/.well-known/jwks.json")
}

/// The shipped `config.toml`'s auth section, pointed at the benchmark's issuer and JWKS.
fn auth_config(jwks_url: &str) -> AuthConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let text = std::fs::read_to_string(&path).expect("config.toml");
    let env = [
        ("STSVEND_AUTH__ISSUER", ISSUER),
        ("STSVEND_AUTH__JWKS_URL", jwks_url),
        ("STSVEND_AUTH__AUDIENCE", AUDIENCE),
        // The JWKS is served over plain http on loopback.
        ("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "true"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    Config::from_sources("config.toml", &text, &env)
        .expect("config.toml loads")
        .auth
}

/// An access token shaped like Auth0's for `sub`, valid for an hour.
fn token(key: &EncodingKey, sub: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let claims = json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": [AUDIENCE, format!("{ISSUER}userinfo")],
        "iat": now,
        "exp": now + 3600,
        "azp": "bench-spa",
        "scope": "openid profile read:files write:files",
        "permissions": ["read:files", "write:files"],
    });
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

fn verification(c: &mut Criterion) {
    let rt = runtime();
    let key = EncodingKey::from_rsa_pem(SIGNING_PEM).expect("fixture key");
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(KID.to_owned());
    let url = serve_jwks(serde_json::to_string(&JwkSet { keys: vec![jwk] }).expect("jwks"));
    let config = auth_config(&url);
    let jwks = Arc::new(JwksCache::from_config(&config));
    rt.block_on(jwks.refresh()).expect("JWKS loads");
    let uncached = Verifier::new(&config, Arc::clone(&jwks)).with_token_cache_capacity(0);
    let cached = Verifier::new(&config, jwks);
    let token = token(&key, "auth0|bench-user");
    rt.block_on(cached.verify(&token)).expect("token verifies");

    let mut g = c.benchmark_group("verify_token");
    g.bench_function("first_presentation_rsa", |b| {
        b.to_async(&rt)
            .iter(|| async { uncached.verify(black_box(&token)).await.expect("valid") });
    });
    g.bench_function("repeat_presentation_cached", |b| {
        b.to_async(&rt)
            .iter(|| async { cached.verify(black_box(&token)).await.expect("valid") });
    });
    g.finish();
}

fn policy_rendering(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let set = PolicySet::load(&dir, &["read-write"]).expect("shipped templates load");
    let template = set.get("read-write").expect("read-write template");
    let user_id = UserId::derive(ISSUER, "auth0|bench-user");
    let bucket = BucketName::fresh("stsvend").expect("bucket name");
    let account_id = AccountId::parse("123456789012").expect("account id");
    let ctx = RenderContext {
        claims: &[],
        bucket: &bucket,
        user_id: &user_id,
        account_id: &account_id,
        prefix: None,
        org: None,
    };
    c.bench_function("policy/render_read_write", |b| {
        b.iter(|| template.render(black_box(&ctx)));
    });
}

/// A database with `STORE_USERS` ready users, written the way `tools/load` (`load seed-db`) does.
fn seeded_store(dir: &Path) -> (Store, Vec<UserId>) {
    let path = dir.join("bench.db");
    let store = Store::open(&path).expect("open store");
    let mut conn = rusqlite::Connection::open(&path).expect("open db");
    let tx = conn.transaction().expect("transaction");
    let mut ids = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO users (user_id, issuer, subject, bucket, candidate, region, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 0, 'us-east-1', 'ready', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            )
            .expect("prepare");
        for n in 0..STORE_USERS {
            let sub = format!("auth0|bench-{n}");
            let id = UserId::derive(ISSUER, &sub);
            stmt.execute(rusqlite::params![id.as_str(), ISSUER, sub, format!("stsvend-{id}")])
                .expect("insert");
            ids.push(id);
        }
    }
    tx.commit().expect("commit");
    (store, ids)
}

fn audit_row(user_id: &UserId) -> VendRecord {
    VendRecord {
        user_id: user_id.clone(),
        access_key_id: "ASIAEXAMPLEEXAMPLE01".to_owned(),
        template: "read-write".to_owned(),
        expiration: stsvend::runtime::clock::now(),
        client_addr: Some("127.0.0.1".to_owned()),
        client_id: Some("bench-spa".to_owned()),
        from_cache: true,
        org_id: None,
    }
}

fn store(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, ids) = seeded_store(dir.path());
    let mut g = c.benchmark_group("store");
    let mut n = 0usize;
    g.bench_function("user_lookup_10k_users", |b| {
        b.to_async(&rt).iter(|| {
            n = (n + 7919) % ids.len();
            let id = &ids[n];
            let store = &store;
            async move { store.user(id).await.expect("lookup").expect("row") }
        });
    });
    g.bench_function("record_vend", |b| {
        b.to_async(&rt)
            .iter(|| async { store.record_vend(audit_row(&ids[0])).await.expect("audit row") });
    });
    // 64 vends finishing at once, as under 64 concurrent connections: the writes serialise on
    // SQLite's single writer lock.
    g.bench_function("record_vend_64_concurrent", |b| {
        b.to_async(&rt).iter(|| async {
            let writes = (0..64).map(|i| store.record_vend(audit_row(&ids[i])));
            for r in futures::future::join_all(writes).await {
                r.expect("audit row");
            }
        });
    });
    g.finish();
}

criterion_group!(benches, verification, policy_rendering, store);
criterion_main!(benches);
