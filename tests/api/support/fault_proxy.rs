//! A TCP proxy between stsvend and `MiniStack` that injects faults: it can go down (refusing new
//! connections and cutting open ones, as a stopped `MiniStack` would), can hold the first
//! request whose request line starts with a given prefix, so a test can kill stsvend at that
//! exact point of its work, and can answer chosen requests itself with an AWS error `MiniStack`
//! never gives (`TooManyBuckets`, `SlowDown`, ...).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct FaultProxy {
    pub url: String,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

struct State {
    up: AtomicBool,
    upstream: SocketAddr,
    hold: Mutex<Option<Hold>>,
    answers: Mutex<Vec<Answer>>,
    /// Latency added to matching requests.
    latencies: Mutex<Vec<(Line, std::time::Duration)>>,
    /// Seconds added to the `Date` of every response: an AWS whose clock differs from ours.
    date_shift: std::sync::atomic::AtomicI64,
    /// How long a `PutBucketPolicy` takes to apply: answered at once, passed on this late.
    policy_delay: Mutex<std::time::Duration>,
    release: tokio::sync::Notify,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl FaultProxy {
    /// Proxies to the `MiniStack` that `STSVEND_AWS__ENDPOINT_URL` names.
    pub async fn start() -> Self {
        let endpoint = crate::support::required_env("STSVEND_AWS__ENDPOINT_URL");
        let upstream: SocketAddr = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            up: AtomicBool::new(true),
            upstream,
            hold: Mutex::new(None),
            answers: Mutex::new(Vec::new()),
            latencies: Mutex::new(Vec::new()),
            date_shift: std::sync::atomic::AtomicI64::new(0),
            policy_delay: Mutex::new(std::time::Duration::ZERO),
            release: tokio::sync::Notify::new(),
            connections: Mutex::new(Vec::new()),
        });
        let st = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !st.up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(pump(Arc::clone(&st), client));
                st.connections.lock().unwrap().push(task);
            }
        });
        Self { url, state, accept }
    }

    /// Refuses new connections and cuts every open one.
    pub fn down(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        for task in self.state.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn up(&self) {
        self.state.up.store(true, Ordering::SeqCst);
    }

    /// Moves the `Date` header of every response `seconds` away from `MiniStack`'s clock, as an
    /// AWS whose clock is ahead of (positive) or behind stsvend's would send it.
    pub fn shift_date(&self, seconds: i64) {
        self.state.date_shift.store(seconds, Ordering::SeqCst);
    }

    /// Makes every `PutBucketPolicy` take `delay` to apply, as AWS's eventually consistent
    /// policies do: the call is answered at once and the new policy reaches `MiniStack` only
    /// after `delay` (the old one holds meanwhile).
    pub fn delay_bucket_policy(&self, delay: std::time::Duration) {
        *self.state.policy_delay.lock().unwrap() = delay;
    }

    /// Lets held requests through.
    pub fn release(&self) {
        self.state.release.notify_waiters();
    }

    /// Answers the next `times` requests whose first line starts with `prefix` and contains
    /// `part` with an S3-style XML error (`status`, `code`) instead of forwarding them, and
    /// closes each such connection (the request's body is never read).
    pub fn answer_with_error(&self, prefix: &str, part: &str, times: u32, status: u16, code: &str) {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the fault proxy</Message><RequestId>faultproxy</RequestId></Error>"
        );
        self.answer(prefix, part, times, status, &body);
    }

    /// Answers the next `times` STS calls (`POST /`, `AssumeRole` among them) with an STS-style
    /// error (`Throttling`, "Rate exceeded", ...).
    pub fn answer_sts_with_error(&self, times: u32, status: u16, code: &str) {
        self.answer_sts_with_message(times, status, code, "Rate exceeded");
    }

    /// As [`Self::answer_sts_with_error`], with AWS's `message`.
    pub fn answer_sts_with_message(&self, times: u32, status: u16, code: &str, message: &str) {
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>"
        );
        self.answer("POST / ", "", times, status, &body);
    }

    /// Answers the next `times` `DeleteObjects` calls on `bucket` (`POST /<bucket>?delete`) as
    /// S3 does when it refuses some keys (an SCP, a bucket policy, object lock): 200 with a
    /// `DeleteResult` naming each of `keys` with the error `code`. Nothing is deleted.
    pub fn refuse_deleting_objects(&self, bucket: &str, keys: &[&str], times: u32, code: &str) {
        let errors: Vec<String> = keys
            .iter()
            .map(|k| format!("<Error><Key>{k}</Key><Code>{code}</Code><Message>Access Denied</Message></Error>"))
            .collect();
        let errors = errors.concat();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{errors}</DeleteResult>"
        );
        self.answer(&format!("POST /{bucket}"), "?delete", times, 200, &body);
        // The request has a body (the keys): read it whole before answering, as S3 does.
        if let Some(last) = self.state.answers.lock().unwrap().last_mut() {
            last.read_body = true;
        }
    }

    /// Forgets every canned answer not yet given.
    pub fn stop_answering(&self) {
        self.state.answers.lock().unwrap().clear();
    }

    fn answer(&self, prefix: &str, part: &str, times: u32, status: u16, body: &str) {
        let response = format!(
            "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nx-amz-request-id: faultproxy\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        self.state.answers.lock().unwrap().push(Answer {
            line: Line {
                prefix: prefix.to_owned(),
                part: part.to_owned(),
            },
            remaining: times,
            until: None,
            read_body: false,
            response: response.into_bytes(),
        });
    }

    /// Like [`Self::answer_with_error`], for every matching request during `window` from now
    /// (a throttling episode rather than a count).
    pub fn answer_with_error_for(
        &self,
        prefix: &str,
        part: &str,
        window: std::time::Duration,
        status: u16,
        code: &str,
    ) {
        self.answer_with_error(prefix, part, u32::MAX, status, code);
        if let Some(last) = self.state.answers.lock().unwrap().last_mut() {
            last.until = Some(std::time::Instant::now() + window);
        }
    }

    /// Whether a rule set by `answer_with_error*` may still answer a request (its count not
    /// used up, its window not over).
    pub fn answering(&self) -> bool {
        let now = std::time::Instant::now();
        self.state
            .answers
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.remaining > 0 && a.until.is_none_or(|u| now < u))
    }

    /// Adds `latency` before each request whose first line starts with `prefix` and contains
    /// `part` reaches `MiniStack` (AWS answers in tens of milliseconds, `MiniStack` in one);
    /// replaces an earlier latency for the same requests (zero removes it).
    pub fn add_latency(&self, prefix: &str, part: &str, latency: std::time::Duration) {
        let mut latencies = self.state.latencies.lock().unwrap();
        latencies.retain(|(line, _)| !(line.prefix == prefix && line.part == part));
        if latency.is_zero() {
            return;
        }
        latencies.push((
            Line {
                prefix: prefix.to_owned(),
                part: part.to_owned(),
            },
            latency,
        ));
    }

    /// Holds the next request whose first line starts with `prefix` until [`Self::release`];
    /// the receiver fires when it arrives.
    pub fn hold_request(&self, prefix: &str) -> oneshot::Receiver<()> {
        self.hold_request_line(prefix, "")
    }

    /// Like [`Self::hold_request`], for a request whose first line starts with `prefix` and
    /// also contains `part` (bucket names are random: match the operation, not the name).
    pub fn hold_request_line(&self, prefix: &str, part: &str) -> oneshot::Receiver<()> {
        self.hold(prefix, part, When::Request)
    }

    /// Lets the next request whose first line starts with `prefix` and contains `part` reach
    /// AWS, and holds AWS's answer to it until [`Self::release`]: the receiver fires when the
    /// answer arrives, that is once AWS has done the work and before stsvend has heard of it.
    pub fn hold_response_to(&self, prefix: &str, part: &str) -> oneshot::Receiver<()> {
        self.hold(prefix, part, When::Response)
    }

    fn hold(&self, prefix: &str, part: &str, when: When) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.state.hold.lock().unwrap() = Some(Hold {
            line: Line {
                prefix: prefix.to_owned(),
                part: part.to_owned(),
            },
            when,
            tx,
        });
        rx
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.down();
    }
}

