//! Downloading runtime archives: streamed to a temp file in the cache with the SHA-256 computed
//! on the way, retried with capped exponential backoff, and renamed into place only once the
//! hash is known (and, when pinned, verified). A failed or mismatched download leaves nothing.
//!
//! Every wait and every byte is bounded ([`FetchOptions`]): a connection opens within
//! `connect_timeout`, a body that stands still for `idle_timeout` is abandoned (and retried),
//! one runtime's download ends within `timeout` whatever the retries, and an archive larger than
//! `max_download_bytes` is refused, by its `Content-Length` before a byte is stored, and by the
//! bytes counted as they arrive (a host answering an endless body without one).

use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{DownloadFailure, FetchReporter, RuntimeError, redact_url};
use crate::cache::{Bucket, Cache};

/// How downloads behave: retries and backoff, the bounds on waits and size, and the caps
/// extraction applies.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Attempts after the first one, for connection errors, truncated bodies and 5xx/429.
    pub retries: u32,
    /// The delay before the first retry; each later one doubles it, up to `max_delay`.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// The longest wait for a connection to open.
    pub connect_timeout: Duration,
    /// The longest an answer may stand still (no header, no body byte) before the attempt is
    /// abandoned and retried.
    pub idle_timeout: Duration,
    /// The longest one runtime's download may take, every attempt and backoff included.
    pub timeout: Duration,
    /// The most bytes a runtime archive may have.
    pub max_download_bytes: u64,
    /// Caps against decompression bombs when the archive is unpacked.
    pub limits: super::ExtractLimits,
}

/// The default [`FetchOptions::max_download_bytes`]: 2 GiB, ten times the largest runtime
/// tarballs (Node's is ~30 MB, a Ruby or JDK build a few hundred).
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 2 << 30;

impl Default for FetchOptions {
    /// 4 retries, 500 ms doubling up to 8 s; connect within 10 s, no standing still for 30 s,
    /// done within 10 minutes; at most [`DEFAULT_MAX_DOWNLOAD_BYTES`]; default extraction caps.
    fn default() -> Self {
        FetchOptions {
            retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(600),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
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
                .connect_timeout(self.options.connect_timeout)
                .read_timeout(self.options.idle_timeout)
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
    let not_a_file = || RuntimeError::NotAFile {
        name: name.to_owned(),
        path: path.clone(),
    };
    // Checked before opening (opening a fifo waits for a writer) and again on what was
    // opened (it may have been replaced in between).
    if !tokio::fs::metadata(&path).await.map_err(io)?.is_file() {
        return Err(not_a_file());
    }
    let mut source = tokio::fs::File::open(&path).await.map_err(io)?;
    let meta = source.metadata().await.map_err(io)?;
    if !meta.is_file() {
        return Err(not_a_file());
    }
    let total = meta.len();
    let mut sink = Sink::new(name, url.as_str(), fetcher)?;
    sink.announced(Some(total))?;
    reporter.on_start(name, url.as_str(), Some(total));
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

/// Downloads over HTTP, retrying what can be retried, within [`FetchOptions::timeout`].
async fn download_http(
    fetcher: &Fetcher<'_>,
    name: &str,
    url: &str,
) -> Result<Download, RuntimeError> {
    let shown = redact_url(url);
    let mut attempt = 0;
    let attempts = async {
        loop {
            attempt += 1;
            let failure = match attempt_http(fetcher, name, url, &shown).await {
                Ok(download) => return Ok(download),
                Err(Attempt::Fatal(err)) => return Err(err),
                Err(Attempt::Retryable(failure)) if attempt <= fetcher.options.retries => failure,
                Err(Attempt::Retryable(failure) | Attempt::Rejected(failure)) => {
                    return Err(RuntimeError::Download {
                        name: name.to_owned(),
                        url: shown.clone(),
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
    };
    // Dropping the attempt in flight drops its temp file, which deletes it.
    let outcome = tokio::time::timeout(fetcher.options.timeout, attempts).await;
    outcome.unwrap_or_else(|_| {
        Err(RuntimeError::TimedOut {
            name: name.to_owned(),
            url: shown.clone(),
            limit: fetcher.options.timeout,
            attempts: attempt,
        })
    })
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
    let transport = |err: reqwest::Error| {
        Attempt::Retryable(if err.is_timeout() {
            DownloadFailure::Stalled {
                idle: fetcher.options.idle_timeout,
            }
        } else {
            DownloadFailure::Transport(err.without_url())
        })
    };
    let response = fetcher.client().get(url).send().await.map_err(transport)?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Attempt::Retryable(DownloadFailure::Status(status.as_u16())));
    }
    if !status.is_success() {
        return Err(Attempt::Rejected(DownloadFailure::Status(status.as_u16())));
    }
    let total = response.content_length();
    let mut sink = Sink::new(name, shown, fetcher).map_err(Attempt::Fatal)?;
    sink.announced(total).map_err(Attempt::Fatal)?;
    reporter.on_start(name, shown, total);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(transport)?;
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

/// A temp file in the archives bucket that hashes what is written to it and refuses to hold
/// more than [`FetchOptions::max_download_bytes`].
struct Sink {
    temp: tempfile::NamedTempFile,
    file: tokio::fs::File,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    /// The runtime and its (redacted) URL, for the error when the limit is passed.
    name: String,
    url: String,
}

impl Sink {
    fn new(name: &str, url: &str, fetcher: &Fetcher<'_>) -> Result<Self, RuntimeError> {
        let temp = fetcher
            .cache
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
            temp,
            file: tokio::fs::File::from_std(file),
            hasher: Sha256::new(),
            bytes: 0,
            limit: fetcher.options.max_download_bytes,
            name: name.to_owned(),
            url: redact_url(url),
        })
    }

    /// Refuses a download whose announced size (`Content-Length`, a file's length) is over
    /// the limit, before a byte of it is stored.
    fn announced(&self, size: Option<u64>) -> Result<(), RuntimeError> {
        match size {
            Some(size) if size > self.limit => Err(self.too_large(Some(size))),
            _ => Ok(()),
        }
    }

    fn too_large(&self, announced: Option<u64>) -> RuntimeError {
        RuntimeError::TooLarge {
            name: self.name.clone(),
            url: self.url.clone(),
            limit: self.limit,
            announced,
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), RuntimeError> {
        if self.bytes + data.len() as u64 > self.limit {
            return Err(self.too_large(None));
        }
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
