//! A scripted HTTP server on 127.0.0.1 that records every request and answers as a test says.
//!
//! Tests of the Heroku client need answers the real `slugplan server` never gives on purpose
//! (a `429` then a `200`, a `503` forever, a missing `Next-Range`): each test hands the server a
//! function from the request (and its position) to the answer.

use std::sync::{Arc, Mutex};

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
    body: String,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
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
        Reply {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
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
pub struct FakeApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeApi {
    /// Starts a server answering with `respond(request, index)`; every answer carries
    /// `Request-Id: req-<index>` unless the reply sets one.
    pub async fn start(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> FakeApi {
        let shared = Shared {
            seen: Arc::new(Mutex::new(Vec::new())),
            respond: Arc::new(respond),
        };
        let seen = shared.seen.clone();
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        FakeApi { url, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
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
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}
