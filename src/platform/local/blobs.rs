//! Slug archives on disk, addressed by their SHA-256.
//!
//! Guarantees: a blob appears at `blobs/sha256/<hex>` only complete, because it is written to a
//! temp file in `blobs/tmp/` (same filesystem), hashed while written, and renamed into place. Two
//! uploads of the same bytes race harmlessly: both rename identical content to the same name.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::platform::{PlatformError, UploadProgress};

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

    /// Copies `reader` (described by `source` in errors) to a temp file, hashing it and
    /// reporting progress. `expected_len`, when given, must match the bytes read (a short body
    /// is a broken upload, not a small blob).
    pub(crate) async fn ingest(
        &self,
        mut reader: impl AsyncRead + Unpin,
        source: &str,
        expected_len: Option<u64>,
        progress: &dyn UploadProgress,
    ) -> Result<Ingested, PlatformError> {
        let tmp_dir = self.root.join("tmp");
        fs_err::create_dir_all(&tmp_dir).map_err(|e| io_error(&tmp_dir, e))?;
        let temp = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&tmp_dir)
            .map_err(|e| io_error(&tmp_dir, e))?;
        let (file, temp) = temp.into_parts();
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
