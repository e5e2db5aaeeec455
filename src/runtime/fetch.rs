//! Downloading runtime archives: streamed to a temp file in the cache with the SHA-256 computed
//! on the way, retried with capped exponential backoff, and renamed into place only once the
//! hash is known (and, when pinned, verified). A failed or mismatched download leaves nothing.

use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{DownloadFailure, FetchReporter, RuntimeError, redact_url};
use crate::cache::{Bucket, Cache};

/// How downloads behave: retries and backoff, and the caps extraction applies.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Attempts after the first one, for connection errors, truncated bodies and 5xx/429.
    pub retries: u32,
    /// The delay before the first retry; each later one doubles it, up to `max_delay`.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Caps against decompression bombs when the archive is unpacked.
    pub limits: super::ExtractLimits,
}

impl Default for FetchOptions {
    /// 4 retries, 500 ms doubling up to 8 s, default extraction caps.
    fn default() -> Self {
        FetchOptions {
            retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            limits: super::ExtractLimits::default(),
        }
    }
}

impl FetchOptions {
    /// The delay before retry number `retry` (0-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// A downloaded archive in a temp file of the archives bucket, with its hash.
pub(super) struct Download {
    pub temp: tempfile::NamedTempFile,
    pub sha256: String,
    pub bytes: u64,
}

/// What every fetch of one run shares: the HTTP client, the cache, the options, the reporter.
pub(super) struct Fetcher<'a> {
    /// Built on first use: initialising TLS costs milliseconds that a build whose runtimes
    /// are all cached (the common case) should not pay.
    client: std::sync::OnceLock<reqwest::Client>,
    pub cache: &'a Cache,
    pub options: &'a FetchOptions,
    pub reporter: &'a dyn FetchReporter,
}

impl<'a> Fetcher<'a> {
    pub fn new(
        cache: &'a Cache,
        options: &'a FetchOptions,
        reporter: &'a dyn FetchReporter,
    ) -> Self {
        Fetcher {
            client: std::sync::OnceLock::new(),
            cache,
            options,
            reporter,
        }
    }

    /// The HTTP client, built on first use.
    pub fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("slugplan/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .read_timeout(Duration::from_secs(60))
                .build()
                .expect("the TLS backend initialises")
        })
    }
}

/// Downloads `url` (https, http or file) for runtime `name` into the cache's archives bucket.
pub(super) async fn download(
    fetcher: &Fetcher<'_>,
    name: &str,
    url: &str,
) -> Result<Download, RuntimeError> {
    let parsed = url::Url::parse(url).map_err(|err| RuntimeError::BadUrl {
        name: name.to_owned(),
        url: redact_url(url),
        reason: err.to_string(),
        manifest: None,
        span: None,
    })?;
    match parsed.scheme() {
        "file" => read_file(fetcher, name, &parsed).await,
        "http" | "https" => download_http(fetcher, name, url).await,
        other => Err(RuntimeError::BadUrl {
            name: name.to_owned(),
            url: redact_url(url),
            reason: format!("unsupported scheme `{other}` (use https://, http:// or file://)"),
            manifest: None,
            span: None,
        }),
    }
}

async fn read_file(
    fetcher: &Fetcher<'_>,
    name: &str,
    url: &url::Url,
) -> Result<Download, RuntimeError> {
    let reporter = fetcher.reporter;
    let path = url.to_file_path().map_err(|()| RuntimeError::BadUrl {
        name: name.to_owned(),
        url: url.to_string(),
        reason: "not a local file path".to_owned(),
        manifest: None,
        span: None,
    })?;
    let io = |source| RuntimeError::Io {
        name: name.to_owned(),
        path: path.clone(),
        source,
    };
    let mut source = tokio::fs::File::open(&path).await.map_err(io)?;
    let total = source.metadata().await.map_err(io)?.len();
    reporter.on_start(name, url.as_str(), Some(total));
    let mut sink = Sink::new(name, fetcher.cache)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = source.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        sink.write(&buf[..n]).await?;
        reporter.on_progress(name, sink.bytes);
    }
    sink.finish().await
}

async fn download_http(
    fetcher: &Fetcher<'_>,
    name: &str,
    url: &str,
) -> Result<Download, RuntimeError> {
    let shown = redact_url(url);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match attempt_http(fetcher, name, url, &shown).await {
            Ok(download) => return Ok(download),
            Err(Attempt::Fatal(err)) => return Err(err),
            Err(Attempt::Retryable(failure)) if attempt <= fetcher.options.retries => failure,
            Err(Attempt::Retryable(failure) | Attempt::Rejected(failure)) => {
                return Err(RuntimeError::Download {
                    name: name.to_owned(),
                    url: shown,
                    attempts: attempt,
                    source: failure,
                    manifest: None,
                    span: None,
                });
            }
        };
        let delay = fetcher.options.delay(attempt - 1);
        fetcher
            .reporter
            .on_retry(name, attempt, &innermost(&failure), delay);
        tokio::time::sleep(delay).await;
    }
}

