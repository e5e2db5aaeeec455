//! Uploading a slug archive to its pre-signed blob URL.
//!
//! The URL is an object-store URL that carries its own signature, so the request sends no
//! `Authorization` header (the store would refuse a second credential) and an empty
//! `Content-Type` (the signature covers it, and it was signed empty). The store refuses
//! `Transfer-Encoding: chunked`, so the body streams from the file with an explicit
//! `Content-Length`. A `PUT` of the same bytes is idempotent: every failure is retried, each
//! attempt reopening the file. The URL's query string is the signature: messages show the URL
//! without it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use tokio_util::io::ReaderStream;
use url::Url;

use super::http::{Api, Failure, failure_from_answer};
use super::retry::Repeat;
use crate::platform::{BlobTarget, PlatformError, Result, UploadProgress};

/// How often the progress bar hears about bytes sent (and stalls are checked for).
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// Uploads the file at `path` to `target` (resolved against `api`'s base when relative).
pub async fn upload(
    api: &Api,
    target: &BlobTarget,
    path: &Path,
    progress: &dyn UploadProgress,
) -> Result<()> {
    if !target.method.eq_ignore_ascii_case("put") {
        return Err(PlatformError::InvalidParams {
            message: format!(
                "the blob target asks for `{}`; only `put` is supported",
                target.method
            ),
            request_id: None,
        });
    }
    let url = api
        .base()
        .join(&target.url)
        .map_err(|e| PlatformError::InvalidParams {
            message: format!("the blob URL is not a URL: {e}"),
            request_id: None,
        })?;
    let shown = without_signature(&url);
    let what = format!("PUT {shown}");
    // Bytes already reported, across attempts: a retry re-sends from the start but the progress
    // bar only moves once it passes what earlier attempts reached.
    let reported = Arc::new(AtomicU64::new(0));
    let total = api.upload_timeout();
    api.with_retries(&what, Repeat::Idempotent, || async {
        let sending = attempt(api, &url, &shown, path, progress, reported.clone());
        tokio::time::timeout(total, sending)
            .await
            .unwrap_or_else(|_| Err(timed_out(&shown, total)))
    })
    .await?;
    tracing::debug!(url = %shown, "slug uploaded");
    Ok(())
}

async fn attempt(
    api: &Api,
    url: &Url,
    shown: &str,
    path: &Path,
    progress: &dyn UploadProgress,
    reported: Arc<AtomicU64>,
) -> std::result::Result<(), Failure> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| storage(path, e))?;
    let length = file.metadata().await.map_err(|e| storage(path, e))?.len();
    // The body stream must be 'static, so it only counts bytes; this task reports them.
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let stream = ReaderStream::new(file).inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    });
    let report = || {
        let now = sent.load(Ordering::Relaxed);
        let before = reported.fetch_max(now, Ordering::Relaxed);
        if now > before {
            progress.advance(now - before);
        }
    };
    api.count(&Method::PUT);
    let send = api
        .http
        .put(url.clone())
        .header(CONTENT_LENGTH, length)
        .header(CONTENT_TYPE, "")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    tokio::pin!(send);
    // A slug can take minutes to send, so the request has no timeout of its own: the upload
    // fails (and is retried) when no byte has gone out, and no answer come back, for `stall` in
    // a row, and when the whole attempt passes the upload timeout (the caller's).
    let stall = api.request_timeout();
    let mut tick = tokio::time::interval(PROGRESS_TICK);
    let mut last_move = (0, Instant::now());
    let response = loop {
        tokio::select! {
            response = &mut send => break response,
            _ = tick.tick() => {
                report();
                let now = sent.load(Ordering::Relaxed);
                if now != last_move.0 {
                    last_move = (now, Instant::now());
                } else if last_move.1.elapsed() >= stall {
                    return Err(stalled(shown, stall));
                }
            }
        }
    };
    report();
    let response = response.map_err(|e| Failure::transport(shown, e.without_url()))?;
    let status = response.status();
    api.observe_rate_limit(response.headers());
    let headers = response.headers().clone();
    let body = tokio::time::timeout(stall, response.bytes())
        .await
        .map_err(|_| stalled(shown, stall))?
        .map_err(|e| Failure::transport(shown, e.without_url()))?;
    tracing::debug!(url = %shown, status = status.as_u16(), bytes = length, "blob put");
    if status.is_success() {
        Ok(())
    } else {
        let mut failure = failure_from_answer(status, &headers, &body, api.host());
        // A refused upload is about the blob URL (expired, wrong signature), not about the API
        // token, so it must not read like a login problem.
        if let PlatformError::Unauthorized {
            message,
            request_id,
            ..
        } = failure.error
        {
            failure.error = PlatformError::Api {
                status: status.as_u16(),
                id: "blob_rejected".to_owned(),
                message: format!(
                    "the blob store refused the upload to {shown} (an expired URL needs a new slug): {message}"
                ),
                request_id,
            };
        }
        Err(failure)
    }
}

/// An upload that stopped moving: retried like a broken connection.
fn stalled(shown: &str, stall: Duration) -> Failure {
    abandoned(
        shown,
        format!("the upload made no progress for {} s", stall.as_secs_f64()),
    )
}

/// An upload that moved, but too slowly to end within the upload timeout: retried like a
/// broken connection too, if the retry time allows.
fn timed_out(shown: &str, total: Duration) -> Failure {
    abandoned(
        shown,
        format!("the upload did not finish within {} s", total.as_secs_f64()),
    )
}

/// An upload given up on for `why`, as a transport failure that may be retried.
fn abandoned(shown: &str, why: String) -> Failure {
    Failure {
        error: PlatformError::Transport {
            url: shown.to_owned(),
            source: Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, why)),
        },
        retry: super::http::Retry::IfRepeatable,
        retry_after: None,
    }
}

/// A local file error: final, and naming the file.
fn storage(path: &Path, error: std::io::Error) -> Failure {
    Failure {
        error: PlatformError::Storage {
            message: format!("cannot read the slug archive {}", path.display()),
            source: Some(Box::new(error)),
        },
        retry: super::http::Retry::Never,
        retry_after: None,
    }
}

/// The URL without its query (the signature) and fragment, for messages.
pub fn without_signature(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}
