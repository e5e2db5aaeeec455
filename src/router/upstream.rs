//! The router's connections to the dynos: HTTP/1.1, kept alive and reused.
//!
//! The router holds its own pool rather than a general client's so it can time each connect
//! (the log's `connect=`) and tell a request a closing connection never sent (which it sends
//! again, elsewhere) from one the dyno received. A connection is reused only while it is
//! recent ([`MAX_IDLE`]): web servers close idle keep-alive connections after a few seconds
//! (Node after 5), and a request written just as the dyno closes its end is lost.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request body toward a dyno: the client's, streamed, or none (a request sent again).
pub type UpstreamBody = Either<Incoming, Empty<Bytes>>;

/// How long an idle connection may wait to be reused.
pub const MAX_IDLE: Duration = Duration::from_secs(2);

/// Idle connections kept per dyno.
const MAX_IDLE_PER_DYNO: usize = 32;

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The connect did not finish in time.
    #[error("no connection to {addr} within {timeout:?}")]
    Timeout {
        /// The dyno's address.
        addr: SocketAddr,
        /// The bound.
        timeout: Duration,
    },
    /// The connect or the HTTP handshake failed.
    #[error("cannot connect to {addr}")]
    Failed {
        /// The dyno's address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A connection to one dyno, ready to send a request.
pub struct Connection {
    /// Where it goes.
    pub addr: SocketAddr,
    /// The sender half.
    pub sender: SendRequest<UpstreamBody>,
    /// Whether it was made for this request (false: reused from the pool).
    pub fresh: bool,
}

/// An idle connection and when it went idle.
type Idle = (SendRequest<UpstreamBody>, Instant);

/// Idle connections by dyno address. Cheap to clone.
#[derive(Clone, Default)]
pub struct Pool {
    idle: Arc<Mutex<HashMap<SocketAddr, Vec<Idle>>>>,
}

impl Pool {
    /// A recent idle connection to `addr`, or a new one made within `timeout`.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Connection, ConnectError> {
        if let Some(sender) = self.take_idle(addr) {
            return Ok(Connection {
                addr,
                sender,
                fresh: false,
            });
        }
        let connecting = async {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = http1::Builder::new()
                .handshake::<_, UpstreamBody>(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            // The connection's I/O runs on its own task until either side closes it; upgrades
            // (WebSocket) hand the socket over to the relay.
            tokio::spawn(async move {
                if let Err(error) = connection.with_upgrades().await {
                    tracing::debug!(%addr, %error, "connection to a dyno ended");
                }
            });
            Ok::<_, std::io::Error>(sender)
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok(sender)) => Ok(Connection {
                addr,
                sender,
                fresh: true,
            }),
            Ok(Err(source)) => Err(ConnectError::Failed {
                addr,
                source: Box::new(source),
            }),
            Err(_) => Err(ConnectError::Timeout { addr, timeout }),
        }
    }

    /// Gives a connection whose response was read to the end back to the pool, once the
    /// connection says it can take another request.
    pub fn give_back(&self, mut connection: Connection) {
        let pool = self.clone();
        tokio::spawn(async move {
            let ready = tokio::time::timeout(MAX_IDLE, connection.sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                let mut idle = crate::sync::lock(&pool.idle);
                let list = idle.entry(connection.addr).or_default();
                if list.len() < MAX_IDLE_PER_DYNO {
                    list.push((connection.sender, Instant::now()));
                }
            }
        });
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<SendRequest<UpstreamBody>> {
        let mut idle = crate::sync::lock(&self.idle);
        let list = idle.get_mut(&addr)?;
        let found = loop {
            match list.pop() {
                Some((sender, since)) if since.elapsed() < MAX_IDLE && sender.is_ready() => {
                    break Some(sender);
                }
                Some(_) => {}
                None => break None,
            }
        };
        // Drop the others that went stale meanwhile, and the dyno's entry with the last one.
        list.retain(|(sender, since)| since.elapsed() < MAX_IDLE && !sender.is_closed());
        if list.is_empty() {
            idle.remove(&addr);
        }
        found
    }
}