/// How one attempt failed: worth retrying (connection, 5xx, 429, short body), a final answer
/// from the server (other 4xx), or a local error.
enum Attempt {
    Retryable(DownloadFailure),
    Rejected(DownloadFailure),
    Fatal(RuntimeError),
}

async fn attempt_http(
    fetcher: &Fetcher<'_>,
    name: &str,
    url: &str,
    shown: &str,
) -> Result<Download, Attempt> {
    let reporter = fetcher.reporter;
    let response = fetcher
        .client()
        .get(url)
        .send()
        .await
        .map_err(|err| Attempt::Retryable(DownloadFailure::Transport(err.without_url())))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Attempt::Retryable(DownloadFailure::Status(status.as_u16())));
    }
    if !status.is_success() {
        return Err(Attempt::Rejected(DownloadFailure::Status(status.as_u16())));
    }
    let total = response.content_length();
    reporter.on_start(name, shown, total);
    let mut sink = Sink::new(name, fetcher.cache).map_err(Attempt::Fatal)?;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|err| Attempt::Retryable(DownloadFailure::Transport(err.without_url())))?;
        sink.write(&chunk).await.map_err(Attempt::Fatal)?;
        reporter.on_progress(name, sink.bytes);
    }
    if let Some(expected) = total
        && sink.bytes != expected
    {
        return Err(Attempt::Retryable(DownloadFailure::Truncated {
            got: sink.bytes,
            expected,
        }));
    }
    sink.finish().await.map_err(Attempt::Fatal)
}

/// A temp file in the archives bucket that hashes what is written to it.
struct Sink {
    /// The runtime it is for.
    name: String,
    temp: tempfile::NamedTempFile,
    file: tokio::fs::File,
    hasher: Sha256,
    bytes: u64,
}

impl Sink {
    fn new(name: &str, cache: &Cache) -> Result<Self, RuntimeError> {
        let temp =
            cache
                .temp_file(Bucket::RuntimeArchives)
                .map_err(|source| RuntimeError::Cache {
                    name: name.to_owned(),
                    source,
                })?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|source| RuntimeError::Io {
                name: name.to_owned(),
                path: temp.path().to_owned(),
                source,
            })?;
        Ok(Sink {
            name: name.to_owned(),
            temp,
            file: tokio::fs::File::from_std(file),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), RuntimeError> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.file
            .write_all(data)
            .await
            .map_err(|source| RuntimeError::Io {
                name: self.name.clone(),
                path: self.temp.path().to_owned(),
                source,
            })
    }

    async fn finish(mut self) -> Result<Download, RuntimeError> {
        let io = |source| RuntimeError::Io {
            name: self.name.clone(),
            path: self.temp.path().to_owned(),
            source,
        };
        self.file.flush().await.map_err(io)?;
        self.file.sync_all().await.map_err(io)?;
        Ok(Download {
            sha256: hex::encode(self.hasher.finalize()),
            temp: self.temp,
            bytes: self.bytes,
        })
    }
}

/// The failure with its innermost cause, e.g. "connection error: Connection refused (os error
/// 111)": enough to act on in a one-line retry notice.
fn innermost(failure: &DownloadFailure) -> String {
    let mut cause: &dyn std::error::Error = failure;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if std::ptr::addr_eq(cause, failure) {
        failure.to_string()
    } else {
        format!("{failure}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let options = FetchOptions {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..FetchOptions::default()
        };
        let delays: Vec<u128> = (0..5).map(|n| options.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350, 350]);
        assert_eq!(
            options.delay(40).as_millis(),
            350,
            "no overflow for large retry counts"
        );
    }

    #[test]
    fn urls_lose_their_credentials() {
        use crate::runtime::redact_url;
        assert_eq!(
            redact_url("https://u:secret@example.com/a.tgz"),
            "https://***@example.com/a.tgz"
        );
        assert_eq!(
            redact_url("https://token@example.com/a.tgz"),
            "https://***@example.com/a.tgz"
        );
        assert_eq!(
            redact_url("https://example.com/a.tgz"),
            "https://example.com/a.tgz"
        );
    }
}
