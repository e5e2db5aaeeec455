//! A `slugplan server` process on 127.0.0.1 and a plain API v3 client that checks every answer
//! against the official schema ([`super::schema`]): the server tests, the Heroku client's tests
//! and the deploy tests all drive the same server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::TestContext;
use super::schema::assert_matches;

/// A running `slugplan server`, killed when dropped.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub url: String,
    _ctx: TestContext,
    /// The platform's data directory.
    pub data: std::path::PathBuf,
}

impl Server {
    /// Starts `slugplan server ARGS…` on a free port with a fresh data directory.
    pub fn start(args: &[&str]) -> Server {
        let ctx = TestContext::new();
        let data = ctx.temp.path().join("platform");
        Self::start_on(ctx, data, args)
    }

    /// Starts `slugplan server ARGS…` on a free port, run in `ctx`, on the data in `data`.
    pub fn start_on(ctx: TestContext, data: std::path::PathBuf, args: &[&str]) -> Server {
        let mut child = ctx
            .command()
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slugplan server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the server's address");
        let url = line.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line {line:?}"
        );
        Server {
            child,
            url,
            _ctx: ctx,
            data,
        }
    }

    /// An unauthenticated client of this server.
    pub fn api(&self) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: self.url.clone(),
            auth: None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP client speaking API v3.
pub struct Api {
    /// The HTTP client.
    pub client: reqwest::Client,
    /// The API's base URL.
    pub base: String,
    /// The `Authorization` header sent, if any.
    pub auth: Option<String>,
}

/// An answer: status, headers and JSON body.
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, parsed.
    pub body: Value,
}

impl Api {
    /// The same client, sending `token` as a bearer token.
    #[must_use]
    pub fn with_token(mut self, token: &str) -> Api {
        self.auth = Some(format!("Bearer {token}"));
        self
    }

    /// Sends one request, checks the headers and error shape every answer must have, and
    /// returns the answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        range: Option<&str>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Accept", "application/vnd.heroku+json; version=3");
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read body");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: body is not JSON ({e}): {text}"));
        assert!(headers.contains_key("request-id"), "{path}: no Request-Id");
        assert!(
            headers.contains_key("ratelimit-remaining"),
            "{path}: no RateLimit-Remaining"
        );
        if !status.is_success() {
            assert!(
                body["id"].is_string() && body["message"].is_string(),
                "{path}: {body}"
            );
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `GET`s `path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    /// `POST`s `body` to `path`.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body), None).await
    }

    /// `POST`s and checks a `201` whose body matches `definition`.
    pub async fn create(&self, path: &str, body: Value, definition: &str) -> Value {
        let answer = self.post(path, body).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "{path}: {}",
            answer.body
        );
        assert_matches(definition, &answer.body);
        answer.body
    }

    /// `GET`s and checks a `200` whose body matches `definition`.
    pub async fn read(&self, path: &str, definition: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert_matches(definition, &answer.body);
        answer.body
    }

    /// Creates a slug holding `bytes` on `app`, uploads it the way Heroku's docs say (no
    /// Authorization, empty Content-Type, a real Content-Length) and returns the slug.
    pub async fn upload_slug(&self, app: &str, bytes: &'static [u8], stack: &str) -> Value {
        let checksum = format!("SHA256:{}", hex::encode(Sha256::digest(bytes)));
        let slug = self
            .create(
                &format!("/apps/{app}/slugs"),
                json!({ "process_types": { "web": "./web" }, "checksum": checksum, "stack": stack,
                        "commit": "abc123" }),
                "slug",
            )
            .await;
        let put = reqwest::Client::new()
            .put(slug["blob"]["url"].as_str().unwrap())
            .header("Content-Type", "")
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        slug
    }

    /// Creates app `demo` and a slug on it with nothing uploaded yet.
    pub async fn demo_slug_without_archive(&self) -> Value {
        self.create("/apps", json!({ "name": "demo" }), "app").await;
        self.create(
            "/apps/demo/slugs",
            json!({ "process_types": { "web": "./web" } }),
            "slug",
        )
        .await
    }

    /// Releases `slug` on `app`, described as `Deploy`.
    pub async fn release(&self, app: &str, slug: &Value) -> Value {
        self.create(
            &format!("/apps/{app}/releases"),
            json!({ "slug": slug["id"], "description": "Deploy" }),
            "release",
        )
        .await
    }

    /// What another client deploying by hand does: uploads `bytes` as a slug of `app` and
    /// releases it, with `description` when given.
    pub async fn release_by_hand(
        &self,
        app: &str,
        bytes: &'static [u8],
        description: Option<&str>,
    ) {
        let slug = self.upload_slug(app, bytes, "heroku-24").await;
        let mut body = json!({ "slug": slug["id"] });
        if let Some(description) = description {
            body["description"] = json!(description);
        }
        self.create(&format!("/apps/{app}/releases"), body, "release")
            .await;
    }
}

/// The requests a server logged with `--request-log`, as (method, path). A test may read the
/// log while the server appends to it: a last line not yet ended is left for the next read.
pub fn logged_requests(log: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    whole
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON log line");
            let field = |name: &str| v[name].as_str().unwrap_or_default().to_owned();
            (field("method"), field("path"))
        })
        .collect()
}

/// Runs `future` to completion on a fresh single-threaded runtime (for sync tests that make a
/// few API calls).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}
