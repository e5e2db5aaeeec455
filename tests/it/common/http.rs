//! A scripted HTTP server on 127.0.0.1 that records every request and answers as a test says.
//!
//! Tests of the Heroku client and of runtime downloads need answers a real server never gives on
//! purpose (a `429` then a `200`, a `503` forever, a missing `Next-Range`, a body cut off halfway
//! or sent slowly): each test hands the server a function from the request (and its position
//! among all requests) to the answer. The server runs on a thread and runtime of its own, so sync
//! tests and async tests of any flavour use it alike; it stops when dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, `PUT`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The headers exactly as received.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Seen {
    /// A header's value, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The path's segments.
    pub fn segments(&self) -> Vec<&str> {
        self.path.trim_matches('/').split('/').collect()
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    /// Pause between 64 KiB pieces of the body.
    pace: Option<Duration>,
    /// Announce the whole length, send half the body, and hang up.
    truncate: bool,
    /// Announce no length and send the body again and again, forever.
    endless: bool,
}

impl Reply {
    /// An answer of `status` carrying `body` as it is.
    pub fn bytes(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            pace: None,
            truncate: false,
            endless: false,
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::bytes(status, body.to_string()).header("content-type", "application/json")
    }

    /// An API error answer `{id, message, url}`.
    pub fn error(status: u16, id: &str, message: &str) -> Reply {
        Reply::json(
            status,
            &serde_json::json!({ "id": id, "message": message, "url": "https://devcenter.heroku.com/articles/platform-api-reference" }),
        )
    }

    /// An empty `200`.
    pub fn ok() -> Reply {
        Reply::bytes(200, Bytes::new())
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the body in 64 KiB pieces with `pause` between them.
    pub fn paced(mut self, pause: Duration) -> Reply {
        self.pace = Some(pause);
        self
    }

    /// Announces the body's whole length, sends half of it, and breaks the connection.
    pub fn truncated(mut self) -> Reply {
        self.truncate = true;
        self
    }

    /// Announces no length and sends the body over and over, never ending (a host gone wrong,
    /// or one that means harm).
    pub fn endless(mut self) -> Reply {
        self.endless = true;
        self
    }
}

type Responder = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Responder>,
}

/// The running server.
pub struct FakeServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeServer {
    /// Starts a server answering with `respond(request, index)`; every answer carries
    /// `Request-Id: req-<index>` unless the reply sets one.
    pub fn start(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> FakeServer {
        let shared = Shared {
            seen: Arc::new(Mutex::new(Vec::new())),
            respond: Arc::new(respond),
        };
        let seen = shared.seen.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(handle).with_state(shared);
                // Dropping the runtime afterwards ends every connection still open.
                tokio::select! {
                    served = axum::serve(listener, app) => served.expect("serve"),
                    _ = stopped => {}
                }
            });
        });
        FakeServer {
            url,
            seen,
            stop: Some(stop),
        }
    }

    /// The URL of `path` on this server.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("read body");
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    let index = {
        let mut all = shared.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let reply = (shared.respond)(&seen, index);
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    if !reply
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("request-id"))
    {
        response = response.header("request-id", format!("req-{index}"));
    }
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    if reply.endless {
        return response.body(endless(reply)).unwrap();
    }
    if reply.pace.is_none() && !reply.truncate {
        return response.body(Body::from(reply.body)).unwrap();
    }
    response = response.header("content-length", reply.body.len());
    response.body(streamed(reply)).unwrap()
}

/// The body of an endless reply: its bytes again and again, with its pace between them.
fn endless(reply: Reply) -> Body {
    let stream = futures_util::stream::unfold(false, move |started| {
        let (body, pace) = (reply.body.clone(), reply.pace);
        async move {
            if started && let Some(pause) = pace {
                tokio::time::sleep(pause).await;
            }
            Some((Ok::<_, std::io::Error>(body), true))
        }
    });
    Body::from_stream(stream)
}

/// The body of a paced or truncated reply, as a stream of 64 KiB pieces.
fn streamed(reply: Reply) -> Body {
    let sent = if reply.truncate {
        reply.body.slice(..reply.body.len() / 2)
    } else {
        reply.body.clone()
    };
    let pieces: Vec<Bytes> = sent
        .chunks(64 * 1024)
        .map(|piece| sent.slice_ref(piece))
        .collect();
    let pace = reply.pace;
    let stream = futures_util::stream::unfold(
        (pieces.into_iter(), reply.truncate, false),
        move |(mut pieces, truncate, started)| async move {
            if started && let Some(pause) = pace {
                tokio::time::sleep(pause).await;
            }
            match pieces.next() {
                Some(piece) => Some((Ok(piece), (pieces, truncate, true))),
                // An error ends the body short of its announced length: the connection breaks.
                None if truncate => Some((
                    Err(std::io::Error::other("cut off on purpose")),
                    (pieces, false, true),
                )),
                None => None,
            }
        },
    );
    Body::from_stream(stream)
}

/// A host that accepts connections and reads requests but never answers (a stalled server, a
/// black-holing proxy); returns its base URL, `http://127.0.0.1:PORT`. It lives as long as the
/// test process.
pub fn silent_host() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(std::io::Read::read(&mut stream, &mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    url
}