/// Which requests a rule applies to: the request line starts with `prefix` and contains `part`.
struct Line {
    prefix: String,
    part: String,
}

impl Line {
    fn matches(&self, data: &[u8]) -> bool {
        let line = data.split(|b| *b == b'\n').next().unwrap_or_default();
        let part = self.part.as_bytes();
        data.starts_with(self.prefix.as_bytes()) && (part.is_empty() || line.windows(part.len()).any(|w| w == part))
    }
}

/// The request to hold (or whose answer to hold), and whom to tell when it arrives.
struct Hold {
    line: Line,
    when: When,
    tx: oneshot::Sender<()>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    /// Before the request reaches AWS.
    Request,
    /// After AWS answered it, before the answer reaches stsvend.
    Response,
}

/// Requests to answer with a canned response, and how many more times.
struct Answer {
    line: Line,
    remaining: u32,
    /// Answers only until then (`None`: until `remaining` runs out).
    until: Option<std::time::Instant>,
    /// Reads the whole request (its `Content-Length` of body) before answering.
    read_body: bool,
    response: Vec<u8>,
}

impl State {
    /// The canned response for this request, if a rule with uses left matches it, and whether
    /// to read the request's body first.
    fn answer_for(&self, data: &[u8]) -> Option<(Vec<u8>, bool)> {
        let mut answers = self.answers.lock().unwrap();
        let now = std::time::Instant::now();
        let rule = answers
            .iter_mut()
            .find(|a| a.remaining > 0 && a.until.is_none_or(|u| now < u) && a.line.matches(data))?;
        rule.remaining -= 1;
        Some((rule.response.clone(), rule.read_body))
    }
}

