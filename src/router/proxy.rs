//! One request through the router: refuse it as Heroku would (maintenance, no web dyno up,
//! crashed, still booting), or forward it to one of the app's up web dynos, round robin, and
//! relay the answer.
//!
//! Guarantees:
//! - A request reaches at most one dyno, except one a dyno never received: a connect that
//!   fails, or a connection closing before the request was written, moves the request to the
//!   next dyno; a bodiless `GET`, `HEAD` or `OPTIONS` is also sent again when its connection
//!   broke before any answer (a dyno stopped as a release switched). After a first pass over
//!   the dynos, the router asks once more which dynos are up, so a request that raced a
//!   release switch reaches the new dynos.
//! - Every wait is bounded: the connect ([`RouterConfig::connect_timeout`], `H19`), the
//!   response's headers ([`RouterConfig::response_timeout`], `H12`), each gap in the response's
//!   body ([`RouterConfig::idle_timeout`], `H15`), and a request waiting for booting dynos
//!   ([`RouterConfig::boot_timeout`], `H20`).
//! - Bodies stream both ways, never buffered whole; a WebSocket (or any `Upgrade`) is relayed
//!   as bytes once the dyno switches protocols.
//! - Every request the app is asked about gets one log line in the app's log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{Either, Empty};
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::RouterConfig;
use super::body::{OnEnd, Relay, RouterBody};
use super::headers::{self, Forwarded};
use super::log_line::{Outcome, RequestLine};
use super::pages::{self, Failure};
use super::table::AppEntry;
use super::upstream::{Connection, Pool, UpstreamBody};
use crate::dynos::{AppLogs, WebDyno, WebDynos, WebState};

/// What every request of the router shares.
pub(crate) struct Proxy {
    pub(crate) dynos: Arc<dyn WebDynos>,
    pub(crate) logs: AppLogs,
    pub(crate) config: RouterConfig,
    pub(crate) pool: Pool,
}

/// How often a request waiting for booting dynos looks again.
const BOOT_POLL: Duration = Duration::from_millis(50);

/// Answers `request`, which `peer` sent to `app`'s port.
pub(crate) async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    app: Arc<AppEntry>,
    proxy: Arc<Proxy>,
) -> Result<Response<RouterBody>, Infallible> {
    let received = Instant::now();
    let request_start = jiff::Timestamp::now().as_millisecond();
    let Some(current) = app.current() else {
        return Ok(page(StatusCode::NOT_FOUND, pages::no_such_app()));
    };
    let request_headers = request.headers();
    let line = RequestLine {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        host: request_headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        request_id: headers::request_id(request_headers),
        fwd: headers::forwarded_for(request_headers, peer.ip()),
    };
    let exchange = Exchange {
        proxy,
        app: current.name,
        line,
    };
    if current.maintenance {
        return Ok(exchange.refuse(Failure::Maintenance, Outcome::default()));
    }
    match up_dynos(&exchange, received).await {
        Ok(dynos) => Ok(forward(request, exchange, dynos, &app, request_start).await),
        Err(failure) => Ok(exchange.refuse(failure, Outcome::default())),
    }
}

/// One request, from its arrival to its log line.
struct Exchange {
    proxy: Arc<Proxy>,
    app: String,
    line: RequestLine,
}

impl Exchange {
    fn config(&self) -> &RouterConfig {
        &self.proxy.config
    }

    fn log(&self, failure: Option<Failure>, outcome: &Outcome) {
        let text = self.line.render(failure, outcome);
        tracing::debug!(app = %self.app, "{text}");
        self.proxy.logs.append(&self.app, "router", "router", &text);
    }

    /// The router's own answer: `failure`'s page, logged.
    fn refuse(self, failure: Failure, mut outcome: Outcome) -> Response<RouterBody> {
        outcome.status = failure.status().as_u16();
        self.log(Some(failure), &outcome);
        page(failure.status(), failure.page())
    }
}

/// A page of the router's with `status`.
fn page(status: StatusCode, body: bytes::Bytes) -> Response<RouterBody> {
    let mut response = Response::new(RouterBody::page(body));
    *response.status_mut() = status;
    pages::headers(response.headers_mut());
    response
}

/// The app's up web dynos, waiting (bounded) while they boot.
async fn up_dynos(exchange: &Exchange, received: Instant) -> Result<Vec<WebDyno>, Failure> {
    loop {
        match exchange.proxy.dynos.web_state(&exchange.app) {
            Some(WebState::Up(dynos)) if !dynos.is_empty() => return Ok(dynos),
            Some(WebState::Crashed) => return Err(Failure::Crashed),
            Some(WebState::Starting) if received.elapsed() < exchange.config().boot_timeout => {
                tokio::time::sleep(BOOT_POLL).await;
            }
            Some(WebState::Starting) => return Err(Failure::BootTimeout),
            Some(WebState::Up(_) | WebState::NoWebDynos) | None => {
                return Err(Failure::NoWebProcesses);
            }
        }
    }
}

