//! Slug archives on disk, addressed by their SHA-256.
//!
//! Guarantees: a blob appears at `blobs/sha256/<hex>` only complete, because it is written to a
//! temp file in `blobs/tmp/` (same filesystem), hashed while written, and renamed into place. Two
//! uploads of the same bytes race harmlessly: both rename identical content to the same name.
//!
//! An upload killed midway (`kill -9` of `slugplan server` during a `PUT`) leaves its temp file;
//! opening the store removes such orphans ([`BlobStore::remove_orphans`]) and never a live
//! upload's: every writer holds an exclusive `flock` on its temp file from the moment it creates
//! it until the blob is in place, which the kernel releases when the writer dies however it
//! dies. A temp file is an orphan when its lock is free *and* it has not changed for
//! [`ORPHAN_GRACE`] (the lock is taken a moment after the file is created, and in that moment it
//! is free but new).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::platform::{PlatformError, UploadProgress};

/// How long a temp file whose lock is free must have been left unchanged before it counts as an
/// orphan.
pub(crate) const ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// How upload temp files' names begin in `blobs/tmp/`.
const TEMP_PREFIX: &str = "upload-";

/// The content-addressed blob directory.
#[derive(Debug, Clone)]
pub(crate) struct BlobStore {
    root: PathBuf,
}

/// A blob written to a temp file and hashed, not yet in place.
#[derive(Debug)]
pub(crate) struct Ingested {
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Number of bytes.
    pub size: u64,
    temp: tempfile::TempPath,
    /// The temp file, open and locked until the blob is in place: its lock says a writer is
    /// alive.
    _locked: std::fs::File,
}

impl BlobStore {
    /// The directory the archives are stored under.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.root
    }

    /// The blob store under `root` (created on demand).
    pub(crate) fn new(root: PathBuf) -> Self {
        BlobStore { root }
    }

    /// Where the blob with hex digest `sha256` lives.
    pub(crate) fn path(&self, sha256: &str) -> PathBuf {
        self.root.join("sha256").join(sha256)
    }

    /// Whether the blob with hex digest `sha256` is present.
    pub(crate) fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Removes the blob with hex digest `sha256`; one already gone is no error.
    pub(crate) fn remove(&self, sha256: &str) -> Result<(), PlatformError> {
        let path = self.path(sha256);
        match fs_err::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PlatformError::Storage {
                message: format!("cannot remove {}", path.display()),
                source: Some(Box::new(e)),
            }),
        }
    }

    /// The directory of uploads in progress.
    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes the temp files of uploads whose writer is gone (see the module's doc); returns
    /// how many. Best effort: a file that cannot be opened or removed is left for next time.
    pub(crate) fn remove_orphans(&self, now: SystemTime) -> usize {
        let Ok(entries) = std::fs::read_dir(self.tmp_dir()) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.filter_map(Result::ok) {
            if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            // A live writer holds the lock; while this one is held, none can start writing.
            if file.try_lock().is_err() {
                continue;
            }
            let untouched = file
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok());
            if untouched.is_some_and(|age| age >= ORPHAN_GRACE)
                && std::fs::remove_file(&path).is_ok()
            {
                tracing::debug!(path = %path.display(), "removed an orphaned upload");
                removed += 1;
            }
        }
        removed
    }

    /// Copies `reader` (described by `source` in errors) to a temp file, hashing it and
    /// reporting progress. `expected_len`, when given, must match the bytes read (a short body
    /// is a broken upload, not a small blob; a longer one is cut off as soon as it is longer).
    pub(crate) async fn ingest(
        &self,
        mut reader: impl AsyncRead + Unpin,
        source: &str,
        expected_len: Option<u64>,
        progress: &dyn UploadProgress,
    ) -> Result<Ingested, PlatformError> {
        let tmp_dir = self.tmp_dir();
        fs_err::create_dir_all(&tmp_dir).map_err(|e| io_error(&tmp_dir, e))?;
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&tmp_dir)
            .map_err(|e| io_error(&tmp_dir, e))?;
        let (locked, temp) = temp.into_parts();
        // Waits only while a cleaner looks at the new file, which it then leaves alone.
        locked.lock().map_err(|e| io_error(&temp, e))?;
        let file = locked.try_clone().map_err(|e| io_error(&temp, e))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| PlatformError::Storage {
                    message: format!("cannot read {source} after {size} bytes"),
                    source: Some(Box::new(e)),
                })?;
            if n == 0 {
                break;
            }
            if let Some(expected) = expected_len
                && size + n as u64 > expected
            {
                return Err(PlatformError::InvalidParams {
                    message: format!("upload goes on past its announced {expected} bytes"),
                    request_id: None,
                });
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .await
                .map_err(|e| io_error(&temp, e))?;
            size += n as u64;
            progress.advance(n as u64);
        }
        file.sync_all().await.map_err(|e| io_error(&temp, e))?;
        if let Some(expected) = expected_len
            && expected != size
        {
            return Err(PlatformError::InvalidParams {
                message: format!("upload ended after {size} of {expected} bytes"),
                request_id: None,
            });
        }
        Ok(Ingested {
            sha256: hex::encode(hasher.finalize()),
            size,
            temp,
            _locked: locked,
        })
    }

    /// Moves an ingested blob into place under its hash.
    pub(crate) fn commit(&self, ingested: Ingested) -> Result<(), PlatformError> {
        let dest = self.path(&ingested.sha256);
        let dir = self.root.join("sha256");
        fs_err::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        ingested
            .temp
            .persist(&dest)
            .map_err(|e| io_error(&dest, e.error))
    }
}

/// A storage error naming the file it is about.
pub(crate) fn io_error(path: &Path, source: std::io::Error) -> PlatformError {
    PlatformError::Storage {
        message: format!("cannot write {}", path.display()),
        source: Some(Box::new(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::NoProgress;

    fn later() -> SystemTime {
        SystemTime::now() + ORPHAN_GRACE * 2
    }

    #[test]
    fn only_temp_files_no_writer_holds_and_left_alone_a_while_are_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().to_owned());
        let tmp = store.tmp_dir();
        std::fs::create_dir_all(&tmp).unwrap();
        let write = |name: &str| {
            let path = tmp.join(name);
            std::fs::write(&path, "partial").unwrap();
            path
        };
        let dead = write("upload-dead");
        let live = write("upload-live");
        let writer = std::fs::File::open(&live).unwrap();
        writer.lock().unwrap();
        let other = write("notes.txt");

        assert_eq!(store.remove_orphans(SystemTime::now()), 0, "all are new");
        assert!(dead.exists());
        assert_eq!(store.remove_orphans(later()), 1);
        assert!(!dead.exists(), "no lock, old: its writer is gone");
        assert!(live.exists(), "a writer holds its lock, however old it is");
        assert!(other.exists(), "not an upload");

        drop(writer);
        assert_eq!(store.remove_orphans(later()), 1);
        assert!(!live.exists(), "its writer ended without finishing it");
    }

    #[tokio::test]
    async fn an_upload_holds_its_lock_until_it_is_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().to_owned());
        let ingested = store
            .ingest(&b"slug"[..], "a test", Some(4), &NoProgress)
            .await
            .unwrap();
        assert_eq!(store.remove_orphans(later()), 0, "still being written");
        let sha = ingested.sha256.clone();
        store.commit(ingested).unwrap();
        assert!(store.contains(&sha));
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_body_longer_than_announced_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().to_owned());
        let err = store
            .ingest(
                &b"much more than announced"[..],
                "a test",
                Some(4),
                &NoProgress,
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("past its announced 4 bytes"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }
}
