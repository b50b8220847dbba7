//! A TCP proxy between stsvend and `MiniStack` that injects faults: it can go down (refusing new
//! connections and cutting open ones, as a stopped `MiniStack` would) and can hold the first
//! request whose request line starts with a given prefix, so a test can kill stsvend at that
//! exact point of its work.

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
    release: tokio::sync::Notify,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl FaultProxy {
    /// Proxies to the `MiniStack` that `STSVEND_AWS__ENDPOINT_URL` names.
    pub async fn start() -> Self {
        let endpoint = crate::helpers::required_env("STSVEND_AWS__ENDPOINT_URL");
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

    /// Lets held requests through.
    pub fn release(&self) {
        self.state.release.notify_waiters();
    }

    /// Holds the next request whose first line starts with `prefix` until [`Self::release`];
    /// the receiver fires when it arrives.
    pub fn hold_request(&self, prefix: &str) -> oneshot::Receiver<()> {
        self.hold_request_line(prefix, "")
    }

    /// Like [`Self::hold_request`], for a request whose first line starts with `prefix` and
    /// also contains `part` (bucket names are random: match the operation, not the name).
    pub fn hold_request_line(&self, prefix: &str, part: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.state.hold.lock().unwrap() = Some(Hold {
            prefix: prefix.to_owned(),
            part: part.to_owned(),
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

/// The request to hold, and whom to tell when it arrives.
struct Hold {
    prefix: String,
    part: String,
    tx: oneshot::Sender<()>,
}

impl Hold {
    fn matches(&self, data: &[u8]) -> bool {
        let line = data.split(|b| *b == b'\n').next().unwrap_or_default();
        let part = self.part.as_bytes();
        data.starts_with(self.prefix.as_bytes()) && (part.is_empty() || line.windows(part.len()).any(|w| w == part))
    }
}

async fn pump(state: Arc<State>, mut client: TcpStream) {
    let Ok(mut server) = TcpStream::connect(state.upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let upstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let held = {
                let mut hold = state.hold.lock().unwrap();
                let hit = hold.as_ref().is_some_and(|h| h.matches(&buf[..n]));
                if hit { hold.take() } else { None }
            };
            if let Some(Hold { tx, .. }) = held {
                let released = state.release.notified();
                let _ = tx.send(());
                released.await;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = tokio::io::copy(&mut sr, &mut cw);
    tokio::select! {
        () = upstream => {}
        _ = downstream => {}
    }
}
