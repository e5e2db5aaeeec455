//! One HTTP request to the API, with everything every call needs: headers, the token, retries,
//! rate-limit throttling, `Range` paging and error answers turned into [`PlatformError`]s.
//!
//! Guarantees: the token only ever travels in a header marked sensitive (so even `reqwest`'s and
//! `hyper`'s own debug output shows it as `Sensitive`); log lines carry the method, URL, status,
//! attempt and request id, never a header or a body. A call is tried at most
//! [`RetryPolicy::max_attempts`] times within [`RetryPolicy::max_elapsed`], each failed attempt
//! told to the [`RetryReporter`]; a write that must happen once and failed with an unknown
//! outcome is read back before it is sent again ([`Api::post_once`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RANGE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::Token;
use super::retry::{
    NextStep, Repeat, RetryEvent, RetryPolicy, RetryReporter, Silent, ThrottlePolicy,
    retry_after as parse_retry_after,
};
use super::wire::ErrorWire;
use crate::platform::{PlatformError, Result};

/// The shortest wait for an API answer, whatever the retry time: a retry time of zero means
/// "do not retry", not "do not wait".
pub const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// The media type of API v3.
pub const ACCEPT_V3: &str = "application/vnd.heroku+json; version=3";

/// Counters of what a client did, for tests and for `-v` summaries ("3 requests, 1 retried").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests sent, retries and blob uploads included.
    pub requests: u64,
    /// Of those, requests that could change state (anything but `GET`).
    pub writes: u64,
    /// Requests that were repeated after a failure.
    pub retries: u64,
    /// Times a request waited first because `RateLimit-Remaining` ran low.
    pub throttled: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// Whether a failed attempt may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Never: the answer is final (4xx other than 429).
    Never,
    /// Always: the platform did nothing (`429`, or the connection never opened).
    Always,
    /// The platform may have acted (`5xx`, a connection broken after sending, a reply cut off):
    /// repeated as such only by calls whose repetition is harmless, read back first by the rest.
    IfRepeatable,
}

/// A failed attempt.
#[derive(Debug)]
pub struct Failure {
    /// What the caller gets if no retry follows.
    pub error: PlatformError,
    /// Whether it may be retried.
    pub retry: Retry,
    /// The server's `Retry-After`, when it sent one: the next attempt waits at least that long,
    /// or is not made when that would pass the retry time.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure from a transport error: retried always when nothing was sent.
    pub fn transport(url: &str, error: reqwest::Error) -> Failure {
        let retry = if error.is_connect() {
            Retry::Always
        } else {
            Retry::IfRepeatable
        };
        Failure {
            error: PlatformError::Transport {
                url: url.to_owned(),
                source: Box::new(error),
            },
            retry,
            retry_after: None,
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    /// Its status (200, 201 or 206).
    pub status: StatusCode,
    /// `Next-Range`, on a partial list.
    pub next_range: Option<String>,
    /// `Request-Id`.
    pub request_id: Option<String>,
    /// The body.
    pub body: Bytes,
    /// What was asked, for error messages: `GET https://…/apps/x`.
    pub what: String,
}

impl Answer {
    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| PlatformError::Api {
            status: self.status.as_u16(),
            id: "invalid_response".to_owned(),
            message: format!("cannot decode the answer to {}: {e}", self.what),
            request_id: self.request_id.clone(),
        })
    }
}

/// The API client under `HerokuPlatform`: one `reqwest::Client`, the token and the policies.
#[derive(Debug)]
pub struct Api {
    pub(super) http: reqwest::Client,
    base: Url,
    auth: HeaderValue,
    pub(super) retry: RetryPolicy,
    throttle: ThrottlePolicy,
    request_timeout: Duration,
    upload_timeout: Duration,
    /// The last `RateLimit-Remaining` seen; `u64::MAX` before any.
    remaining: AtomicU64,
    counters: Counters,
    /// Hears about every failed attempt.
    reporter: Arc<dyn RetryReporter>,
}

