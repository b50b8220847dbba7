//! A running stsvend built through `Application::build`, wired to a [`TestIssuer`] and
//! `MiniStack`, with the calls most tests make on it (vend, `/v1/me`, metrics).
//!
//! AWS is `MiniStack`, started and seeded by `scripts/test.sh`; its address and the service's
//! keys arrive through the environment. A missing variable fails the test loudly.

use std::sync::Arc;

use serde_json::{Value, json};
use stsvend::app::{AppState, Application};
use stsvend::config::Config;

use super::issuer::TestIssuer;
use super::s3::{create_bare_bucket, fresh_shared_bucket};
use super::wait::{READY_WITHIN, answers_200};

/// A required environment variable, or a panic that says how to provide it.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite through scripts/test.sh, which starts and seeds MiniStack")
    })
}

/// A running stsvend wired to a [`TestIssuer`] and `MiniStack`.
pub struct TestApp {
    pub base: String,
    /// Port of the TLS listener, when the test configured one.
    pub tls_port: Option<u16>,
    /// Base URL of the metrics listener.
    pub metrics_base: String,
    pub http: reqwest::Client,
    pub issuer: Arc<TestIssuer>,
    pub config: Config,
    pub state: AppState,
    pub db_dir: Arc<tempfile::TempDir>,
    handle: actix_web::dev::ServerHandle,
}

#[derive(Default)]
pub struct Options {
    pub env: Vec<(String, String)>,
    pub db_dir: Option<Arc<tempfile::TempDir>>,
    pub issuer: Option<Arc<TestIssuer>>,
    /// With `[quota]` set: reconcile every owner this often (no config key goes below an hour).
    pub quota_period: Option<std::time::Duration>,
}

