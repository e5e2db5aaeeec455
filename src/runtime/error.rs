//! The runtime module's errors: each names the runtime and the URL (credentials redacted) or
//! path it is about, and says which command or setting fixes it.

use std::path::PathBuf;

use miette::SourceSpan;

use super::{ExtractError, LockError};
use crate::cache::CacheError;
use crate::manifest::ManifestSource;

/// Errors while making a runtime's tree available.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RuntimeError {
    /// The runtime's local directory does not exist.
    #[error("runtime `{name}`: directory {} does not exist", path.display())]
    #[diagnostic(help("fix `path` in [runtimes.{name}]; it is relative to slug.toml"))]
    MissingDirectory {
        /// The runtime's name.
        name: String,
        /// The directory.
        path: PathBuf,
        /// slug.toml (filled in by `RuntimeError::located`).
        #[source_code]
        manifest: Option<ManifestSource>,
        /// The runtime's `path` in slug.toml.
        #[label("no such directory")]
        span: Option<SourceSpan>,
    },
    /// The manifest does not name this runtime.
    #[error("no runtime `{name}` in the manifest")]
    Unknown {
        /// The runtime's name.
        name: String,
    },
    /// Neither slug.toml nor slug.lock gives the archive's hash.
    #[error("runtime `{name}`: no sha256 for {url} in slug.toml or slug.lock")]
    #[diagnostic(help("run `slugplan lock` to pin it, or set `sha256` in [runtimes.{name}]"))]
    NotPinned {
        /// The runtime's name.
        name: String,
        /// Its URL (redacted).
        url: String,
        /// slug.toml, when it can be shown (not when the URL holds credentials).
        #[source_code]
        manifest: Option<ManifestSource>,
        /// The runtime's URL in slug.toml.
        #[label("no sha256 for this URL here or in slug.lock")]
        span: Option<SourceSpan>,
    },
    /// slug.lock pins another URL than the manifest names.
    #[error("runtime `{name}`: slug.lock pins {locked_url}, but slug.toml now says {manifest_url}")]
    #[diagnostic(help("run `slugplan lock` to pin the new URL"))]
    StaleLock {
        /// The runtime's name.
        name: String,
        /// The URL in slug.lock (redacted).
        locked_url: String,
        /// The URL in slug.toml (redacted).
        manifest_url: String,
        /// slug.toml, when it can be shown (not when the URL holds credentials).
        #[source_code]
        manifest: Option<ManifestSource>,
        /// The runtime's URL in slug.toml.
        #[label("slug.lock pins another URL")]
        span: Option<SourceSpan>,
    },
    /// The archive is not in the cache and `materialize` does not download.
    #[error("runtime `{name}` is not fetched ({url})")]
    #[diagnostic(help("run `slugplan fetch {name}` (or `slugplan apply`, which fetches first)"))]
    NotFetched {
        /// The runtime's name.
        name: String,
        /// Its URL (redacted).
        url: String,
    },
    /// The URL cannot be fetched.
    #[error("runtime `{name}`: bad url {url}: {reason}")]
    BadUrl {
        /// The runtime's name.
        name: String,
        /// The URL (redacted).
        url: String,
        /// What is wrong with it.
        reason: String,
        /// slug.toml (filled in by `RuntimeError::located`).
        #[source_code]
        manifest: Option<ManifestSource>,
        /// The runtime's URL in slug.toml.
        #[label("this URL")]
        span: Option<SourceSpan>,
    },
    /// The download failed (after retrying what can be retried).
    #[error(
        "runtime `{name}`: downloading {url} failed after {}",
        crate::human::count(*attempts as usize, "attempt", "attempts")
    )]
    #[diagnostic(help("check the URL and the network; SLUGPLAN_FETCH_RETRIES sets the retries"))]
    Download {
        /// The runtime's name.
        name: String,
        /// The URL (redacted).
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        source: DownloadFailure,
        /// slug.toml (filled in by `RuntimeError::located`).
        #[source_code]
        manifest: Option<ManifestSource>,
        /// The runtime's URL in slug.toml.
        #[label("downloading this failed")]
        span: Option<SourceSpan>,
    },
    /// The download did not finish in time, every attempt included.
    #[error(
        "runtime `{name}`: downloading {url} did not finish within {} s ({})",
        limit.as_secs_f64(),
        crate::human::count(*attempts as usize, "attempt", "attempts")
    )]
    #[diagnostic(help(
        "check the URL and the network; SLUGPLAN_FETCH_TIMEOUT sets the limit in seconds, SLUGPLAN_FETCH_IDLE_TIMEOUT how long an answer may stand still"
    ))]
    TimedOut {
        /// The runtime's name.
        name: String,
        /// The URL (redacted).
        url: String,
        /// The limit that passed.
        limit: std::time::Duration,
        /// How many attempts were started.
        attempts: u32,
    },
    /// The archive is larger than a runtime archive may be.
    #[error(
        "runtime `{name}`: {url} is larger than the download limit of {limit} bytes{}",
        announced.map_or_else(String::new, |size| format!(" (it announces {size} bytes)"))
    )]
    #[diagnostic(help(
        "nothing was kept; if the archive is genuine, set SLUGPLAN_MAX_DOWNLOAD_BYTES to a larger number of bytes"
    ))]
    TooLarge {
        /// The runtime's name.
        name: String,
        /// The URL (redacted).
        url: String,
        /// The limit, in bytes.
        limit: u64,
        /// The size the server (or the file system) announced, when that is what was refused;
        /// None when the bytes arriving passed the limit.
        announced: Option<u64>,
    },
    /// A `file:` URL names something other than a regular file (a fifo, a device, a
    /// directory), which is refused unread.
    #[error("runtime `{name}`: {} is not a regular file", path.display())]
    #[diagnostic(help("a file: URL names an archive file"))]
    NotAFile {
        /// The runtime's name.
        name: String,
        /// The path the URL names.
        path: PathBuf,
    },
    /// The archive's hash is not the pinned one (slug.toml's `sha256`, or slug.lock's).
    #[error(transparent)]
    #[diagnostic(transparent)]
    ChecksumMismatch(Box<ChecksumMismatch>),
    /// The archive could not be unpacked safely.
    #[error("runtime `{name}`: refused to unpack its archive from {url}")]
    Extract {
        /// The runtime's name.
        name: String,
        /// Its URL (redacted).
        url: String,
        /// Why.
        #[source]
        #[diagnostic_source]
        source: ExtractError,
    },
    /// slug.lock could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    /// The cache could not be used.
    #[error("runtime `{name}`: cache error")]
    Cache {
        /// The runtime's name.
        name: String,
        /// The cache error.
        #[source]
        #[diagnostic_source]
        source: CacheError,
    },
    /// A local file of the runtime (its `file:` archive, its place in the cache) could not be
    /// read or written.
    #[error("runtime `{name}`: cannot read or write {}", path.display())]
    Io {
        /// The runtime's name.
        name: String,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Why one download attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadFailure {
    /// The server answered with an error status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The connection failed or broke.
    #[error("connection error")]
    Transport(#[source] reqwest::Error),
    /// The answer stood still for longer than the idle timeout.
    #[error("no data for {} s", idle.as_secs_f64())]
    Stalled {
        /// The idle timeout.
        idle: std::time::Duration,
    },
    /// The body ended before `Content-Length` bytes.
    #[error("the connection closed after {got} of {expected} bytes")]
    Truncated {
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        expected: u64,
    },
}

/// A runtime archive whose bytes do not have the pinned hash: what [`RuntimeError::ChecksumMismatch`]
/// holds, naming both hashes and underlining the pin (slug.toml's `sha256`, or the URL
/// slug.lock pins).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(
    "runtime `{name}`: checksum mismatch: the archive at {url} has sha256 {actual}, but {pinned_in} pins sha256 {expected}"
)]
pub struct ChecksumMismatch {
    /// The runtime's name.
    pub name: String,
    /// The URL (redacted).
    pub url: String,
    /// The pinned hash.
    pub expected: String,
    /// The hash of the bytes read.
    pub actual: String,
    /// Which file pins `expected`: `slug.toml` or `slug.lock`.
    pub pinned_in: &'static str,
    /// slug.toml, when it can be shown (not when the URL holds credentials).
    #[source_code]
    pub manifest: Option<ManifestSource>,
    /// The `sha256` in slug.toml, or the runtime's URL when slug.lock pins it.
    #[label("{label}")]
    pub span: Option<SourceSpan>,
    /// What the label says.
    pub label: String,
    /// How to fix it, for where the pin is.
    #[help]
    pub help: String,
}
