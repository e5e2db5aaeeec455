//! The apply lock: one apply at a time per manifest.
//!
//! An OS file lock (released by the kernel when the holder dies, even by `kill -9`, so a crash
//! never leaves a stale lock) on [`LOCK_FILE`] in the state directory. The holder writes who it
//! is into the file after taking the lock; a process that cannot take it reads that and reports
//! it.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::StateError;

/// The apply lock's file name, in the state directory.
pub const LOCK_FILE: &str = "apply.lock";

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holder's process id.
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
    /// Its command line.
    pub command: String,
    /// When it took the lock (RFC 3339).
    pub started_at: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on {} (`{}`), since {}",
            self.pid, self.host, self.command, self.started_at
        )
    }
}

/// A held apply lock; dropping it releases the lock.
#[derive(Debug)]
pub struct ApplyLock {
    file: File,
}

impl ApplyLock {
    /// Takes the lock in `dir`, waiting up to `timeout` for another holder to finish.
    pub fn acquire(dir: &Path, command: &str, timeout: Duration) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(LOCK_FILE);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StateError::Locked {
                        holder: read_holder(&mut file),
                    });
                }
                Err(TryLockError::Error(err)) => return Err(io(err)),
            }
        }
        let holder = LockHolder {
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            command: command.to_owned(),
            started_at: super::now(),
        };
        let text = serde_json::to_string(&holder).expect("holder serialises");
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io)?;
        Ok(ApplyLock { file })
    }
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        // Clear the holder first so a reader never names a finished process.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn read_holder(file: &mut File) -> LockHolder {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    serde_json::from_str(&text).unwrap_or_else(|_| LockHolder {
        pid: 0,
        host: "unknown host".to_owned(),
        command: "unknown command".to_owned(),
        started_at: "an unknown time".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_succeeds_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = ApplyLock::acquire(dir.path(), "slugplan apply", Duration::ZERO).unwrap();
        let err = ApplyLock::acquire(dir.path(), "second", Duration::from_millis(200)).unwrap_err();
        match err {
            StateError::Locked { holder } => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.command, "slugplan apply");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        ApplyLock::acquire(dir.path(), "third", Duration::ZERO).unwrap();
    }
}