impl Options {
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// The shipped config.toml with the test environment applied on top.
pub fn test_config(issuer: &str, db_path: &std::path::Path, extra: &[(String, String)]) -> Config {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("STSVEND_")).collect();
    // The role and endpoint come from the seeded MiniStack.
    required_env("STSVEND_AWS__ROLE_ARN");
    required_env("STSVEND_AWS__ENDPOINT_URL");
    required_env("AWS_ACCESS_KEY_ID");
    env.extend([
        ("STSVEND_SERVER__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("STSVEND_SERVER__METRICS_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("STSVEND_AUTH__ISSUER".to_owned(), issuer.to_owned()),
        // Test issuers (TestIssuer, the Auth0 stand-in) serve plain http on loopback.
        ("STSVEND_AUTH__ALLOW_INSECURE_HTTP".to_owned(), "true".to_owned()),
        ("STSVEND_DATABASE__PATH".to_owned(), db_path.display().to_string()),
        (
            "STSVEND_POLICIES__DIR".to_owned(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies").to_owned(),
        ),
    ]);
    env.extend(extra.iter().cloned());
    Config::from_sources("test", &text, &env).unwrap_or_else(|e| panic!("{e}"))
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> Self {
        let me = Self::spawn_unready(opts).await;
        me.wait_ready().await;
        me
    }

    /// Starts the service without waiting for `/readyz`, for tests of an issuer it must refuse.
    pub async fn spawn_unready(opts: Options) -> Self {
        // Service logs on demand: TEST_LOG=1 scripts/test.sh
        if std::env::var_os("TEST_LOG").is_some() {
            stsvend::runtime::telemetry::init(stsvend::config::LogFormat::Text, stsvend::aws::LOG_DIRECTIVES);
        }
        let issuer = match opts.issuer {
            Some(i) => i,
            None => Arc::new(TestIssuer::start()),
        };
        let db_dir = opts.db_dir.unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let mut config = test_config(&issuer.issuer, &db_dir.path().join("stsvend.db"), &opts.env);
        if let Some(quota) = config.quota.as_mut() {
            quota.reconcile_period_for_tests = opts.quota_period;
            if quota.queue_url == super::quota::UNREAD_QUEUE {
                Box::pin(super::quota::ensure_unread_queue()).await;
            }
        }
        let app = Box::pin(Application::build(config.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let base = format!("http://127.0.0.1:{}", app.port());
        let metrics_base = format!(
            "http://127.0.0.1:{}",
            app.metrics_port().expect("tests configure a metrics listener")
        );
        let state = app.state();
        let tls_port = app.tls_port();
        let handle = app.server_handle();
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            tls_port,
            metrics_base,
            http: reqwest::Client::new(),
            issuer,
            config,
            state,
            db_dir,
            handle,
        }
    }

    /// The status of `GET /readyz`.
    pub async fn readiness(&self) -> u16 {
        let resp = self.http.get(format!("{}/readyz", self.base)).send().await.unwrap();
        resp.status().as_u16()
    }

    async fn wait_ready(&self) {
        let url = format!("{}/readyz", self.base);
        assert!(answers_200(&url, READY_WITHIN).await, "stsvend did not become ready");
    }

    /// Stops the server, keeping the issuer and database for a restart.
    pub async fn stop(self) -> Stopped {
        self.handle.stop(true).await;
        Stopped {
            issuer: Arc::clone(&self.issuer),
            db_dir: Arc::clone(&self.db_dir),
        }
    }

    pub async fn post_credentials(&self, token: Option<&str>, body: Option<Value>) -> reqwest::Response {
        let mut req = self.http.post(format!("{}/v1/credentials", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// Vends for `sub` and returns the 200 body, failing the test otherwise.
    pub async fn vend(&self, sub: &str, access: Option<&str>) -> Vended {
        let body = access.map(|a| json!({"access": a}));
        let resp = self.post_credentials(Some(&self.issuer.token(sub)), body).await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "vend for {sub} failed: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The body of `GET /v1/me` for `sub`.
    pub async fn me(&self, sub: &str) -> Value {
        self.me_with(&self.issuer.token(sub)).await
    }

    /// `GET /v1/me` with `token` (one carrying claims of its own, e.g. an organisation).
    pub async fn me_with(&self, token: &str) -> Value {
        self.http
            .get(format!("{}/v1/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The service's Prometheus metrics, as scraped.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Records `sub` as a user whose first login stopped after writing its row (`pending`),
    /// with `bucket` as the name it recorded; returns the user id.
    pub async fn pending_user(&self, sub: &str, bucket: &stsvend::identity::BucketName) -> stsvend::identity::UserId {
        let user_id = stsvend::identity::UserId::derive(&self.issuer.issuer, sub);
        self.state
            .store
            .insert_user(&stsvend::store::NewUser {
                user_id: &user_id,
                issuer: &self.issuer.issuer,
                subject: sub,
                bucket,
                region: "us-east-1",
                prefix: None,
            })
            .await
            .unwrap();
        user_id
    }

    /// The state a crash right after `CreateBucket` leaves for `sub`: a pending row and a bare
    /// bucket (no settings yet). Returns the user id and the bucket.
    pub async fn crashed_after_create_bucket(
        &self,
        sub: &str,
    ) -> (stsvend::identity::UserId, stsvend::identity::BucketName) {
        let bucket = stsvend::identity::BucketName::fresh("stsvend").unwrap();
        let user_id = self.pending_user(sub, &bucket).await;
        create_bare_bucket(bucket.as_str()).await;
        (user_id, bucket)
    }

    /// Requests the service answered on its API routes so far, from its own request metric
    /// (health probes left out): what the figures report as requests served.
    pub async fn requests_answered(&self) -> u64 {
        self.metrics_text()
            .await
            .lines()
            .filter(|l| l.starts_with("stsvend_request_duration_seconds_count{"))
            .filter(|l| !l.contains(r#"route="/readyz""#) && !l.contains(r#"route="/healthz""#))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }

    pub async fn users_in_db(&self) -> i64 {
        let (ready, pending) = self.state.store.count_users().await.unwrap();
        ready + pending
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// What survives [`TestApp::stop`]: the issuer and the database, for a restart.
pub struct Stopped {
    pub issuer: Arc<TestIssuer>,
    pub db_dir: Arc<tempfile::TempDir>,
}

/// A vend response body, as clients parse it.
pub type Vended = stsvend::http::CredentialsResponse;

/// Sends `POST /v1/credentials` in the background; the handle yields the status, or an error
/// when the connection drops (as when the service is killed mid-request).
pub fn vend_in_background(base: &str, token: String) -> tokio::task::JoinHandle<reqwest::Result<u16>> {
    let url = format!("{base}/v1/credentials");
    tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status().as_u16())
    })
}

/// A subject unique to this test run, so tests never share users.
pub fn unique_sub(name: &str) -> String {
    format!("auth0|{name}-{}", uuid::Uuid::new_v4().simple())
}

/// The distinct access key ids and buckets of vend responses, each of which must be a 200.
pub async fn distinct_keys_and_buckets(
    responses: impl IntoIterator<Item = reqwest::Response>,
) -> (std::collections::BTreeSet<String>, std::collections::BTreeSet<String>) {
    let (mut keys, mut buckets) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for r in responses {
        assert_eq!(r.status(), 200);
        let v: Vended = r.json().await.unwrap();
        keys.insert(v.access_key_id);
        buckets.insert(v.bucket);
    }
    (keys, buckets)
}

impl Options {
    /// Prefix mode: new users get a prefix of `shared` (a bucket from [`fresh_shared_bucket`]).
    pub fn prefix_mode(self, shared: &str) -> Self {
        self.set("STSVEND_STORAGE__MODE", "prefix")
            .set("STSVEND_STORAGE__SHARED_BUCKET", shared)
    }
}

impl TestApp {
    /// A service in prefix mode on a shared bucket of its own, with `opts` besides (which also
    /// configure the shared bucket: `STSVEND_STORAGE__CORS_ALLOWED_ORIGINS` for a browser test).
    pub async fn spawn_prefix(opts: Options) -> (Self, String) {
        let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &opts.env);
        if probe
            .quota
            .as_ref()
            .is_some_and(|q| q.queue_url == super::quota::UNREAD_QUEUE)
        {
            Box::pin(super::quota::ensure_unread_queue()).await;
        }
        let shared = fresh_shared_bucket(&probe).await;
        (Self::spawn_with(opts.prefix_mode(&shared)).await, shared)
    }

    /// S3 calls the service has made, by the `stsvend_aws_calls_total` counter.
    pub async fn s3_calls(&self) -> u64 {
        self.metrics_text()
            .await
            .lines()
            .filter(|l| l.starts_with("stsvend_aws_calls_total{") && l.contains(r#"service="s3""#))
            // An integer counter: its value prints without a fraction.
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    }
}

/// The value of the sample whose name and labels start with `prefix`, e.g.
/// `stsvend_vends_total{access="read-write",outcome="ok"}`.
pub fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// The JSON body of the answer to `request` (whatever its status).
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
