//! The router: what answers on each app's `web_url` and forwards to the app's web dynos, as
//! Heroku's router does.
//!
//! Every app of the local platform has its own port on 127.0.0.1 (`platform/local/web_port.rs`
//! says why a port per app rather than a `Host` per app); the router listens on each and
//! forwards every request to one of the app's up web dynos, round robin, adding the headers
//! Heroku's router adds (`headers.rs`), or answers itself with Heroku's page and error code
//! (`pages.rs`) when the app is in maintenance, has no web dyno up, or its web dynos crashed.
//! Each request gets one line in the app's log in Heroku's router format (`log_line.rs`).
//! One request's way through is `proxy.rs`; the connections to the dynos are `upstream.rs`.
//!
//! Guarantees:
//! - The router follows the platform's apps: it reads them when it starts, again every
//!   [`RouterConfig::refresh_interval`] (another process, such as `slugplan apply`, may have
//!   created, renamed or deleted one, or set its maintenance flag), and at once after
//!   [`Router::changed`]. A new app is listened for, a deleted one is not any more.
//! - An app's port that another process holds is moved to a free one (the app's `web_url`
//!   changes with it, and the router warns); an app whose port cannot be bound at all is
//!   reported and tried again at the next refresh, the other apps are served regardless.
//! - Which dynos are up is asked per request ([`WebDynos`]), so a release switch or a scale is
//!   seen by the next request without the router being told.
//! - Dropping the [`Router`] stops it: it stops listening, and connections still open finish
//!   the request they are in and close.

mod body;
mod headers;
mod log_line;
mod pages;
mod proxy;
mod table;
mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::dynos::{AppLogs, WebDynos};
use crate::platform::PlatformError;
use crate::platform::local::{AppRoute, LocalPlatform, web_addr};
use proxy::Proxy;
use table::{AppEntry, Current};
use upstream::Pool;

/// How long the router waits, and how often it looks at the platform. The defaults are
/// Heroku's router's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    /// A connection to a dyno must be made within this (`H19`; Heroku: 5 s).
    pub connect_timeout: Duration,
    /// A dyno must start its response within this (`H12`; Heroku: 30 s).
    pub response_timeout: Duration,
    /// A response may pause this long between two pieces of its body (`H15`; Heroku: 55 s).
    pub idle_timeout: Duration,
    /// A request to an app whose web dynos are booting waits this long for one (`H20`;
    /// Heroku: 75 s).
    pub boot_timeout: Duration,
    /// How often the router reads the platform's apps (see the module docs).
    pub refresh_interval: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(55),
            boot_timeout: Duration::from_secs(75),
            refresh_interval: Duration::from_millis(500),
        }
    }
}

/// Errors of the router.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RouterError {
    /// The platform's apps could not be read.
    #[error("the router cannot read the apps of the local platform in {}", dir.display())]
    Apps {
        /// The data directory.
        dir: std::path::PathBuf,
        /// The cause.
        #[source]
        source: Box<PlatformError>,
    },
}

/// A running router. Dropping it stops it (see the module docs).
pub struct Router {
    inner: Arc<Inner>,
    refresher: JoinHandle<()>,
}

struct Inner {
    platform: LocalPlatform,
    proxy: Arc<Proxy>,
    /// The apps listened for, by id.
    listening: tokio::sync::Mutex<HashMap<String, Listening>>,
    changed: Arc<Notify>,
    stop: CancellationToken,
}

/// One app's port being listened on.
struct Listening {
    entry: Arc<AppEntry>,
    accept: JoinHandle<()>,
}

impl Router {
    /// Starts the router for `platform`'s apps: listens on each app's port now, asks `dynos`
    /// where each request goes, and appends each request's line to `logs`. Must be called
    /// inside a tokio runtime, which runs the router until it is dropped.
    pub async fn start(
        platform: LocalPlatform,
        dynos: Arc<dyn WebDynos>,
        logs: AppLogs,
        config: RouterConfig,
    ) -> Result<Router, RouterError> {
        Self::start_with(platform, dynos, logs, config, Arc::default()).await
    }

