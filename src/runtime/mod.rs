//! Runtimes: the trees (Node.js, Ruby, …) a slug contains, fetched, verified and unpacked into
//! the cache, or taken from a local directory.
//!
//! Two steps, so that plan/apply can run fetches in parallel with other work:
//!
//! 1. [`fetch`] / [`fetch_all`] (async, network): download each archive, verify its pinned
//!    SHA-256 (from `slug.toml`, else from [`Lockfile`]), store it in the cache under that hash
//!    and unpack it, safely ([`extract`]), into a read-only tree keyed by hash, strip count and
//!    extraction version.
//! 2. [`materialize`] (sync, no network): return the unpacked tree; it unpacks a cached archive
//!    if needed and otherwise says to run `slugplan fetch`.
//!
//! Guarantees: nothing enters the cache unverified; every cache entry appears by an atomic
//! rename; two processes fetching the same archive serialise on a per-archive file lock, the
//! second reusing what the first stored; URLs are shown with their credentials redacted.

mod error;
mod extract;
mod fetch;
mod lock;

pub use error::{ChecksumMismatch, DownloadFailure, RuntimeError};
pub use extract::{
    ExtractError, ExtractLimits, RATIO_GRACE_BYTES, extract, extract_linking, make_read_only,
};
pub use fetch::{DEFAULT_MAX_DOWNLOAD_BYTES, FetchOptions};
pub use lock::{
    LOCK_FILE, LOCK_VERSION, LockChange, LockError, LockedRuntime, Lockfile, update_lockfile,
};

use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::SourceSpan;

use crate::cache::{Cache, CacheKey};
use crate::manifest::{LoadedManifest, ManifestSource};

/// Bumped when the way trees are unpacked changes, so old trees are never reused.
pub const EXTRACT_VERSION: u32 = 1;

/// A runtime's unpacked tree and where it goes inside `./app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeTree {
    /// The runtime's name in the manifest.
    pub name: String,
    /// The directory holding the tree's files.
    pub root: PathBuf,
    /// Path inside `./app` (no leading or trailing `/`; empty for the root of `./app`).
    pub dest: String,
    /// The tree's cache key ([`tree_key`]) when it was unpacked from a pinned archive (its
    /// content is then fixed by the key); None for a local `path` directory.
    pub tree_key: Option<String>,
}

/// What [`fetch`] made available.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FetchedArchive {
    /// The runtime's name.
    pub name: String,
    /// The archive's SHA-256 (`None` for a local directory runtime).
    pub sha256: Option<String>,
    /// The unpacked tree (or the local directory).
    pub tree: PathBuf,
    /// How many bytes were downloaded now (0 when everything came from the cache).
    pub downloaded: u64,
}

/// Receives download progress. Implemented at the edge (terminal bars, plain lines, JSON).
/// Events for one runtime come in order: `on_start`, `on_progress`…, then `on_finish`, with
/// `on_retry` (and a new `on_start`) between attempts. Cached runtimes get only `on_finish`.
pub trait FetchReporter: Send + Sync {
    /// A download of `name` from `url` (redacted) begins; `total` is its size if known.
    fn on_start(&self, name: &str, url: &str, total: Option<u64>);
    /// `bytes` of `name` have arrived so far.
    fn on_progress(&self, name: &str, bytes: u64);
    /// Attempt `attempt` failed with `error`; the next starts after `delay`.
    fn on_retry(&self, name: &str, attempt: u32, error: &str, delay: Duration);
    /// `name` is ready; `downloaded` bytes came over the network (0 = cache hit).
    fn on_finish(&self, name: &str, downloaded: u64);
}

/// A reporter that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl FetchReporter for NoReporter {
    fn on_start(&self, _: &str, _: &str, _: Option<u64>) {}
    fn on_progress(&self, _: &str, _: u64) {}
    fn on_retry(&self, _: &str, _: u32, _: &str, _: Duration) {}
    fn on_finish(&self, _: &str, _: u64) {}
}

/// `url` with any password (and user name) replaced by `***`, fit to print.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("***");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Unparseable: show only what cannot hold credentials.
        Err(_) => url.split('@').next_back().unwrap_or_default().to_owned(),
    }
}

