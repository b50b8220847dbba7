//! Bulk upload of a folder into your own stsvend storage with aws-sdk-rust.
//!
//! The SDK gets its keys from stsvend through `stsvend-credentials` (`clients/rust`), a
//! `ProvideCredentials` that calls `POST /v1/credentials` with your bearer token. Each answer
//! carries its expiry, so the SDK's identity cache asks again shortly before the keys run out,
//! and a long upload never stalls on expired keys.
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
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;
use stsvend_credentials::{StsvendCredentials, TokenSource};

/// Uploads in flight at once.
const PARALLEL: usize = 8;

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
    let stsvend = StsvendCredentials::builder(base)
        .token(TokenSource::from_env()?)
        .on_vend(|v| eprintln!("keys {} expire {}", v.credentials.access_key_id(), v.expiration))
        .build()?;

    // Where the keys reach; the SDK then asks the provider for keys on its own.
    let target = stsvend.storage().await?;
    let mut conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .credentials_provider(stsvend);
    if let Some(endpoint) = &target.endpoint {
        // A non-AWS endpoint (MiniStack, a proxy): path-style addressing.
        conf = conf.endpoint_url(endpoint).force_path_style(true);
    }
    let s3 = aws_sdk_s3::Client::from_conf(conf.build());
    // Under the vended prefix first: in a shared bucket nothing outside it may be written.
    let prefix = target.key(&user_prefix);

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
