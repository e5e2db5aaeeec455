//! Where a release's slug is unpacked for its dynos: `dynos/<sha256>/app` in the data
//! directory, one directory per slug archive, so releases of the same slug (a config change, a
//! rollback) share it.
//!
//! Unpacking uses the runtime extractor (`crate::runtime::extract_linking`), which refuses
//! entries that escape the directory, into a fresh temporary directory renamed into place once
//! whole: a directory under its final name is always a complete slug. The supervisor empties
//! `dynos/` when it starts (nothing runs from it then) and removes a slug's directory once no
//! dyno uses it.
//!
//! What the build cache already holds is reused where the bytes are provably the same: a slug
//! built on this machine has its files' cache copies recorded (`cache::slug_sources`: its
//! runtime's unpacked tree, its Go binary), and each of those files is hard-linked from the
//! cache when every byte and the executable bit match (compared while unpacking), instead of
//! written again. For the Node example that is 2,733 of its 2,735 files, and it takes its first
//! release from ~2.5 s to ~0.75 s on the 2-core development machine (figure 6), where making a
//! file costs up to ~0.6 ms. Linked files keep the cache's read-only modes, so a dyno cannot
//! change its runtime. A slug uploaded by another client (`slugplan server`) has no record and
//! is written whole.
//!
//! [`Slugs`] is the supervisor's view of them: unpacking a slug (a Node slug is ~50 MB
//! compressed) runs on a blocking thread, at most one per archive at a time, and its outcome
//! comes back to the supervisor's loop as an [`Unpacked`] message, so the loop goes on
//! supervising every other app meanwhile. A slug that cannot be unpacked is remembered as
//! failed while a release uses it, so it is not tried again every poll.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::cache::slug_sources;
use crate::platform::local::dynos::releases_dir;
use crate::runtime::{ExtractError, ExtractLimits, extract_linking};

/// Why a slug could not be unpacked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum UnpackError {
    /// The archive was refused or unreadable.
    #[error("cannot unpack the slug {sha256}")]
    Extract {
        /// The archive's hex SHA-256.
        sha256: String,
        /// Why the extractor refused it.
        #[source]
        source: ExtractError,
    },
    /// The directory could not be made, or the slug has no `app` folder.
    #[error("cannot unpack the slug {sha256} into {}", path.display())]
    Io {
        /// The archive's hex SHA-256.
        sha256: String,
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The directory the slug `sha256` is unpacked into.
pub fn slug_dir(data_dir: &Path, sha256: &str) -> PathBuf {
    releases_dir(data_dir).join(sha256)
}

/// The `app` folder of the slug `sha256` (whose archive is `archive`), unpacking it first if
/// it is not unpacked yet. With the build cache at `cache`, the slug's files that the cache
/// holds (its runtime's, recorded when the slug was built) are linked from there when their
/// bytes are the same. Blocking.
pub fn unpacked(
    data_dir: &Path,
    sha256: &str,
    archive: &Path,
    cache: Option<&Path>,
) -> Result<PathBuf, UnpackError> {
    let dir = slug_dir(data_dir, sha256);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| UnpackError::Io {
            sha256: sha256.to_owned(),
            path,
            source,
        }
    };
    if !dir.is_dir() {
        let parent = releases_dir(data_dir);
        fs_err::create_dir_all(&parent).map_err(io(&parent))?;
        let fresh = tempfile::Builder::new()
            .prefix(".unpacking-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let started = std::time::Instant::now();
        let sources = cache
            .map(|cache| slug_sources::read(cache, sha256))
            .unwrap_or_default();
        let limits = ExtractLimits::default();
        let source_of = |path: &[u8]| sources.source(path);
        let linked =
            extract_linking(archive, fresh.path(), 0, limits, &source_of).map_err(|source| {
                UnpackError::Extract {
                    sha256: sha256.to_owned(),
                    source,
                }
            })?;
        tracing::debug!(sha256, linked, elapsed = ?started.elapsed(), "slug unpacked");
        let fresh = fresh.keep();
        if let Err(err) = std::fs::rename(&fresh, &dir) {
            let _ = std::fs::remove_dir_all(&fresh);
            if !dir.is_dir() {
                return Err(io(&dir)(err));
            }
        }
    }
    let app = dir.join("app");
    if !app.is_dir() {
        return Err(io(&app)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the slug has no ./app folder",
        )));
    }
    Ok(app)
}