/// A URL runtime's URL and its pinned hash, from slug.toml or else slug.lock.
pub fn pinned(
    loaded: &LoadedManifest,
    name: &str,
    lock: &Lockfile,
) -> Result<(String, String), RuntimeError> {
    let spec = spec(loaded, name)?;
    let url = spec.url.clone().unwrap_or_default();
    if let Some(sha) = &spec.sha256 {
        return Ok((url, sha.clone()));
    }
    let (manifest, span) = located(loaded, name, "url");
    match lock.runtimes.get(name) {
        Some(entry) if entry.url == url => Ok((url, entry.sha256.clone())),
        Some(entry) => Err(RuntimeError::StaleLock {
            name: name.to_owned(),
            locked_url: redact_url(&entry.url),
            manifest_url: redact_url(&url),
            manifest,
            span,
        }),
        None => Err(RuntimeError::NotPinned {
            name: name.to_owned(),
            url: redact_url(&url),
            manifest,
            span,
        }),
    }
}

/// slug.toml and the span of runtime `name`'s `key`, for an error to underline it. Both are
/// None when the runtime's URL holds credentials: a snippet shows the lines around the value,
/// and the URL is one of them.
pub(crate) fn located(
    loaded: &LoadedManifest,
    name: &str,
    key: &str,
) -> (Option<ManifestSource>, Option<SourceSpan>) {
    let url = loaded
        .manifest
        .runtimes
        .get(name)
        .and_then(|spec| spec.url.as_deref())
        .unwrap_or_default();
    if redact_url(url) != url {
        return (None, None);
    }
    loaded.snippet(&["runtimes", name, key])
}

/// The error for runtime `name`'s archive from `url` hashing to `actual` where its pin (from
/// slug.toml, else slug.lock) says `expected`: it underlines the pin when slug.toml holds it,
/// else the URL slug.lock pins, and says how to fix that pin.
pub(crate) fn checksum_mismatch(
    loaded: &LoadedManifest,
    name: &str,
    url: &str,
    expected: &str,
    actual: &str,
) -> RuntimeError {
    let in_manifest = loaded
        .manifest
        .runtimes
        .get(name)
        .is_some_and(|spec| spec.sha256.is_some());
    let (pinned_in, key, label, help) = if in_manifest {
        (
            "slug.toml",
            "sha256",
            "the archive does not have this hash".to_owned(),
            format!(
                "if the archive at the URL is the one you mean, set sha256 = \"{actual}\", or \
                 remove `sha256` and run `slugplan lock` to pin what the URL serves in slug.lock"
            ),
        )
    } else {
        (
            "slug.lock",
            "url",
            format!("slug.lock pins sha256 {expected} for this URL"),
            "the archive changed since it was locked; if the new one is trusted, run \
             `slugplan lock` to pin it again"
                .to_owned(),
        )
    };
    let (manifest, span) = located(loaded, name, key);
    RuntimeError::ChecksumMismatch(Box::new(ChecksumMismatch {
        name: name.to_owned(),
        url: redact_url(url),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
        pinned_in,
        manifest,
        span,
        label,
        help,
    }))
}

impl RuntimeError {
    /// This error with the manifest value it is about underlined (the runtime's URL for a
    /// bad URL or a failed download), for errors raised where the manifest is not at hand.
    pub(crate) fn located(mut self, loaded: &LoadedManifest) -> Self {
        if let RuntimeError::BadUrl {
            name,
            manifest,
            span,
            ..
        }
        | RuntimeError::Download {
            name,
            manifest,
            span,
            ..
        } = &mut self
            && manifest.is_none()
        {
            (*manifest, *span) = located(loaded, name, "url");
        }
        self
    }
}

fn spec<'a>(
    loaded: &'a LoadedManifest,
    name: &str,
) -> Result<&'a crate::manifest::Runtime, RuntimeError> {
    loaded
        .manifest
        .runtimes
        .get(name)
        .ok_or_else(|| RuntimeError::Unknown {
            name: name.to_owned(),
        })
}

/// The path of runtime `name`'s cache entry `key`, its bucket created so it can be written.
fn writable(cache: &Cache, name: &str, key: CacheKey<'_>) -> Result<PathBuf, RuntimeError> {
    cache
        .bucket(key.bucket())
        .map_err(|source| RuntimeError::Cache {
            name: name.to_owned(),
            source,
        })?;
    Ok(cache.entry(key).into_path())
}

/// The cache key of an unpacked tree.
pub fn tree_key(sha256: &str, strip_components: u32) -> String {
    format!("{sha256}-s{strip_components}-x{EXTRACT_VERSION}")
}

/// Fetches (downloads, verifies, stores and unpacks) runtime `name`. A local `path` runtime
/// only has its directory checked. Already-cached archives and trees are reused without network.
pub async fn fetch(
    loaded: &LoadedManifest,
    name: &str,
    cache: &Cache,
    lock: &Lockfile,
    options: &FetchOptions,
    reporter: &dyn FetchReporter,
) -> Result<FetchedArchive, RuntimeError> {
    let fetcher = fetch::Fetcher::new(cache, options, reporter);
    fetch_with(&fetcher, loaded, name, lock)
        .await
        .map_err(|err| err.located(loaded))
}

