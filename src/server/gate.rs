//! What every request passes through before and after its handler: the request id and rate-limit
//! headers, fault injection, authentication, the `Accept` version check and the rate limit.
//!
//! The `RateLimit-Remaining` header of an answer is the count taken when its request was let
//! through, and the handler sees that same count ([`RateLimitRemaining`]), so
//! `GET /account/rate-limits` and its header agree.
//!
//! Faults are off unless configured; each counts requests (1, 2, 3, …) and fires on every Nth, so
//! a reliability test knows exactly which request will fail.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;

use super::AppState;
use super::error::ApiError;

/// The requests left in the bucket once this request's token was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimitRemaining(pub(crate) u64);

/// A token bucket like Heroku's: `capacity` requests, refilled at `per_minute`.
#[derive(Debug)]
pub(crate) struct Bucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    refilled: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(capacity: u32, per_minute: u32) -> Self {
        Bucket {
            capacity: f64::from(capacity),
            tokens: f64::from(capacity),
            per_second: f64::from(per_minute) / 60.0,
            refilled: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.refilled = now;
    }

    /// Takes one request's token and says how many whole requests are left; None when the
    /// bucket is empty.
    fn take(&mut self) -> Option<u64> {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(self.whole())
        } else {
            None
        }
    }

    /// Whole requests left, without refilling.
    fn whole(&self) -> u64 {
        // Truncation is the point: a partial token is not a request.
        self.tokens.max(0.0) as u64
    }

    /// Whole requests left.
    pub(crate) fn remaining(&mut self) -> u64 {
        self.refill();
        self.whole()
    }
}

/// Whether request number `n` is hit by a fault firing every `every` requests.
fn fires(every: Option<u64>, n: u64) -> bool {
    every.is_some_and(|every| every > 0 && n.is_multiple_of(every))
}

/// The middleware: see the module docs.
pub(crate) async fn gate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = uuid::Uuid::new_v4().to_string();
    let faults = &state.config.faults;
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    // Blob and log-session URLs are pre-signed: their token is a credential of a sort, so the
    // log names the route, not the token.
    let presigned = ["/blobs/", "/log-sessions/"]
        .into_iter()
        .find(|prefix| request.uri().path().starts_with(prefix));
    let is_blob = presigned.is_some();
    let method = request.method().clone();
    let path = match presigned {
        Some(prefix) => format!("{prefix}{{token}}"),
        None => request.uri().path().to_owned(),
    };
    let query = if is_blob {
        None
    } else {
        request.uri().query().map(str::to_owned)
    };
    let mut taken = None;
    let mut response = if fires(faults.every_429, n) {
        ApiError::rate_limit().into_response()
    } else if fires(faults.every_5xx, n) {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "injected fault: the service is temporarily unavailable",
        )
        .into_response()
    } else if is_blob {
        // Pre-signed URLs carry their own token and need no credentials.
        next.run(request).await
    } else {
        match check(&state, request.headers()) {
            Err(err) => err.into_response(),
            Ok(remaining) => {
                taken = Some(remaining);
                request
                    .extensions_mut()
                    .insert(RateLimitRemaining(remaining));
                next.run(request).await
            }
        }
    };
    if fires(faults.drop_body_every, n) {
        response = truncate_body(response).await;
    }
    let remaining = taken.unwrap_or_else(|| crate::sync::lock(&state.bucket).remaining());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("request-id", value);
    }
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    if let Some(log) = &state.request_log {
        let mut line = serde_json::json!({
            "method": method.as_str(),
            "path": path,
            "status": response.status().as_u16(),
        });
        if let Some(query) = query {
            line["query"] = serde_json::Value::String(query);
        }
        // One write call per line (O_APPEND): a server killed mid-request leaves whole lines,
        // never half of one. A line lost to a full disk must not fail the request it describes.
        let line = format!("{line}\n");
        let mut file = crate::sync::lock(log);
        let _ = file.write_all(line.as_bytes());
    }
    response
}

/// Authentication, the API version and the rate limit, in the order Heroku checks them; the
/// requests left once this one is counted.
fn check(state: &AppState, headers: &HeaderMap) -> Result<u64, ApiError> {
    if let Some(expected) = &state.config.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credential);
        let ok = given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.expose()));
        if !ok {
            return Err(ApiError::unauthorized());
        }
    }
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
        && let Some(version) = heroku_version(accept)
        && version != "3"
    {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            format!(
                "API version {version} is not supported: send Accept: application/vnd.heroku+json; version=3"
            ),
        ));
    }
    crate::sync::lock(&state.bucket)
        .take()
        .ok_or_else(ApiError::rate_limit)
}

/// The token in `Authorization: Bearer <token>` or HTTP Basic with the token as password.
fn credential(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

/// The major API version in a Heroku media type (`version=3.sdk` → `3`), if it is one.
fn heroku_version(accept: &str) -> Option<&str> {
    let heroku = accept
        .split(',')
        .find(|part| part.trim_start().starts_with("application/vnd.heroku+json"))?;
    heroku
        .split(';')
        .filter_map(|param| param.trim().strip_prefix("version="))
        .map(|v| v.split('.').next().unwrap_or(v).trim())
        .next()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sends the headers (with the full `Content-Length`) and half the body, then breaks the
/// connection: what a client sees when a proxy drops it mid-body.
async fn truncate_body(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    // The pause lets the headers and the first half leave before the connection breaks, so
    // the client sees a short body rather than no answer at all.
    let stream = futures_util::stream::iter([Ok(half)]).chain(futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::other(
            "injected fault: connection dropped mid-body",
        ))
    }));
    let mut response = Response::from_parts(parts, Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_bearer_and_basic() {
        assert_eq!(credential("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(credential("bearer  abc ").as_deref(), Some("abc"));
        // base64(":abc") = "OmFiYw=="
        assert_eq!(credential("Basic OmFiYw==").as_deref(), Some("abc"));
        assert_eq!(credential("Token abc"), None);
    }

    #[test]
    fn accept_variants_are_version_3() {
        for accept in [
            "application/vnd.heroku+json; version=3",
            "application/vnd.heroku+json; version=3.sdk",
            "application/vnd.heroku+json; version=3.filters",
            "application/vnd.heroku+json;version=3.cedar-acm",
        ] {
            assert_eq!(heroku_version(accept), Some("3"), "{accept}");
        }
        assert_eq!(heroku_version("application/json"), None);
        assert_eq!(
            heroku_version("application/vnd.heroku+json; version=2"),
            Some("2")
        );
    }
}