async fn pump(state: Arc<State>, mut client: TcpStream) {
    let Ok(mut server) = TcpStream::connect(state.upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    // Set by the upstream half when the request whose answer is to be held went through.
    let hold_answer: Mutex<Option<oneshot::Sender<()>>> = Mutex::new(None);
    // Scoped, so `cw` is free again for a canned answer once both directions stop.
    let answer = {
        let upstream = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => n,
                };
                if let Some((response, read_body)) = state.answer_for(&buf[..n]) {
                    let mut request = buf[..n].to_vec();
                    while read_body && !whole_request(&request) {
                        match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return None,
                            Ok(m) => request.extend_from_slice(&buf[..m]),
                        }
                    }
                    return Some(response);
                }
                let latency = state
                    .latencies
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(line, _)| line.matches(&buf[..n]))
                    .map(|(_, d)| *d)
                    .max();
                if let Some(latency) = latency {
                    tokio::time::sleep(latency).await;
                }
                let delay = *state.policy_delay.lock().unwrap();
                let policy = Line {
                    prefix: "PUT /".to_owned(),
                    part: "?policy".to_owned(),
                };
                if !delay.is_zero() && policy.matches(&buf[..n]) {
                    let mut request = buf[..n].to_vec();
                    while !whole_request(&request) {
                        match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return None,
                            Ok(m) => request.extend_from_slice(&buf[..m]),
                        }
                    }
                    let upstream = state.upstream;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        if let Ok(mut s) = TcpStream::connect(upstream).await {
                            let _ = s.write_all(&request).await;
                            let mut answer = vec![0u8; 4096];
                            let _ = s.read(&mut answer).await;
                        }
                    });
                    return Some(
                        b"HTTP/1.1 204 No Content\r\nx-amz-request-id: faultproxy\r\nConnection: close\r\n\r\n"
                            .to_vec(),
                    );
                }
                let held = {
                    let mut hold = state.hold.lock().unwrap();
                    let hit = hold.as_ref().is_some_and(|h| h.line.matches(&buf[..n]));
                    if hit { hold.take() } else { None }
                };
                match held {
                    Some(Hold {
                        tx,
                        when: When::Request,
                        ..
                    }) => {
                        let released = state.release.notified();
                        let _ = tx.send(());
                        released.await;
                    }
                    Some(Hold {
                        tx,
                        when: When::Response,
                        ..
                    }) => *hold_answer.lock().unwrap() = Some(tx),
                    None => {}
                }
                if sw.write_all(&buf[..n]).await.is_err() {
                    return None;
                }
            }
        };
        let downstream = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match sr.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let held = hold_answer.lock().unwrap().take();
                if let Some(tx) = held {
                    let released = state.release.notified();
                    let _ = tx.send(());
                    released.await;
                }
                let shift = state.date_shift.load(Ordering::SeqCst);
                let chunk = if shift == 0 {
                    buf[..n].to_vec()
                } else {
                    shift_date_header(&buf[..n], shift)
                };
                if cw.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            answer = upstream => answer,
            () = downstream => None,
        }
    };
    if let Some(response) = answer {
        let _ = cw.write_all(&response).await;
        let _ = cw.shutdown().await;
    }
}

/// `chunk` with the `Date` header of the response head it starts with moved by `shift` seconds
/// (other chunks unchanged; the header's length does not change).
fn shift_date_header(chunk: &[u8], shift: i64) -> Vec<u8> {
    let Some(head_end) = chunk.windows(4).position(|w| w == b"\r\n\r\n") else {
        return chunk.to_vec();
    };
    if !chunk.starts_with(b"HTTP/1.") {
        return chunk.to_vec();
    }
    let head = String::from_utf8_lossy(&chunk[..head_end]);
    let lines: Vec<String> = head
        .split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("date") => {
                let at = httpdate::parse_http_date(value.trim()).unwrap();
                let moved = if shift >= 0 {
                    at + std::time::Duration::from_secs(shift.unsigned_abs())
                } else {
                    at - std::time::Duration::from_secs(shift.unsigned_abs())
                };
                format!("{name}: {}", httpdate::fmt_http_date(moved))
            }
            _ => line.to_owned(),
        })
        .collect();
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(&chunk[head_end..]);
    out
}

/// True when `request` holds a whole HTTP request: its head and `Content-Length` bytes of body.
fn whole_request(request: &[u8]) -> bool {
    let Some(head_end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&request[..head_end]);
    let length: usize = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    request.len() >= head_end + 4 + length
}
