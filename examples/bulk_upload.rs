//! Bulk upload of a folder into your own stsvend storage with aws-sdk-rust.
//!
//! The SDK gets its keys from stsvend through a `ProvideCredentials` implementation that calls
//! `POST /v1/credentials` with your bearer token. Each answer carries its expiry, so the SDK's
//! identity cache asks again shortly before the keys run out, and a long upload never stalls on
//! expired keys.
//!
//! ```sh
//! stsvend-cli token-file --path ~/.stsvend-token &     # keeps a fresh token in the file
//! STSVEND_URL=https://stsvend.example.com STSVEND_TOKEN_FILE=~/.stsvend-token \
//!   cargo run --example bulk_upload -- ./photos photos/
//! ```
//!
//! The token comes from `STSVEND_TOKEN_FILE` (`Bearer <jwt>` or the bare JWT, re-read on every
//! refresh) or `STSVEND_TOKEN`. Arguments: the folder, then an optional key prefix of yours.
//! Keys are `<vended Prefix><your prefix><path relative to the folder>`: stsvend's `Prefix` is
//! empty when the bucket is yours alone and `users/<id>/` in a shared bucket (prefix mode),
//! whose keys may write nowhere else. The last line says where the objects went
//! (`uploaded N files (B bytes) to s3://<bucket>/<vended prefix><your prefix>`).
//! `BULK_UPLOAD_FILES_PER_SECOND` caps how many uploads start per second (a shared link; the
//! test uses it to make a run outlast its keys). Each set of keys the SDK receives is named on
//! stderr (`keys ASIA... expire ...`; never the secret parts).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::future;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, ProvideCredentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;
use serde::Deserialize;

/// Uploads in flight at once.
const PARALLEL: usize = 8;

/// The part of stsvend's answer this example needs.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vended {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
    bucket: String,
    /// Absent from an stsvend older than prefix mode: the bucket is then the user's own.
    #[serde(default)]
    prefix: String,
    region: String,
    endpoint: Option<String>,
}

enum TokenSource {
    File(PathBuf),
    Value(String),
}

impl TokenSource {
    fn from_env() -> Result<Self, String> {
        if let Some(path) = std::env::var_os("STSVEND_TOKEN_FILE") {
            return Ok(Self::File(path.into()));
        }
        std::env::var("STSVEND_TOKEN")
            .map(Self::Value)
            .map_err(|_| "set STSVEND_TOKEN_FILE or STSVEND_TOKEN".to_owned())
    }

    /// The JWT, re-read each time so a refreshed token file is picked up.
    fn jwt(&self) -> Result<String, String> {
        let raw = match self {
            Self::File(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
            Self::Value(v) => v.clone(),
        };
        let raw = raw.trim();
        Ok(raw.strip_prefix("Bearer ").unwrap_or(raw).trim().to_owned())
    }
}

/// Credentials from stsvend, for the SDK.
struct StsvendCredentials {
    http: reqwest::Client,
    url: String,
    token: TokenSource,
}

impl std::fmt::Debug for StsvendCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No token here: the SDK may log its providers.
        f.debug_struct("StsvendCredentials")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl StsvendCredentials {
    async fn vend(&self) -> Result<Vended, String> {
        let jwt = self.token.jwt()?;
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(jwt)
            .send()
            .await
            .map_err(|e| format!("stsvend: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| format!("stsvend: {e}"))?;
        if !status.is_success() {
            // stsvend's error envelope holds no secrets: {"error": {"code", "message"}}.
            return Err(format!("stsvend answered {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("stsvend's answer: {e}"))
    }

    async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let v = self.vend().await.map_err(CredentialsError::provider_error)?;
        let expiry = time::OffsetDateTime::parse(&v.expiration, &time::format_description::well_known::Rfc3339)
            .map_err(CredentialsError::unhandled)?;
        eprintln!("keys {} expire {}", v.access_key_id, v.expiration);
        Ok(Credentials::new(
            v.access_key_id,
            v.secret_access_key,
            Some(v.session_token),
            Some(SystemTime::from(expiry)),
            "stsvend",
        ))
    }
}

impl ProvideCredentials for StsvendCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// Every file under `dir`, with its key relative to `dir` (`/`-separated).
fn files_under(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>();
                out.push((path.clone(), key.join("/")));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: bulk_upload <folder> [key-prefix]")?);
    let user_prefix = args
        .next()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = std::env::var("STSVEND_URL").map_err(|_| "set STSVEND_URL (stsvend's base URL)")?;
    let provider = StsvendCredentials {
        http: reqwest::Client::new(),
        url: format!("{}/v1/credentials", base.trim_end_matches('/')),
        token: TokenSource::from_env()?,
    };

    // One vend up front to learn where the bucket is; from then on the SDK asks on its own.
    let target = provider.vend().await?;
    let mut conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .credentials_provider(provider);
    if let Some(endpoint) = &target.endpoint {
        // A non-AWS endpoint (MiniStack, a proxy): path-style addressing.
        conf = conf.endpoint_url(endpoint).force_path_style(true);
    }
    let s3 = aws_sdk_s3::Client::from_conf(conf.build());
    // Under the vended prefix first: in a shared bucket nothing outside it may be written.
    let prefix = format!("{}{user_prefix}", target.prefix);

    // Upload number i starts no earlier than i / rate seconds after the first.
    let rate = match std::env::var("BULK_UPLOAD_FILES_PER_SECOND") {
        Ok(r) => Some(
            r.parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or("BULK_UPLOAD_FILES_PER_SECOND: a positive number")?,
        ),
        Err(_) => None,
    };
    let started = tokio::time::Instant::now();

    let files = files_under(&dir)?;
    let results: Vec<Result<u64, String>> = futures::stream::iter(files.into_iter().enumerate())
        .map(|(i, (path, key))| {
            let (s3, bucket, key) = (s3.clone(), target.bucket.clone(), format!("{prefix}{key}"));
            async move {
                if let Some(rate) = rate {
                    let n = f64::from(u32::try_from(i).unwrap_or(u32::MAX));
                    let at = Duration::try_from_secs_f64(n / rate).unwrap_or(Duration::ZERO);
                    tokio::time::sleep_until(started + at).await;
                }
                let len = std::fs::metadata(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .len();
                let body = ByteStream::from_path(&path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                s3.put_object()
                    .bucket(bucket)
                    .key(&key)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| format!("{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
                Ok(len)
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;

    let (mut files, mut bytes, mut failed) = (0, 0, 0);
    for r in results {
        match r {
            Ok(len) => {
                files += 1;
                bytes += len;
            }
            Err(e) => {
                failed += 1;
                eprintln!("failed: {e}");
            }
        }
    }
    println!(
        "uploaded {files} files ({bytes} bytes) to s3://{}/{prefix}",
        target.bucket
    );
    if failed > 0 {
        return Err(format!("{failed} uploads failed").into());
    }
    Ok(())
}
