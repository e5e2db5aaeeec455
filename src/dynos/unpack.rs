//! Where a release's slug is unpacked for its dynos: `dynos/<sha256>/app` in the data
//! directory, one directory per slug archive, so releases of the same slug (a config change, a
//! rollback) share it.
//!
//! Unpacking uses the runtime extractor (`crate::runtime::extract`), which refuses entries that
//! escape the directory, into a fresh temporary directory renamed into place once whole: a
//! directory under its final name is always a complete slug. The supervisor empties `dynos/`
//! when it starts (nothing runs from it then) and removes a slug's directory once no dyno
//! uses it.

use std::path::{Path, PathBuf};

use crate::platform::local::dynos::releases_dir;
use crate::runtime::{ExtractError, ExtractLimits, extract};

/// Why a slug could not be unpacked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum UnpackError {
    /// The archive was refused or unreadable.
    #[error(transparent)]
    Extract(#[from] ExtractError),
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
/// it is not unpacked yet. Blocking.
pub fn unpacked(data_dir: &Path, sha256: &str, archive: &Path) -> Result<PathBuf, UnpackError> {
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
        extract(archive, fresh.path(), 0, ExtractLimits::default())?;
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