/// Fetches several runtimes in parallel; fails with the first error.
pub async fn fetch_all(
    loaded: &LoadedManifest,
    names: &[String],
    cache: &Cache,
    lock: &Lockfile,
    options: &FetchOptions,
    reporter: &dyn FetchReporter,
) -> Result<Vec<FetchedArchive>, RuntimeError> {
    let fetcher = fetch::Fetcher::new(cache, options, reporter);
    let jobs = names
        .iter()
        .map(|name| fetch_with(&fetcher, loaded, name, lock));
    futures_util::future::try_join_all(jobs)
        .await
        .map_err(|err| err.located(loaded))
}

async fn fetch_with(
    fetcher: &fetch::Fetcher<'_>,
    loaded: &LoadedManifest,
    name: &str,
    lock: &Lockfile,
) -> Result<FetchedArchive, RuntimeError> {
    let (cache, reporter) = (fetcher.cache, fetcher.reporter);
    let runtime = spec(loaded, name)?;
    if runtime.path.is_some() {
        let tree = materialize(loaded, name, cache)?;
        reporter.on_finish(name, 0);
        return Ok(FetchedArchive {
            name: name.to_owned(),
            sha256: None,
            tree: tree.root,
            downloaded: 0,
        });
    }
    let (url, sha) = pinned(loaded, name, lock)?;
    let tree = writable(
        cache,
        name,
        CacheKey::RuntimeTree(&tree_key(&sha, runtime.strip_components)),
    )?;
    let mut downloaded = 0;
    if !tree.is_dir() {
        let archive = writable(cache, name, CacheKey::RuntimeArchive(&sha))?;
        if !archive.is_file() {
            let url = absolute_url(loaded, &url);
            downloaded = fetch_pinned(fetcher, loaded, name, &url, &sha, &archive).await?;
        }
        let (name_owned, limits, strip) = (
            name.to_owned(),
            fetcher.options.limits,
            runtime.strip_components,
        );
        let (tree_dir, shown_url) = (tree.clone(), redact_url(&url));
        tokio::task::spawn_blocking(move || {
            unpack(&name_owned, &shown_url, &archive, &tree_dir, strip, limits)
        })
        .await
        .expect("unpacking does not panic")?;
    }
    reporter.on_finish(name, downloaded);
    Ok(FetchedArchive {
        name: name.to_owned(),
        sha256: Some(sha),
        tree,
        downloaded,
    })
}

/// Downloads `url` into `archive` under the per-archive lock, verifying `sha`. Returns the bytes
/// downloaded (0 when another process stored it while this one waited for the lock).
async fn fetch_pinned(
    fetcher: &fetch::Fetcher<'_>,
    loaded: &LoadedManifest,
    name: &str,
    url: &str,
    sha: &str,
    archive: &Path,
) -> Result<u64, RuntimeError> {
    let _guard = lock_archive(name, archive).await?;
    if archive.is_file() {
        return Ok(0);
    }
    let download = fetch::download(fetcher, name, url).await?;
    if download.sha256 != sha {
        return Err(checksum_mismatch(loaded, name, url, sha, &download.sha256));
    }
    crate::cache::persist(download.temp, archive).map_err(|source| RuntimeError::Cache {
        name: name.to_owned(),
        source,
    })?;
    record_origin(fetcher.cache, sha, name, url);
    Ok(download.bytes)
}

/// Records that the archive `sha` is runtime `name` from `url`, for `slugplan cache ls`.
fn record_origin(cache: &Cache, sha: &str, name: &str, url: &str) {
    let about = crate::cache::about::About {
        name: name.to_owned(),
        url: Some(redact_url(url)),
        stack: None,
    };
    crate::cache::about::record(cache, crate::cache::Bucket::RuntimeArchives, sha, &about);
}

/// Takes the exclusive lock `<archive>.lock` (for runtime `name`), waiting for another process
/// that holds it.
async fn lock_archive(name: &str, archive: &Path) -> Result<std::fs::File, RuntimeError> {
    let (name, path) = (name.to_owned(), archive.with_extension("lock"));
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|file| file.lock().map(|()| file));
        file.map_err(|source| RuntimeError::Io { name, path, source })
    })
    .await
    .expect("locking does not panic")
}

