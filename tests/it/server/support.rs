//! Support for the server tests: a `slugplan server` process, a plain API v3 client, and the
//! contract check against the official schema.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::OnceLock;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::TestContext;

/// The official schema, loaded once.
pub(crate) fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/heroku/platform-api-schema.json"
        );
        let text = std::fs::read_to_string(path).expect("read the Platform API schema");
        serde_json::from_str(&text).expect("the schema is JSON")
    })
}

/// What is wrong with `value` as a `#/definitions/<definition>` (refs resolved against the
/// whole document, formats checked).
pub(crate) fn schema_errors(definition: &str, value: &Value) -> Vec<String> {
    let mut root = schema().clone();
    let object = root.as_object_mut().expect("schema object");
    object.remove("$schema");
    object.remove("id");
    object.insert(
        "$ref".to_owned(),
        Value::String(format!("#/definitions/{definition}")),
    );
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        // Draft 4 does not know `uuid`; the schema uses it for every id, so check it too.
        .with_format("uuid", |s: &str| {
            s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
        })
        .build(&root)
        .unwrap_or_else(|e| panic!("compile schema for {definition}: {e}"));
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// Checks `value` against `#/definitions/<definition>` (refs resolved against the whole
/// document), and that it has every property the definition lists, as clients expect.
pub(crate) fn assert_matches(definition: &str, value: &Value) {
    let errors = schema_errors(definition, value);
    assert!(
        errors.is_empty(),
        "{definition} does not match the schema: {errors:#?}\n{value:#}"
    );
    if let Some(properties) = schema()["definitions"][definition]["properties"].as_object() {
        for key in properties.keys() {
            assert!(
                value.get(key).is_some(),
                "{definition} lacks property {key}: {value:#}"
            );
        }
    }
}

/// Checks every item of a list answer against `definition`.
pub(crate) fn assert_list_matches(definition: &str, value: &Value) {
    for item in value.as_array().expect("a list answer is an array") {
        assert_matches(definition, item);
    }
}

/// A running `slugplan server`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    _ctx: TestContext,
    pub(crate) data: std::path::PathBuf,
}

impl Server {
    pub(crate) fn start(args: &[&str]) -> Server {
        let ctx = TestContext::new();
        let data = ctx.temp.path().join("platform");
        Self::start_on(ctx, data, args)
    }

    pub(crate) fn start_on(ctx: TestContext, data: std::path::PathBuf, args: &[&str]) -> Server {
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

    pub(crate) fn api(&self) -> Api {
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
pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) auth: Option<String>,
}

/// An answer: status, headers and JSON body.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Api {
    pub(crate) async fn call(
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

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body), None).await
    }

    /// `POST`s and checks a `201` whose body matches `definition`.
    pub(crate) async fn create(&self, path: &str, body: Value, definition: &str) -> Value {
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
    pub(crate) async fn read(&self, path: &str, definition: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert_matches(definition, &answer.body);
        answer.body
    }

    /// Creates a slug holding `bytes` on `app`, uploads it the way Heroku's docs say (no
    /// Authorization, empty Content-Type, a real Content-Length) and returns the slug.
    pub(crate) async fn upload_slug(&self, app: &str, bytes: &'static [u8], stack: &str) -> Value {
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
    pub(crate) async fn demo_slug_without_archive(&self) -> Value {
        self.create("/apps", json!({ "name": "demo" }), "app").await;
        self.create(
            "/apps/demo/slugs",
            json!({ "process_types": { "web": "./web" } }),
            "slug",
        )
        .await
    }

    pub(crate) async fn release(&self, app: &str, slug: &Value) -> Value {
        self.create(
            &format!("/apps/{app}/releases"),
            json!({ "slug": slug["id"], "description": "Deploy" }),
            "release",
        )
        .await
    }
}

/// The requests a server logged with `--request-log`, as (method, path).
pub(crate) fn logged_requests(log: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
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
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}
