//! Helper of the load benchmark (`scripts/bench.sh`); not a criterion bench and not a test.
//!
//! Subcommands: `mint` signs user access tokens with the issuer's key, `seed-db` writes ready
//! user rows straight into the database, `vend` drives `POST /v1/credentials` and summarises
//! latencies as one JSON line, `hour` replays a compressed hour of client refreshes, `relay`
//! forwards stsvend's AWS traffic while timing it, and `fake-sts` answers `AssumeRole` for the
//! memory measurement. Run without a subcommand (as `cargo test --all-targets` does) it does
//! nothing.

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use stsvend::identity::UserId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const COMMANDS: [&str; 6] = ["mint", "seed-db", "vend", "hour", "relay", "fake-sts"];

#[derive(Parser)]
#[command(name = "load", about = "stsvend load-benchmark helper (driven by scripts/bench.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Signs `count` RS256 user access tokens (subjects `<prefix><n>`), one per line.
    Mint {
        #[arg(long)]
        key_pem: PathBuf,
        #[arg(long)]
        kid: String,
        #[arg(long)]
        issuer: String,
        #[arg(long, default_value = "https://stsvend.local/api")]
        audience: String,
        #[arg(long)]
        prefix: String,
        #[arg(long, default_value_t = 0)]
        start: u64,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        #[arg(long)]
        out: PathBuf,
        /// Members of organisations: token n gets `org_id = <org_prefix><n / org_size>` and the
        /// team permissions (`write:team-files`) as well.
        #[arg(long)]
        org_prefix: Option<String>,
        #[arg(long, default_value_t = 100)]
        org_size: u64,
    },
    /// Inserts `count` ready users (subjects `<prefix><n>`) in one transaction.
    SeedDb {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        prefix: String,
        #[arg(long, default_value_t = 0)]
        start: u64,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value = "stsvend")]
        bucket_prefix: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// One vend per token (`repeat` rounds), `concurrency` in flight; prints a JSON summary.
    Vend {
        #[arg(long)]
        url: String,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// Only the first `limit` tokens of the file.
        #[arg(long)]
        limit: Option<usize>,
        /// The relay's control address: splits each request's latency into AWS and stsvend
        /// time (meaningful with `--concurrency 1` only).
        #[arg(long)]
        relay_control: Option<SocketAddr>,
        /// The template to ask for (`{"access": ...}`); the configured default without it.
        #[arg(long)]
        access: Option<String>,
    },
    /// Every token's user refreshes each template every `period_ms` for `seconds`.
    Hour {
        #[arg(long)]
        url: String,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long)]
        seconds: u64,
        #[arg(long)]
        period_ms: u64,
        #[arg(long, value_delimiter = ',')]
        access: Vec<String>,
    },
    /// Transparent TCP relay to AWS that sums the time stsvend waits for each response.
    Relay {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        upstream: SocketAddr,
        #[arg(long)]
        control: SocketAddr,
        /// Added before each request is passed on: one round trip of AWS's latency per call,
        /// which `MiniStack` (about a millisecond) does not have.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
    /// Answers every request as a successful `AssumeRole` with AWS-sized credentials.
    FakeSts {
        #[arg(long)]
        listen: SocketAddr,
        /// Length of the session token; AWS's, with a session policy and tags, are ~1 KiB.
        #[arg(long, default_value_t = 1024)]
        token_len: usize,
    },
}