/// Removes the unpacked slug `sha256`; a failure is only logged (the next start empties the
/// directory anyway).
pub fn remove(data_dir: &Path, sha256: &str) {
    let dir = slug_dir(data_dir, sha256);
    if let Err(err) = std::fs::remove_dir_all(&dir)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %err, path = %dir.display(), "cannot remove an unpacked slug");
    }
}

/// Empties the unpacked slugs of `data_dir` (a supervisor starting or stopping: none runs).
pub fn clear(data_dir: &Path) {
    let dir = releases_dir(data_dir);
    if let Err(err) = std::fs::remove_dir_all(&dir)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %err, path = %dir.display(), "cannot empty the unpacked slugs");
    }
}

/// Where one slug archive stands for the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SlugState {
    /// A blocking thread unpacks it now.
    Unpacking,
    /// Unpacked: its `app` folder.
    Ready(PathBuf),
    /// It cannot be unpacked: why, in one line (a dyno's `detail`).
    Failed(String),
}

/// A slug's unpacking finished: the message a blocking thread sends to the loop.
#[derive(Debug)]
pub(super) struct Unpacked {
    /// The archive's hex SHA-256.
    pub sha256: String,
    /// [`SlugState::Ready`] or [`SlugState::Failed`].
    pub outcome: SlugState,
}

/// The slugs the supervisor unpacked, unpacks or could not unpack, by archive checksum: the
/// one place a slug's unpacking is started, so each archive is unpacked once, off the loop.
#[derive(Debug)]
pub(super) struct Slugs {
    dir: PathBuf,
    cache: Option<PathBuf>,
    states: HashMap<String, SlugState>,
    done: mpsc::UnboundedSender<Unpacked>,
}

impl Slugs {
    /// The slugs of data directory `dir` (linking what the build cache `cache` holds);
    /// finished unpacks are sent to `done`.
    pub fn new(
        dir: PathBuf,
        cache: Option<PathBuf>,
        done: mpsc::UnboundedSender<Unpacked>,
    ) -> Slugs {
        Slugs {
            dir,
            cache,
            states: HashMap::new(),
            done,
        }
    }

    /// Where slug `sha256` (its archive at `archive`) stands; unpacking starts on a blocking
    /// thread if nothing is known of it yet. Releases of the same archive share one directory.
    pub fn state(&mut self, sha256: &str, archive: PathBuf) -> &SlugState {
        if !self.states.contains_key(sha256) {
            self.states.insert(sha256.to_owned(), SlugState::Unpacking);
            let (dir, sha, done) = (self.dir.clone(), sha256.to_owned(), self.done.clone());
            let cache = self.cache.clone();
            tokio::spawn(async move {
                let task = {
                    let sha = sha.clone();
                    tokio::task::spawn_blocking(move || {
                        unpacked(&dir, &sha, &archive, cache.as_deref())
                    })
                };
                let outcome = match task.await {
                    Ok(Ok(app_dir)) => SlugState::Ready(app_dir),
                    Ok(Err(err)) => SlugState::Failed(crate::error_chain::one_line(&err)),
                    Err(err) => SlugState::Failed(format!("cannot unpack the slug {sha}: {err}")),
                };
                // The loop gone (the supervisor stopped): nobody waits for it.
                let _ = done.send(Unpacked {
                    sha256: sha,
                    outcome,
                });
            });
        }
        &self.states[sha256]
    }

    /// Records a finished unpack.
    pub fn finished(&mut self, unpacked: Unpacked) {
        self.states.insert(unpacked.sha256, unpacked.outcome);
    }

    /// Forgets the slugs no release in `used` runs, removing their directories; one still
    /// unpacking is left to finish (its outcome is dropped the next time, if still unused).
    pub fn forget_unused(&mut self, used: &HashSet<&str>) {
        let dir = &self.dir;
        self.states.retain(|sha256, state| {
            let keep = used.contains(sha256.as_str()) || *state == SlugState::Unpacking;
            if !keep && matches!(state, SlugState::Ready(_)) {
                remove(dir, sha256);
            }
            keep
        });
    }
}