/// `url` with a relative `file:` URL (npm's convention: `file:runtimes/node.tar.gz`, no
/// slashes after the colon) made absolute against the manifest's directory, so a manifest and
/// its slug.lock can name an archive that lives beside them in the repository.
pub fn absolute_url(loaded: &LoadedManifest, url: &str) -> String {
    match url.strip_prefix("file:") {
        Some(rest) if !rest.starts_with('/') => {
            let path = loaded.dir.join(rest);
            let path = std::path::absolute(&path).unwrap_or(path);
            url::Url::from_file_path(&path).map_or_else(|()| url.to_owned(), |u| u.to_string())
        }
        _ => url.to_owned(),
    }
}

/// Downloads `url` without a pin (for `slugplan lock`), stores it in the cache under its hash
/// and returns the hash.
pub async fn hash_url(
    name: &str,
    url: &str,
    cache: &Cache,
    options: &FetchOptions,
    reporter: &dyn FetchReporter,
) -> Result<String, RuntimeError> {
    let fetcher = fetch::Fetcher::new(cache, options, reporter);
    let download = fetch::download(&fetcher, name, url).await?;
    let archive = writable(cache, name, CacheKey::RuntimeArchive(&download.sha256))?;
    crate::cache::persist(download.temp, &archive).map_err(|source| RuntimeError::Cache {
        name: name.to_owned(),
        source,
    })?;
    record_origin(cache, &download.sha256, name, url);
    reporter.on_finish(name, download.bytes);
    Ok(download.sha256)
}

/// Unpacks `archive` (of runtime `name`, from `url`, redacted) into `tree` via a temp
/// directory beside it; an existing tree is reused.
fn unpack(
    name: &str,
    url: &str,
    archive: &Path,
    tree: &Path,
    strip: u32,
    limits: ExtractLimits,
) -> Result<(), RuntimeError> {
    if tree.is_dir() {
        return Ok(());
    }
    let parent = tree.parent().expect("trees live in a bucket");
    let io = |path: &Path| {
        let (name, path) = (name.to_owned(), path.to_owned());
        move |source| RuntimeError::Io { name, path, source }
    };
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    extract(archive, temp.path(), strip, limits).map_err(|source| RuntimeError::Extract {
        name: name.to_owned(),
        url: url.to_owned(),
        source,
    })?;
    let staged = temp.keep();
    match std::fs::rename(&staged, tree) {
        Ok(()) => make_read_only(tree).map_err(io(tree)),
        // Another process finished first: its tree has the same content.
        Err(_) if tree.is_dir() => fs_err::remove_dir_all(&staged).map_err(io(&staged)),
        Err(source) => {
            let _ = std::fs::remove_dir_all(&staged);
            Err(RuntimeError::Io {
                name: name.to_owned(),
                path: tree.to_owned(),
                source,
            })
        }
    }
}

/// Makes runtime `name` of the manifest available as a directory tree, without network: a local
/// `path` as it is, else the cached tree, unpacking the cached archive (default caps) if needed.
pub fn materialize(
    loaded: &LoadedManifest,
    name: &str,
    cache: &Cache,
) -> Result<RuntimeTree, RuntimeError> {
    materialize_with(loaded, name, cache, ExtractLimits::default())
}

/// [`materialize`] with explicit extraction caps.
pub fn materialize_with(
    loaded: &LoadedManifest,
    name: &str,
    cache: &Cache,
    limits: ExtractLimits,
) -> Result<RuntimeTree, RuntimeError> {
    let spec = spec(loaded, name)?;
    let dest = spec.dest.clone().unwrap_or_default();
    if let Some(path) = &spec.path {
        let root = loaded.resolve(path);
        if !root.is_dir() {
            let (manifest, span) = located(loaded, name, "path");
            return Err(RuntimeError::MissingDirectory {
                name: name.to_owned(),
                path: root,
                manifest,
                span,
            });
        }
        return Ok(RuntimeTree {
            name: name.to_owned(),
            root,
            dest,
            tree_key: None,
        });
    }
    let lock = Lockfile::load(loaded)?;
    let (url, sha) = pinned(loaded, name, &lock)?;
    let key = tree_key(&sha, spec.strip_components);
    let root = writable(cache, name, CacheKey::RuntimeTree(&key))?;
    if !root.is_dir() {
        let archive = cache.entry(CacheKey::RuntimeArchive(&sha)).into_path();
        if !archive.is_file() {
            return Err(RuntimeError::NotFetched {
                name: name.to_owned(),
                url: redact_url(&url),
            });
        }
        unpack(
            name,
            &redact_url(&url),
            &archive,
            &root,
            spec.strip_components,
            limits,
        )?;
    }
    // Used now: pruning removes the least recently used trees first.
    crate::cache::touch(&root);
    Ok(RuntimeTree {
        name: name.to_owned(),
        root,
        dest,
        tree_key: Some(key),
    })
}
