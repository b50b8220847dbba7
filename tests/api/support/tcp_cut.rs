//! A TCP relay the tests can cut: between stsvend and `PostgreSQL`, to restart "the database"
//! (drop every connection, refuse new ones for a while) or cut one kind of connection, without
//! touching the `PostgreSQL` server the other tests share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct State {
    refusing: AtomicBool,
    open: Mutex<Vec<AbortHandle>>,
}

pub struct TcpCut {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: AbortHandle,
}

impl TcpCut {
    /// Relays 127.0.0.1:<free port> to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let s = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if s.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                s.open.lock().unwrap().push(relay.abort_handle());
            }
        })
        .abort_handle();
        Self { addr, state, accept }
    }

    /// Drops every relayed connection now.
    pub fn cut(&self) {
        for conn in self.state.open.lock().unwrap().drain(..) {
            conn.abort();
        }
    }

    /// While true, new connections are closed at once (a server that is down).
    pub fn refuse(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for TcpCut {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