impl Api {
    /// A client for the API at `base`.
    pub fn new(
        http: reqwest::Client,
        base: Url,
        token: &Token,
        retry: RetryPolicy,
        throttle: ThrottlePolicy,
        request_timeout: Duration,
        upload_timeout: Duration,
    ) -> std::result::Result<Api, reqwest::header::InvalidHeaderValue> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))?;
        auth.set_sensitive(true);
        Ok(Api {
            http,
            base,
            auth,
            retry,
            throttle,
            request_timeout,
            upload_timeout,
            remaining: AtomicU64::new(u64::MAX),
            counters: Counters::default(),
            reporter: Arc::new(Silent),
        })
    }

    /// Tells every failed attempt from now on to `reporter`.
    pub fn set_reporter(&mut self, reporter: Arc<dyn RetryReporter>) {
        self.reporter = reporter;
    }

    /// The host the API lives on, as errors name it (`api.heroku.com`, `127.0.0.1`).
    pub fn host(&self) -> &str {
        self.base.host_str().unwrap_or("the API host")
    }

    /// The longest one request may take; for uploads, the longest they may stand still.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The longest one upload attempt may take in all, however steadily it moves.
    pub fn upload_timeout(&self) -> Duration {
        self.upload_timeout
    }

    /// The longest one attempt of an API request may wait for its answer: the request timeout,
    /// but no longer than the call's retry time (at least [`MIN_ATTEMPT_TIMEOUT`]), so a host
    /// that never answers costs `--retry-timeout`, not a minute per attempt.
    fn attempt_timeout(&self) -> Duration {
        self.request_timeout
            .min(self.retry.max_elapsed.max(MIN_ATTEMPT_TIMEOUT))
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ClientStats {
        let c = &self.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
        }
    }

    /// The URL of `segments` under the base URL, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // The base was checked to be a hierarchical http(s) URL, so it has path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `GET` one resource.
    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T> {
        self.send(Method::GET, segments, None, None, Repeat::Idempotent)
            .await?
            .json()
    }

    /// `POST` a body, expecting the created resource back.
    pub async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &serde_json::Value,
        repeat: Repeat,
    ) -> Result<T> {
        self.send(Method::POST, segments, Some(body), None, repeat)
            .await?
            .json()
    }

    /// `POST` a body that must take effect once (a release, an app), expecting the created
    /// resource back. When an attempt fails with an unknown outcome (a `5xx`, a reset, a reply cut
    /// off), the call waits its backoff, then asks `took_effect` whether the platform did the work
    /// (Some: what it made, which is returned) and sends the request again only if not. After the
    /// last attempt, it asks once more before failing.
    pub async fn post_once<W, T, R, RFut>(
        &self,
        segments: &[&str],
        body: &serde_json::Value,
        took_effect: R,
    ) -> Result<T>
    where
        W: DeserializeOwned + Into<T>,
        R: Fn() -> RFut,
        RFut: Future<Output = Result<Option<T>>>,
    {
        let url = self.url(segments);
        let what = format!("POST {url}");
        let attempt = || async {
            let answer = self
                .attempt(&Method::POST, &url, &what, Some(body), None)
                .await?;
            // A reply cut off halfway fails to decode: the work may be done, so it is read back
            // like any other unknown outcome.
            answer.json::<W>().map(Into::into).map_err(|error| Failure {
                error,
                retry: Retry::IfRepeatable,
                retry_after: None,
            })
        };
        self.run(&what, Repeat::Once, attempt, Some(took_effect))
            .await
    }

    /// `GET` a list starting at `range`, following `Next-Range` on `206` until the list ends or
    /// `enough` says the items so far suffice.
    pub async fn list<W, T>(
        &self,
        segments: &[&str],
        range: Option<String>,
        mut enough: impl FnMut(&[T]) -> bool,
    ) -> Result<Vec<T>>
    where
        W: DeserializeOwned + Into<T>,
    {
        let mut items = Vec::new();
        let mut range = range;
        loop {
            let answer = self
                .send(
                    Method::GET,
                    segments,
                    None,
                    range.as_deref(),
                    Repeat::Idempotent,
                )
                .await?;
            let page: Vec<W> = answer.json()?;
            let empty = page.is_empty();
            items.extend(page.into_iter().map(Into::into));
            if empty || enough(&items) {
                return Ok(items);
            }
            match answer.next_range {
                // A server that hands back the range it was given would loop forever.
                Some(next)
                    if answer.status == StatusCode::PARTIAL_CONTENT
                        && range.as_deref() != Some(&next) =>
                {
                    range = Some(next);
                }
                _ => return Ok(items),
            }
        }
    }

    /// Sends one API request, retrying as the policy and `repeat` allow.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
        range: Option<&str>,
        repeat: Repeat,
    ) -> Result<Answer> {
        let url = self.url(segments);
        let what = format!("{method} {url}");
        self.with_retries(&what, repeat, || {
            self.attempt(&method, &url, &what, body, range)
        })
        .await
    }

    /// One attempt of a request: sent, answered and read whole, or a [`Failure`] saying whether
    /// it may be tried again.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        what: &str,
        body: Option<&serde_json::Value>,
        range: Option<&str>,
    ) -> std::result::Result<Answer, Failure> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .timeout(self.attempt_timeout())
            .header(ACCEPT, ACCEPT_V3)
            .header(AUTHORIZATION, self.auth.clone());
        if let Some(range) = range {
            request = request.header(RANGE, range);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.count(method);
        let response = request
            .send()
            .await
            .map_err(|e| Failure::transport(url.as_str(), e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = request_id(&headers);
        self.observe_rate_limit(&headers);
        tracing::debug!(%method, %url, status = status.as_u16(), request_id = request_id.as_deref().unwrap_or("-"), "heroku api");
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::transport(url.as_str(), e))?;
        if status.is_success() {
            Ok(Answer {
                status,
                next_range: header(&headers, "next-range"),
                request_id,
                body,
                what: what.to_owned(),
            })
        } else {
            Err(failure_from_answer(status, &headers, &body, self.host()))
        }
    }

    /// Counts a request about to go out.
    pub(super) fn count(&self, method: &Method) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if method != Method::GET && method != Method::HEAD {
            self.counters.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records `RateLimit-Remaining` from an answer.
    pub(super) fn observe_rate_limit(&self, headers: &HeaderMap) {
        if let Some(remaining) =
            header(headers, "ratelimit-remaining").and_then(|v| v.trim().parse().ok())
        {
            self.remaining.store(remaining, Ordering::Relaxed);
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts or the retry time run
    /// out; each attempt first waits if the rate limit is running low. A failure with an unknown
    /// outcome ends the call at once unless `repeat` says repeating it is harmless.
    pub(super) async fn with_retries<T, F, Fut>(
        &self,
        what: &str,
        repeat: Repeat,
        attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        type Never<T> = fn() -> std::future::Ready<Result<Option<T>>>;
        self.run(what, repeat, attempt, None::<Never<T>>).await
    }

    /// The retry loop of [`with_retries`](Self::with_retries) and [`post_once`](Self::post_once):
    /// with `took_effect`, a failure of unknown outcome is read back (after its backoff) instead
    /// of ending the call, and the request is sent again only if it did not take effect.
    async fn run<T, F, Fut, R, RFut>(
        &self,
        what: &str,
        repeat: Repeat,
        mut attempt: F,
        took_effect: Option<R>,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
        R: Fn() -> RFut,
        RFut: Future<Output = Result<Option<T>>>,
    {
        let start = Instant::now();
        let attempts = self.retry.max_attempts();
        let mut number = 1;
        loop {
            self.throttle_if_low().await;
            let failure = match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let unknown = failure.retry == Retry::IfRepeatable && !repeat.after_unknown_outcome();
            let next = match (
                failure.retry,
                self.next_wait(start, number, attempts, &failure),
            ) {
                (Retry::Never, _) => return Err(failure.error),
                _ if unknown && took_effect.is_none() => NextStep::Unknown,
                (_, None) => NextStep::GiveUp,
                (_, Some(wait)) if unknown => NextStep::Reconcile(wait),
                (_, Some(wait)) => NextStep::Retry(wait),
            };
            self.reporter.failed_attempt(&RetryEvent {
                what,
                why: why(&failure.error),
                attempt: number,
                attempts,
                elapsed: start.elapsed(),
                next,
            });
            tracing::debug!(what, attempt = number, attempts, next = ?next, error = %failure.error, "attempt failed");
            match next {
                NextStep::Retry(wait) => tokio::time::sleep(wait).await,
                NextStep::Reconcile(wait) => {
                    tokio::time::sleep(wait).await;
                    match read_back(what, took_effect.as_ref()).await {
                        ReadBack::Done(made) => return Ok(made),
                        ReadBack::Unknown => return Err(failure.error),
                        ReadBack::NotDone => {}
                    }
                }
                NextStep::GiveUp if unknown => {
                    // The last attempt may still have done the work: one more look before the
                    // call fails, so a caller never repeats what is done.
                    return match read_back(what, took_effect.as_ref()).await {
                        ReadBack::Done(made) => Ok(made),
                        ReadBack::NotDone | ReadBack::Unknown => Err(failure.error),
                    };
                }
                NextStep::Unknown | NextStep::GiveUp => return Err(failure.error),
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            number += 1;
        }
    }

    /// The wait before attempt `number + 1`: the backoff, or longer when `Retry-After` asks;
    /// None when no attempt is left or the wait would end past the retry time.
    fn next_wait(
        &self,
        start: Instant,
        number: u32,
        attempts: u32,
        failure: &Failure,
    ) -> Option<Duration> {
        if number >= attempts {
            return None;
        }
        let wait = self
            .retry
            .backoff(number - 1)
            .max(failure.retry_after.unwrap_or_default());
        (start.elapsed() + wait <= self.retry.max_elapsed).then_some(wait)
    }

    async fn throttle_if_low(&self) {
        let remaining = self.remaining.load(Ordering::Relaxed);
        if let Some(delay) = self.throttle.delay(remaining) {
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                remaining,
                delay_ms = delay.as_millis() as u64,
                "rate limit running low: slowing down"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// What reading back a write of unknown outcome found.
enum ReadBack<T> {
    /// It took effect and made this: not sent again.
    Done(T),
    /// It did not: sent again.
    NotDone,
    /// The read-back itself failed: the outcome stays unknown, so the call fails rather than
    /// risk doing the work twice.
    Unknown,
}

/// Asks `took_effect` (present whenever a call reads back) whether the write `what` was done.
async fn read_back<T, R, RFut>(what: &str, took_effect: Option<&R>) -> ReadBack<T>
where
    R: Fn() -> RFut,
    RFut: Future<Output = Result<Option<T>>>,
{
    let Some(took_effect) = took_effect else {
        return ReadBack::Unknown;
    };
    match took_effect().await {
        Ok(Some(made)) => {
            tracing::debug!(what, "the failed write took effect: not sending it again");
            ReadBack::Done(made)
        }
        Ok(None) => ReadBack::NotDone,
        Err(error) => {
            tracing::debug!(what, %error, "cannot read back whether the write took effect");
            ReadBack::Unknown
        }
    }
}

/// A header's value as text.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The answer's request id: the API's `Request-Id`, or an object store's `x-amz-request-id`.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    header(headers, "request-id").or_else(|| header(headers, "x-amz-request-id"))
}

/// Why an attempt failed, on one line for a retry message: the platform's answer, or for a
/// connection that failed, its innermost cause (`Connection refused (os error 111)`).
fn why(error: &PlatformError) -> String {
    match error {
        PlatformError::Transport { source, .. } => {
            let mut cause: &dyn std::error::Error = source.as_ref();
            while let Some(next) = cause.source() {
                cause = next;
            }
            cause.to_string()
        }
        other => other.to_string(),
    }
}

/// Turns an error answer from the API at `host` into a typed error, and says whether it may be
/// retried.
pub fn failure_from_answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    host: &str,
) -> Failure {
    let request_id = request_id(headers);
    let retry_after = header(headers, "retry-after")
        .and_then(|v| parse_retry_after(&v, header(headers, "date").as_deref()));
    let wire: ErrorWire = serde_json::from_slice(body).unwrap_or_default();
    let id = wire.id.unwrap_or_default();
    let message = wire.message.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("unexpected answer")
            .to_owned()
    });
    let error = match (id.as_str(), status.as_u16()) {
        ("not_found", _) | ("", 404) => PlatformError::NotFound {
            message,
            request_id,
        },
        ("unauthorized" | "forbidden", _) | ("", 401 | 403) => PlatformError::Unauthorized {
            message,
            request_id,
            host: host.to_owned(),
        },
        ("rate_limit", _) | (_, 429) => PlatformError::RateLimited {
            message,
            request_id,
        },
        ("conflict", _) | ("", 409) => PlatformError::Conflict {
            message,
            request_id,
        },
        ("invalid_params", _) | ("", 422) => PlatformError::InvalidParams {
            message,
            request_id,
        },
        (_, code) => PlatformError::Api {
            status: code,
            id: if id.is_empty() {
                "unknown".to_owned()
            } else {
                id
            },
            message,
            request_id,
        },
    };
    let retry = if status == StatusCode::TOO_MANY_REQUESTS {
        Retry::Always
    } else if status.is_server_error() {
        Retry::IfRepeatable
    } else {
        Retry::Never
    };
    Failure {
        error,
        retry,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> Failure {
        let mut headers = HeaderMap::new();
        headers.insert("request-id", HeaderValue::from_static("req-1"));
        headers.insert("retry-after", HeaderValue::from_static("7"));
        failure_from_answer(
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body.as_bytes(),
            "api.example.com",
        )
    }

    #[test]
    fn error_ids_map_to_variants_and_keep_the_request_id() {
        let f = map(
            404,
            r#"{"id":"not_found","message":"Couldn't find that app.","url":"u"}"#,
        );
        assert!(
            matches!(&f.error, PlatformError::NotFound { message, request_id: Some(r) } if message == "Couldn't find that app." && r == "req-1")
        );
        assert_eq!(f.retry, Retry::Never);
        assert!(f.error.to_string().contains("request id req-1"));
        assert!(matches!(
            map(403, r#"{"id":"forbidden","message":"m"}"#).error,
            PlatformError::Unauthorized { .. }
        ));
        assert!(matches!(
            map(401, "not json").error,
            PlatformError::Unauthorized { .. }
        ));
        let limited = map(429, r#"{"id":"rate_limit","message":"slow down"}"#);
        assert!(matches!(limited.error, PlatformError::RateLimited { .. }));
        assert_eq!(limited.retry, Retry::Always);
        assert_eq!(limited.retry_after, Some(Duration::from_secs(7)));
        assert!(matches!(
            map(409, r#"{"id":"conflict","message":"m"}"#).error,
            PlatformError::Conflict { .. }
        ));
        assert!(matches!(
            map(422, r#"{"id":"invalid_params","message":"m"}"#).error,
            PlatformError::InvalidParams { .. }
        ));
        let server = map(503, "<html>down</html>");
        assert!(
            matches!(&server.error, PlatformError::Api { status: 503, id, message, .. } if id == "unknown" && message == "Service Unavailable")
        );
        assert_eq!(server.retry, Retry::IfRepeatable);
    }
}
