//! Stand-in web dynos for the router's tests: HTTP/1.1 servers on 127.0.0.1, and the
//! [`WebDynos`] a test sets by hand, so the router is tested against real connections without
//! a supervisor.
//!
//! A stand-in answers:
//! - `/` with its text (what the test started it with);
//! - `/headers` with the request's headers as a JSON object (values of a repeated header joined
//!   by `, `), and `host` as sent;
//! - `/echo` with the request's body;
//! - `/work` with its text after 50 ms (a request that is in flight a while);
//! - `/slow` after a second;
//! - `/stall` with one byte, then nothing, forever;
//! - `/upgrade` by switching to the `echo` protocol: every byte sent comes back.
//!
//! Dropping it closes its listener and every connection at once, mid-request or not, as a
//! killed process would.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use slugplan::dynos::{WebDyno, WebDynos, WebState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The web dynos as the test says they are; an app it never set is unknown (`None`).
#[derive(Default)]
pub struct Dynos(Mutex<HashMap<String, WebState>>);

impl Dynos {
    /// Says `app`'s web dynos are now `state`.
    pub fn set(&self, app: &str, state: WebState) {
        self.0.lock().unwrap().insert(app.to_owned(), state);
    }
}

impl WebDynos for Dynos {
    fn web_state(&self, app: &str) -> Option<WebState> {
        self.0.lock().unwrap().get(app).cloned()
    }
}

/// A stand-in web dyno.
pub struct StandIn {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl StandIn {
    /// Starts one on a free port, answering `/` with `text`.
    pub async fn start(text: &'static str) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            // Owned by this task: aborting it drops every connection with it.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.spawn(async move {
                    let service = service_fn(move |request| answer(text, request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        StandIn { addr, task }
    }

    /// It as the router's contract names it, as dyno `name` (`web.1`).
    pub fn web(&self, name: &str) -> WebDyno {
        WebDyno {
            name: name.to_owned(),
            addr: self.addr,
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A web dyno whose port nobody listens on (a dyno that just died).
pub async fn dead(name: &str) -> WebDyno {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    WebDyno {
        name: name.to_owned(),
        addr,
    }
}

/// A web dyno that reads each request and closes the connection without answering.
pub async fn hangs_up(name: &str) -> (WebDyno, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0; 4096];
            let _ = stream.read(&mut buf).await;
            drop(stream);
        }
    });
    let dyno = WebDyno {
        name: name.to_owned(),
        addr,
    };
    (dyno, task)
}

type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

async fn answer(
    text: &'static str,
    mut request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let response = match request.uri().path() {
        "/" => Response::new(full(text)),
        "/headers" => {
            let mut headers: BTreeMap<String, String> = BTreeMap::new();
            for (key, value) in request.headers() {
                let value = value.to_str().unwrap_or_default();
                headers
                    .entry(key.as_str().to_owned())
                    .and_modify(|v| {
                        v.push_str(", ");
                        v.push_str(value);
                    })
                    .or_insert_with(|| value.to_owned());
            }
            Response::new(full(serde_json::to_string(&headers).unwrap()))
        }
        "/echo" => {
            let body = request.into_body().collect().await.map(|b| b.to_bytes());
            Response::new(full(body.unwrap_or_default()))
        }
        "/work" => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Response::new(full(text))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Response::new(full("slow"))
        }
        "/stall" => {
            let first = futures_util::stream::once(async { Ok(Frame::data(Bytes::from("a"))) });
            let body = StreamBody::new(first.chain(futures_util::stream::pending()));
            Response::new(BodyExt::boxed(body))
        }
        "/upgrade" => {
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                if let Ok(upgraded) = upgrade.await {
                    let mut io = TokioIo::new(upgraded);
                    let mut buf = [0; 1024];
                    while let Ok(n @ 1..) = io.read(&mut buf).await {
                        if io.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header("connection", "upgrade")
                .header("upgrade", "echo")
                .body(full(""))
                .unwrap()
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(full("not found"))
            .unwrap(),
    };
    Ok(response)
}