/// Sends the request to a dyno and relays its answer (see the module docs for which dynos are
/// tried, and when a request is sent again).
async fn forward(
    mut request: Request<Incoming>,
    exchange: Exchange,
    mut dynos: Vec<WebDyno>,
    app: &AppEntry,
    request_start: i64,
) -> Response<RouterBody> {
    let upgrade = headers::is_upgrade(request.headers());
    let client_side = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let mut upstream_headers = parts.headers;
    headers::strip_hop_by_hop(&mut upstream_headers, upgrade);
    headers::add_forwarded(
        &mut upstream_headers,
        &Forwarded {
            forwarded_for: &exchange.line.fwd,
            port: app.port,
            request_start,
            request_id: &exchange.line.request_id,
        },
    );
    if !upstream_headers.contains_key(header::HOST)
        && let Ok(host) =
            HeaderValue::from_str(&crate::platform::local::web_addr(app.port).to_string())
    {
        upstream_headers.insert(header::HOST, host);
    }
    // Origin form: a client may send the absolute form, as to a proxy.
    let uri = parts
        .uri
        .path_and_query()
        .and_then(|p| p.as_str().parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    let replayable = body.is_end_stream()
        && matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let build = |body: UpstreamBody| {
        let mut upstream = Request::new(body);
        *upstream.method_mut() = parts.method.clone();
        *upstream.uri_mut() = uri.clone();
        *upstream.version_mut() = Version::HTTP_11;
        *upstream.headers_mut() = upstream_headers.clone();
        upstream
    };

    let config = exchange.config().clone();
    let mut body: Option<UpstreamBody> = Some(Either::Left(body));
    let mut failure = Failure::ConnectTimeout;
    let mut reached: Option<(String, Duration)> = None;
    'rounds: for round in 0..2 {
        if round == 1 {
            match exchange.proxy.dynos.web_state(&exchange.app) {
                Some(WebState::Up(now)) if !now.is_empty() && now != dynos => dynos = now,
                _ => break,
            }
        }
        let first = app.next_dyno();
        for i in 0..dynos.len() {
            let dyno = &dynos[(first + i) % dynos.len()];
            let Some(attempt) = body
                .take()
                .or_else(|| replayable.then(|| Either::Right(Empty::new())))
            else {
                break 'rounds;
            };
            let started = Instant::now();
            let mut connection = match exchange
                .proxy
                .pool
                .connect(dyno.addr, config.connect_timeout)
                .await
            {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::debug!(app = %exchange.app, dyno = %dyno.name, %error, "no connection");
                    body = Some(attempt);
                    continue;
                }
            };
            let connect = started.elapsed();
            let sent = tokio::time::timeout(
                config.response_timeout,
                connection.sender.try_send_request(build(attempt)),
            )
            .await;
            match sent {
                Ok(Ok(response)) => {
                    let reached = Reached {
                        dyno: dyno.name.clone(),
                        connect,
                        started,
                        connection,
                    };
                    return relay(response, exchange, reached, client_side);
                }
                Ok(Err(mut error)) => {
                    tracing::debug!(
                        app = %exchange.app, dyno = %dyno.name, fresh = connection.fresh,
                        error = %error.error(), "the dyno's connection closed"
                    );
                    failure = Failure::ClosedWithoutResponse;
                    reached = Some((dyno.name.clone(), connect));
                    body = error.take_message().map(Request::into_body);
                }
                Err(_) => {
                    let outcome = Outcome {
                        dyno: Some(dyno.name.clone()),
                        connect: Some(connect),
                        service: Some(started.elapsed()),
                        ..Outcome::default()
                    };
                    return exchange.refuse(Failure::RequestTimeout, outcome);
                }
            }
        }
    }
    let outcome = reached.map_or_else(Outcome::default, |(dyno, connect)| Outcome {
        dyno: Some(dyno),
        connect: Some(connect),
        ..Outcome::default()
    });
    exchange.refuse(failure, outcome)
}

/// The dyno a request reached, and the connection it took.
struct Reached {
    dyno: String,
    connect: Duration,
    started: Instant,
    connection: Connection,
}

/// Relays the dyno's `response`; a protocol switch joins the client's connection to the
/// dyno's.
fn relay(
    mut response: Response<Incoming>,
    exchange: Exchange,
    reached: Reached,
    client_side: Option<hyper::upgrade::OnUpgrade>,
) -> Response<RouterBody> {
    let status = response.status();
    if status == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_side) = client_side
    {
        let dyno_side = hyper::upgrade::on(&mut response);
        let app = exchange.app.clone();
        tokio::spawn(async move {
            match (client_side.await, dyno_side.await) {
                (Ok(client), Ok(dyno)) => {
                    let (mut client, mut dyno) = (TokioIo::new(client), TokioIo::new(dyno));
                    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut dyno).await
                    {
                        tracing::debug!(%app, %error, "an upgraded connection ended");
                    }
                }
                (client, dyno) => {
                    tracing::debug!(%app, client = ?client.err(), dyno = ?dyno.err(), "no upgrade");
                }
            }
        });
        exchange.log(
            None,
            &Outcome {
                dyno: Some(reached.dyno),
                connect: Some(reached.connect),
                service: Some(reached.started.elapsed()),
                status: status.as_u16(),
                bytes: Some(0),
            },
        );
        let (mut parts, _) = response.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers, true);
        headers::add_via(&mut parts.headers);
        return Response::from_parts(parts, RouterBody::empty());
    }
    let (mut parts, body) = response.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers, false);
    headers::add_via(&mut parts.headers);
    let idle_timeout = exchange.config().idle_timeout;
    let ended = Box::new(Ended {
        exchange,
        reached,
        status,
    });
    Response::from_parts(
        parts,
        RouterBody::Relay(Relay::new(body, idle_timeout, ended)),
    )
}

/// What a relayed body does when it ends: the log line, and the connection back to the pool.
struct Ended {
    exchange: Exchange,
    reached: Reached,
    status: StatusCode,
}

impl OnEnd for Ended {
    fn ended(self: Box<Self>, failure: Option<Failure>, bytes: u64) {
        let Ended {
            exchange,
            reached,
            status,
        } = *self;
        let outcome = Outcome {
            dyno: Some(reached.dyno),
            connect: Some(reached.connect),
            service: Some(reached.started.elapsed()),
            status: failure.map_or(status, Failure::status).as_u16(),
            bytes: Some(bytes),
        };
        exchange.log(failure, &outcome);
        if failure.is_none() {
            exchange.proxy.pool.give_back(reached.connection);
        }
    }
}