    /// Like [`Router::start`], refreshing also whenever `changed` is notified (by the API
    /// server, which says when apps change).
    pub async fn start_with(
        platform: LocalPlatform,
        dynos: Arc<dyn WebDynos>,
        logs: AppLogs,
        config: RouterConfig,
        changed: Arc<Notify>,
    ) -> Result<Router, RouterError> {
        let interval = config.refresh_interval;
        let inner = Arc::new(Inner {
            platform,
            proxy: Arc::new(Proxy {
                dynos,
                logs,
                config,
                pool: Pool::default(),
            }),
            listening: tokio::sync::Mutex::default(),
            changed,
            stop: CancellationToken::new(),
        });
        inner.refresh().await?;
        let weak = Arc::downgrade(&inner);
        let refresher = tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = inner.changed.notified() => {}
                    () = inner.stop.cancelled() => return,
                }
                if let Err(error) = inner.refresh().await {
                    tracing::warn!(error = %crate::error_chain::one_line(&error), "the router could not refresh its apps");
                }
            }
        });
        Ok(Router { inner, refresher })
    }

    /// Says the platform's apps changed (created, renamed, deleted, maintenance set), so the
    /// router reads them now rather than at its next refresh.
    pub fn changed(&self) {
        self.inner.changed.notify_one();
    }

    /// Reads the platform's apps now and listens accordingly; returns once it does.
    pub async fn refresh(&self) -> Result<(), RouterError> {
        self.inner.refresh().await
    }

    /// Where the router listens for each app, by app name.
    pub async fn addrs(&self) -> HashMap<String, SocketAddr> {
        let listening = self.inner.listening.lock().await;
        listening
            .values()
            .filter_map(|l| Some((l.entry.current()?.name, web_addr(l.entry.port))))
            .collect()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.inner.stop.cancel();
        self.refresher.abort();
        if let Ok(listening) = self.inner.listening.try_lock() {
            for l in listening.values() {
                l.accept.abort();
            }
        }
    }
}

impl Inner {
    async fn refresh(&self) -> Result<(), RouterError> {
        let routes = self
            .platform
            .blocking(|s| s.app_routes())
            .await
            .map_err(|source| RouterError::Apps {
                dir: self.platform.dir().to_owned(),
                source: Box::new(source),
            })?;
        let mut listening = self.listening.lock().await;
        if self.stop.is_cancelled() {
            return Ok(());
        }
        let mut gone: Vec<String> = listening.keys().cloned().collect();
        for route in routes {
            gone.retain(|id| *id != route.id);
            let current = Current {
                name: route.name.clone(),
                maintenance: route.maintenance,
            };
            match listening.get(&route.id) {
                Some(l) if l.entry.port == route.port => l.entry.set(Some(current)),
                _ => {
                    if let Some(old) = listening.remove(&route.id) {
                        old.stop();
                    }
                    if let Some(l) = self.listen(&route, current).await {
                        listening.insert(route.id.clone(), l);
                    }
                }
            }
        }
        for id in gone {
            if let Some(old) = listening.remove(&id) {
                old.stop();
            }
        }
        Ok(())
    }

    /// Listens on `route`'s port, moving the app to another port when something else holds
    /// its own; `None` (reported) when it cannot listen at all.
    async fn listen(&self, route: &AppRoute, current: Current) -> Option<Listening> {
        let mut port = route.port;
        let listener = loop {
            match TcpListener::bind(web_addr(port)).await {
                Ok(listener) => break listener,
                Err(error)
                    if error.kind() == std::io::ErrorKind::AddrInUse && port == route.port =>
                {
                    let (id, taken) = (route.id.clone(), port);
                    match self
                        .platform
                        .blocking(move |s| s.move_web_port(&id, taken))
                        .await
                    {
                        Ok(moved) => {
                            tracing::warn!(
                                app = %route.name,
                                "port {taken} is held by another process: the app's web_url is now {}",
                                crate::platform::local::web_url(moved)
                            );
                            port = moved;
                        }
                        Err(error) => {
                            tracing::warn!(app = %route.name, error = %crate::error_chain::one_line(&error), "cannot move the app's web port");
                            return None;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(app = %route.name, addr = %web_addr(port), %error, "the router cannot listen for the app");
                    return None;
                }
            }
        };
        let entry = Arc::new(AppEntry::new(port, current));
        let accept = tokio::spawn(accept(
            listener,
            Arc::clone(&entry),
            Arc::clone(&self.proxy),
            self.stop.clone(),
        ));
        Some(Listening { entry, accept })
    }
}

impl Listening {
    fn stop(self) {
        self.accept.abort();
        self.entry.set(None);
    }
}

/// Serves the connections `listener` accepts until `stop`.
async fn accept(
    listener: TcpListener,
    entry: Arc<AppEntry>,
    proxy: Arc<Proxy>,
    stop: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(port = entry.port, %error, "the router cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let (entry, proxy, stop) = (Arc::clone(&entry), Arc::clone(&proxy), stop.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                proxy::handle(request, peer, Arc::clone(&entry), Arc::clone(&proxy))
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "a client connection ended");
            }
        });
    }
}
