//! `slugplan server`: the local platform served over HTTP as the Heroku Platform API v3.
//!
//! Any Heroku API client (slugplan's, the Heroku CLI's, heroku-go) can create slugs, upload
//! them, release, list releases, roll back, set config vars (each change a release), scale the
//! formation and promote against it, and manage apps, pipelines and stacks: the paths, status
//! codes, headers, `Range` pagination and resource objects follow the official schema. Every
//! route is one of the schema's links (`routes.rs`, over the link table `links.rs`); the
//! schema's other links answer `501 not_implemented` naming themselves, so a client learns it
//! reached this server's limit, not a mistake of its own. Slug archives
//! are `PUT` to a URL this server hands out and serves itself: unguessable (256 random bits),
//! expiring, and needing no credentials, like a pre-signed object-store URL.
//!
//! Authentication: with a token configured (`--token` or `SLUGPLAN_SERVER_TOKEN`), every API
//! request must carry it as `Authorization: Bearer <token>` or HTTP Basic with the token as the
//! password. Without a token the API is open, so the server then refuses to listen anywhere but
//! loopback.
//!
//! Fault injection (off by default) lets reliability tests make every Nth request answer `429`
//! or `503`, drop the connection mid-body, add latency, or expire blob URLs early.

mod account;
mod apps;
mod config_vars;
mod domains;
mod dynos;
mod error;
mod formation;
mod gate;
mod links;
mod list;
mod log_sessions;
mod pipelines;
pub(crate) mod range;
mod releases;
mod routes;
mod slugs;
mod stacks;
mod wire;

pub use error::ApiError;
pub use links::{Link, all as schema_links};
pub use routes::served as served_links;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::platform::local::LocalPlatform;

/// The API token clients must present. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// Injected faults; all off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answer `429 rate_limit` to every Nth request.
    pub every_429: Option<u64>,
    /// Answer `503` to every Nth request.
    pub every_5xx: Option<u64>,
    /// Send half the body of every Nth response, then drop the connection.
    pub drop_body_every: Option<u64>,
    /// Wait this long before answering each request.
    pub latency: Duration,
}

/// The default cap on a slug archive upload: Heroku's slug limit, 500 MB compressed (read as
/// 500 MiB, so that no slug Heroku takes is refused here).
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 500 << 20;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The token clients must present; None leaves the API open (loopback only).
    pub token: Option<Token>,
    /// How long a blob URL stays valid.
    pub blob_url_ttl: Duration,
    /// The most bytes a slug archive upload may have ([`DEFAULT_MAX_BLOB_BYTES`]); a
    /// `Content-Length` over it is refused with `413` before the body is read.
    pub max_blob_bytes: u64,
    /// Requests in the rate-limit bucket (Heroku: 4,500).
    pub rate_limit: u32,
    /// Requests added back to the bucket each minute (Heroku: about 75).
    pub rate_limit_refill: u32,
    /// Injected faults.
    pub faults: Faults,
    /// Append one JSON line per request (`{"method", "path", "status"}`, and `"query"` when the
    /// request had one) to this file, so tests can count what a client sent (e.g. "a second
    /// apply makes no write requests").
    pub request_log: Option<PathBuf>,
    /// Notified after each request that created, renamed or deleted an app or changed its
    /// maintenance flag, so the router follows at once (`Router::change_signal`).
    pub apps_changed: Option<Arc<tokio::sync::Notify>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            token: None,
            blob_url_ttl: Duration::from_secs(3600),
            max_blob_bytes: DEFAULT_MAX_BLOB_BYTES,
            rate_limit: 4500,
            rate_limit_refill: 75,
            faults: Faults::default(),
            request_log: None,
            apps_changed: None,
        }
    }
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServerError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    #[diagnostic(help("pick another port with --listen 127.0.0.1:PORT (port 0 picks a free one)"))]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An open API was asked to listen beyond loopback.
    #[error("refusing to serve the API without a token on {addr}, which is not a loopback address")]
    #[diagnostic(help("pass --token (or set SLUGPLAN_SERVER_TOKEN), or listen on 127.0.0.1"))]
    OpenBeyondLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// The request log could not be opened.
    #[error("cannot open the request log {}", path.display())]
    #[diagnostic(help("pass a writable path to --request-log"))]
    RequestLog {
        /// The log's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("the server on {addr} failed")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) platform: LocalPlatform,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) requests: Arc<AtomicU64>,
    pub(crate) bucket: Arc<Mutex<gate::Bucket>>,
    pub(crate) local_addr: SocketAddr,
    /// RFC 3339 start time, shown as the account's creation time.
    pub(crate) started_at: String,
    pub(crate) request_log: Option<Arc<Mutex<std::fs::File>>>,
    /// The log sessions handed out.
    pub(crate) log_sessions: Arc<Mutex<log_sessions::LogSessions>>,
    /// Turns true when the server shuts down, ending the streams that would never end.
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) to serve `platform`.
    pub async fn bind(
        addr: SocketAddr,
        platform: LocalPlatform,
        config: ServerConfig,
    ) -> Result<Server, ServerError> {
        if config.token.is_none() && !addr.ip().is_loopback() {
            return Err(ServerError::OpenBeyondLoopback { addr });
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let request_log = match &config.request_log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| ServerError::RequestLog {
                        path: path.clone(),
                        source,
                    })?;
                Some(Arc::new(Mutex::new(file)))
            }
            None => None,
        };
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let state = AppState {
            request_log,
            log_sessions: Arc::default(),
            stopping: stopping_rx,
            platform,
            bucket: Arc::new(Mutex::new(gate::Bucket::new(
                config.rate_limit,
                config.rate_limit_refill,
            ))),
            config: Arc::new(config),
            requests: Arc::new(AtomicU64::new(0)),
            local_addr,
            started_at: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        };
        Ok(Server {
            listener,
            router: router(state),
            addr: local_addr,
            stopping,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let addr = self.addr;
        let stopping = self.stopping;
        // Tailing log sessions end first, or the graceful shutdown would wait for them forever.
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(true);
        };
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ServerError::Serve { addr, source })
    }
}

fn router(state: AppState) -> Router {
    routes::router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .with_state(state)
}

/// This server's base URL as the client reached it (its `Host`), for the URLs it hands out.
pub(crate) fn base_url(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.local_addr.to_string(), str::to_owned);
    format!("http://{host}")
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Parses a JSON request body; an empty body is `{}`.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        // Not JSON at all is a bad request; JSON of the wrong shape is invalid params.
        serde_json::error::Category::Data => {
            ApiError::invalid_params(format!("invalid request body: {e}"))
        }
        _ => ApiError::bad_request(format!("request body is not JSON: {e}")),
    })
}