fn main() -> Res<()> {
    let first = std::env::args().nth(1);
    if !first.as_deref().is_some_and(|a| COMMANDS.contains(&a)) {
        println!("load: helper of scripts/bench.sh; nothing to run without a subcommand");
        return Ok(());
    }
    match Cli::parse().command {
        Command::Mint {
            key_pem,
            kid,
            issuer,
            audience,
            prefix,
            start,
            count,
            ttl,
            out,
            org_prefix,
            org_size,
        } => mint(&MintArgs {
            key_pem,
            kid,
            issuer,
            audience,
            prefix,
            range: start..start + count,
            ttl,
            out,
            org: org_prefix.map(|p| (p, org_size.max(1))),
        }),
        Command::SeedDb {
            db,
            issuer,
            prefix,
            start,
            count,
            bucket_prefix,
            region,
        } => seed_db(&db, &issuer, &prefix, start..start + count, &bucket_prefix, &region),
        Command::Vend {
            url,
            tokens,
            concurrency,
            repeat,
            limit,
            relay_control,
            access,
        } => {
            let mut tokens = read_tokens(&tokens)?;
            if let Some(n) = limit {
                tokens.truncate(n);
            }
            let body = access.map(|a| json!({ "access": a }).to_string());
            runtime()?.block_on(vend(url, tokens, concurrency, repeat, relay_control, body))
        }
        Command::Hour {
            url,
            tokens,
            seconds,
            period_ms,
            access,
        } => runtime()?.block_on(hour(
            url,
            read_tokens(&tokens)?,
            Duration::from_secs(seconds),
            Duration::from_millis(period_ms),
            access,
        )),
        Command::Relay {
            listen,
            upstream,
            control,
            latency_ms,
        } => runtime()?.block_on(relay(listen, upstream, control, Duration::from_millis(latency_ms))),
        Command::FakeSts { listen, token_len } => {
            actix_web::rt::System::new().block_on(fake_sts(listen, token_len))?;
            Ok(())
        }
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn read_tokens(path: &PathBuf) -> Res<Vec<String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

struct MintArgs {
    key_pem: PathBuf,
    kid: String,
    issuer: String,
    audience: String,
    prefix: String,
    range: std::ops::Range<u64>,
    ttl: u64,
    out: PathBuf,
    /// Organisation claim prefix and members per organisation.
    org: Option<(String, u64)>,
}

/// Tokens shaped like the Auth0 stand-in's (`scripts/auth0/README.md`), signed on every core.
fn mint(a: &MintArgs) -> Res<()> {
    let key = EncodingKey::from_rsa_pem(&std::fs::read(&a.key_pem)?)?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(a.kid.clone());
    let iat = unix_now();
    let ids: Vec<u64> = a.range.clone().collect();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let chunk = ids.len().div_ceil(threads).max(1);
    let signed: Vec<Res<Vec<String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| {
                let (key, header) = (&key, &header);
                s.spawn(move || -> Res<Vec<String>> {
                    part.iter()
                        .map(|n| {
                            let mut claims = json!({
                                "iss": a.issuer,
                                "sub": format!("{}{n}", a.prefix),
                                "aud": [a.audience, format!("{}userinfo", a.issuer)],
                                "iat": iat,
                                "exp": iat + a.ttl,
                                "jti": format!("bench-{n}-{iat}"),
                                "scope": "openid profile read:files write:files",
                                "azp": "stsvend-bench",
                                "permissions": ["read:files", "write:files"],
                            });
                            if let Some((org, size)) = &a.org {
                                claims["org_id"] = json!(format!("{org}{}", n / size));
                                claims["permissions"] = json!(["read:files", "write:files", "write:team-files"]);
                            }
                            Ok(jsonwebtoken::encode(header, &claims, key)?)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("signing thread panicked".into())))
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::fs::File::create(&a.out)?);
    for part in signed {
        for t in part? {
            writeln!(out, "{t}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Ready rows as provisioning leaves them, sorted by primary key so the insert stays cheap.
fn seed_db(
    db: &PathBuf,
    issuer: &str,
    prefix: &str,
    range: std::ops::Range<u64>,
    bucket_prefix: &str,
    region: &str,
) -> Res<()> {
    // Creates the file and runs the service's own migrations.
    drop(stsvend::store::Store::open(db)?);
    let mut rows: Vec<(String, String)> = range
        .map(|n| {
            let sub = format!("{prefix}{n}");
            (UserId::derive(issuer, &sub).as_str().to_owned(), sub)
        })
        .collect();
    rows.sort_unstable();
    let mut c = rusqlite::Connection::open(db)?;
    c.busy_timeout(Duration::from_secs(30))?;
    c.pragma_update(None, "cache_size", -262_144)?;
    let at = stsvend::runtime::clock::format_time(stsvend::runtime::clock::now());
    let tx = c.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO users (user_id, issuer, subject, bucket, candidate, region, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, 'ready', ?6, ?6) ON CONFLICT DO NOTHING",
        )?;
        for (id, sub) in &rows {
            stmt.execute(rusqlite::params![
                id,
                issuer,
                sub,
                format!("{bucket_prefix}-{id}"),
                region,
                at
            ])?;
        }
    }
    tx.commit()?;
    println!(r#"{{"seeded": {}}}"#, rows.len());
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest-rank percentile.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn summary(ms: &mut [f64]) -> Value {
    ms.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let mean = if ms.is_empty() {
        0.0
    } else {
        ms.iter().sum::<f64>() / ms.len() as f64
    };
    json!({
        "p50": percentile(ms, 50.0),
        "p99": percentile(ms, 99.0),
        "max": ms.last().copied().unwrap_or(0.0),
        "mean": mean,
    })
}

struct Outcome {
    status: u16,
    ms: f64,
    access_key: Option<String>,
    aws_ms: Option<f64>,
    aws_calls: Option<u64>,
}

async fn relay_stats(http: &reqwest::Client, control: SocketAddr) -> Res<(u64, u64)> {
    let v: Value = http.get(format!("http://{control}/")).send().await?.json().await?;
    Ok((v["busy_ns"].as_u64().unwrap_or(0), v["exchanges"].as_u64().unwrap_or(0)))
}

async fn one_vend(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Option<&str>,
    control: Option<SocketAddr>,
) -> Res<Outcome> {
    let before = match control {
        Some(c) => Some(relay_stats(http, c).await?),
        None => None,
    };
    let started = Instant::now();
    let mut req = http.post(url).bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(b.to_owned());
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (mut aws_ms, mut aws_calls) = (None, None);
    if let (Some(c), Some((busy0, ex0))) = (control, before) {
        let (busy1, ex1) = relay_stats(http, c).await?;
        #[allow(clippy::cast_precision_loss)]
        let waited = (busy1 - busy0) as f64 / 1e6;
        aws_ms = Some(waited);
        aws_calls = Some(ex1 - ex0);
    }
    let access_key = (status == 200)
        .then(|| serde_json::from_slice::<Value>(&bytes).ok())
        .flatten()
        .and_then(|v| v["AccessKeyId"].as_str().map(str::to_owned));
    Ok(Outcome {
        status,
        ms,
        access_key,
        aws_ms,
        aws_calls,
    })
}

fn client(connections: usize) -> Res<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections.max(1))
        .timeout(Duration::from_mins(1))
        .build()?)
}

async fn vend(
    url: String,
    tokens: Vec<String>,
    concurrency: usize,
    repeat: usize,
    control: Option<SocketAddr>,
    body: Option<String>,
) -> Res<()> {
    let http = client(concurrency)?;
    let work: Vec<&str> = (0..repeat).flat_map(|_| tokens.iter().map(String::as_str)).collect();
    let started = Instant::now();
    let outcomes: Vec<Res<Outcome>> = futures::stream::iter(work)
        .map(|t| one_vend(&http, &url, t, body.as_deref(), control))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ms, mut aws, mut inside, mut calls) = (vec![], vec![], vec![], vec![]);
    let mut keys = HashSet::new();
    let mut errors = 0u64;
    for o in outcomes {
        match o {
            Ok(o) => {
                *statuses.entry(o.status.to_string()).or_default() += 1;
                ms.push(o.ms);
                if let Some(a) = o.aws_ms {
                    aws.push(a);
                    inside.push(o.ms - a);
                }
                if let Some(c) = o.aws_calls {
                    #[allow(clippy::cast_precision_loss)]
                    calls.push(c as f64);
                }
                keys.extend(o.access_key);
            }
            Err(e) => {
                errors += 1;
                eprintln!("load: request failed: {e}");
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = ms.len() as f64 / secs;
    let mut out = json!({
        "requests": ms.len() + usize::try_from(errors).unwrap_or(usize::MAX),
        "errors": errors,
        "status": statuses,
        "secs": secs,
        "rate": rate,
        "latency_ms": summary(&mut ms),
        "distinct_access_keys": keys.len(),
    });
    if control.is_some() {
        out["aws_ms"] = summary(&mut aws);
        out["inside_ms"] = summary(&mut inside);
        out["aws_calls"] = summary(&mut calls);
    }
    println!("{out}");
    Ok(())
}

async fn hour(url: String, tokens: Vec<String>, length: Duration, period: Duration, access: Vec<String>) -> Res<()> {
    let http = client(tokens.len())?;
    let deadline = Instant::now() + length;
    let statuses: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
    let count = u32::try_from(tokens.len()).unwrap_or(u32::MAX).max(1);
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (http, url, statuses) = (http.clone(), url.clone(), Arc::clone(&statuses));
        let bodies: Vec<String> = access.iter().map(|a| json!({ "access": a }).to_string()).collect();
        // Spread the users over the period so refreshes do not arrive in lockstep.
        let offset = period * u32::try_from(i).unwrap_or(0) / count;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            while Instant::now() < deadline {
                for b in &bodies {
                    let status = match one_vend(&http, &url, &token, Some(b), None).await {
                        Ok(o) => o.status,
                        Err(_) => 0,
                    };
                    *statuses
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(status)
                        .or_default() += 1;
                }
                tokio::time::sleep(period).await;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let statuses = statuses
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    println!("{}", json!({ "status": statuses }));
    Ok(())
}

#[derive(Default)]
struct RelayStats {
    /// Sum over AWS exchanges of (last response byte - first request byte), in nanoseconds.
    busy_ns: AtomicU64,
    exchanges: AtomicU64,
    assume_role: AtomicU64,
}

/// Per connection: when the time now running was last counted, and whether the upstream has
/// answered since the client last wrote (the next client write then opens a new exchange).
struct ConnClock {
    counted_until: Instant,
    answered: bool,
}

async fn relay(listen: SocketAddr, upstream: SocketAddr, control: SocketAddr, latency: Duration) -> Res<()> {
    let stats = Arc::new(RelayStats::default());
    let listener = TcpListener::bind(listen).await?;
    let control = TcpListener::bind(control).await?;
    let ctl_stats = Arc::clone(&stats);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = control.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let body = json!({
                "busy_ns": ctl_stats.busy_ns.load(Ordering::SeqCst),
                "exchanges": ctl_stats.exchanges.load(Ordering::SeqCst),
                "assume_role": ctl_stats.assume_role.load(Ordering::SeqCst),
            })
            .to_string();
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    loop {
        let (client, _) = listener.accept().await?;
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            if let Err(e) = relay_connection(client, upstream, stats, latency).await {
                eprintln!("relay: {e}");
            }
        });
    }
}

async fn relay_connection(
    client: TcpStream,
    upstream: SocketAddr,
    stats: Arc<RelayStats>,
    latency: Duration,
) -> Res<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let clock = Arc::new(Mutex::new(ConnClock {
        counted_until: Instant::now(),
        answered: true,
    }));
    let up = {
        let (clock, stats) = (Arc::clone(&clock), Arc::clone(&stats));
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = client_rx.read(&mut buf).await?;
                if n == 0 {
                    server_tx.shutdown().await?;
                    return Ok::<_, std::io::Error>(());
                }
                let starts_exchange = {
                    let mut c = lock(&clock);
                    let new_exchange = c.answered;
                    if new_exchange {
                        c.answered = false;
                        c.counted_until = Instant::now();
                        stats.exchanges.fetch_add(1, Ordering::SeqCst);
                    }
                    new_exchange
                };
                if starts_exchange && !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                if buf[..n].windows(17).any(|w| w == b"Action=AssumeRole") {
                    stats.assume_role.fetch_add(1, Ordering::SeqCst);
                }
                server_tx.write_all(&buf[..n]).await?;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_rx.read(&mut buf).await?;
            let now = Instant::now();
            if n == 0 {
                client_tx.shutdown().await?;
                return Ok::<_, std::io::Error>(());
            }
            {
                let mut c = lock(&clock);
                let waited = now.saturating_duration_since(c.counted_until);
                stats
                    .busy_ns
                    .fetch_add(u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX), Ordering::SeqCst);
                c.counted_until = now;
                c.answered = true;
            }
            client_tx.write_all(&buf[..n]).await?;
        }
    };
    tokio::try_join!(up, down)?;
    Ok(())
}

fn lock(c: &Mutex<ConnClock>) -> std::sync::MutexGuard<'_, ConnClock> {
    c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Credentials of AWS's sizes: a 20-character key id, a 40-character secret and a session token
/// of `token_len` characters, all distinct per call so nothing is shared in memory.
async fn fake_sts(listen: SocketAddr, token_len: usize) -> std::io::Result<()> {
    use actix_web::{App, HttpResponse, HttpServer, web};

    let counter = web::Data::new(AtomicU64::new(0));
    let token_len = web::Data::new(token_len);
    HttpServer::new(move || {
        App::new()
            .app_data(counter.clone())
            .app_data(token_len.clone())
            .default_service(web::to(
                |body: web::Bytes, counter: web::Data<AtomicU64>, token_len: web::Data<usize>| async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let duration = form_value(&body, "DurationSeconds")
                        .and_then(|d| d.parse::<i64>().ok())
                        .unwrap_or(3600);
                    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(duration);
                    let expires = expires
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default();
                    let filler = |len: usize, salt: &str| {
                        let seed = format!("{salt}{n:016X}");
                        seed.chars().cycle().take(len).collect::<String>()
                    };
                    let session = form_value(&body, "RoleSessionName").unwrap_or_else(|| "s".to_owned());
                    let xml = format!(
                        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><SourceIdentity>{session}</SourceIdentity><AssumedRoleUser><AssumedRoleId>AROAFAKEFAKEFAKEFAKE:{session}</AssumedRoleId><Arn>arn:aws:sts::000000000000:assumed-role/stsvend-vend/{session}</Arn></AssumedRoleUser><Credentials><AccessKeyId>ASIA{n:016X}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{expires}</Expiration></Credentials><PackedPolicySize>9</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>{n:032x}</RequestId></ResponseMetadata></AssumeRoleResponse>"#,
                        filler(40, "sk"),
                        filler(**token_len, "FwoGZXIvYXdzE")
                    );
                    HttpResponse::Ok().content_type("text/xml").body(xml)
                },
            ))
    })
    .workers(1)
    .bind(listen)?
    .run()
    .await
}

/// One field of an `application/x-www-form-urlencoded` body (the values read here are plain).
fn form_value(body: &[u8], key: &str) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((percentile(&v, 50.0) - 5.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 99.0) - 10.0).abs() < f64::EPSILON);
        assert!(
            (percentile(&v, 0.0) - 1.0).abs() < f64::EPSILON,
            "never below the first"
        );
        assert!(percentile(&[], 50.0).abs() < f64::EPSILON, "empty: 0");
    }
}
