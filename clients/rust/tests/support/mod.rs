//! A stub stsvend: answers each request with the next scripted response and records what it
//! was asked (method, path, Authorization header, body).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    /// A vend whose keys expire `ttl` from now; `id` tells the key sets apart.
    pub fn vend(id: &str, ttl: Duration) -> Self {
        let expiration = (OffsetDateTime::now_utc() + ttl)
            .replace_nanosecond(0)
            .unwrap()
            .format(&Rfc3339)
            .unwrap();
        Self {
            status: 200,
            headers: vec![],
            body: serde_json::json!({
                "Version": 1, "AccessKeyId": id, "SecretAccessKey": format!("secret-of-{id}"),
                "SessionToken": format!("session-of-{id}"), "Expiration": expiration,
                "Bucket": "stsvend-stub", "Prefix": "users/u1/", "Region": "eu-west-1",
                "Access": "read-write", "Endpoint": "http://127.0.0.1:4566",
            })
            .to_string(),
        }
    }

    /// stsvend's error envelope, with `Retry-After` when given.
    pub fn error(status: u16, code: &str, retry_after: Option<u64>) -> Self {
        Self {
            status,
            headers: retry_after
                .map(|s| ("Retry-After", s.to_string()))
                .into_iter()
                .collect(),
            body: serde_json::json!({"error": {"code": code, "message": format!("stub says {code}")}}).to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub body: String,
}

pub struct Stub {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    /// Serves `replies` in order; a request beyond them gets a 500 `stub_exhausted`.
    pub async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut replies = replies.into_iter();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let Some(request) = read_request(&mut sock).await else {
                    continue;
                };
                log.lock().unwrap().push(request);
                let reply = replies
                    .next()
                    .unwrap_or_else(|| Reply::error(500, "stub_exhausted", None));
                let mut head = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    head.push_str(k);
                    head.push_str(": ");
                    head.push_str(v);
                    head.push_str("\r\n");
                }
                head.push_str("\r\n");
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(reply.body.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        Self { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        path,
        authorization: header("authorization").unwrap_or_default(),
        body: String::from_utf8_lossy(&buf[head_end..]).into_owned(),
    })
}
