//! The apply lock: one apply at a time per manifest (per workspace, on PostgreSQL).
//!
//! Whichever backend holds it, the lock is released by the system when its holder dies, even by
//! `kill -9`, so a crash never leaves a stale lock: the local state takes an OS file lock on
//! [`LOCK_FILE`] (the kernel drops it with the process), the PostgreSQL state an advisory lock
//! on a connection of its own (the server drops it with the connection). The holder records
//! who it is ([`LockHolder`]): in the lock file, or in a row the database keeps beside the lock;
//! a process that cannot take the lock reads that and says who is in the way.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::StateError;
use super::postgres::AdvisoryLock;

/// How often a waiting apply tries the lock again.
pub(crate) const POLL: Duration = Duration::from_millis(100);

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
    /// The CI job it runs in, as the CI's environment names it (a run URL or job id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
}

impl LockHolder {
    /// This process, running `command` (in CI job `ci_job`), from now on.
    pub fn this_process(command: &str, ci_job: Option<String>) -> Self {
        LockHolder {
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            command: command.to_owned(),
            started_at: super::now(),
            ci_job,
        }
    }

    /// What is said when the holder cannot be read (it is just taking or leaving the lock).
    pub(crate) fn unknown() -> Self {
        LockHolder {
            pid: 0,
            host: "unknown host".to_owned(),
            command: "unknown command".to_owned(),
            started_at: "an unknown time".to_owned(),
            ci_job: None,
        }
    }
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} on {} (`{}`), since {}",
            self.pid, self.host, self.command, self.started_at
        )?;
        if let Some(job) = &self.ci_job {
            write!(f, ", CI job {job}")?;
        }
        Ok(())
    }
}

/// A held apply lock; releasing or dropping it lets the next apply in.
#[derive(Debug)]
pub struct ApplyLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    File(FileLock),
    Advisory(Box<AdvisoryLock>),
}

impl ApplyLock {
    /// Releases the lock now, clearing its holder record (dropping it releases it too; on
    /// PostgreSQL the record is then left for the next holder to replace).
    pub async fn release(self) {
        match self.held {
            Held::File(file) => drop(file),
            Held::Advisory(advisory) => advisory.release().await,
        }
    }
}

impl From<FileLock> for ApplyLock {
    fn from(lock: FileLock) -> Self {
        ApplyLock {
            held: Held::File(lock),
        }
    }
}

impl From<AdvisoryLock> for ApplyLock {
    fn from(lock: AdvisoryLock) -> Self {
        ApplyLock {
            held: Held::Advisory(Box::new(lock)),
        }
    }
}

/// The local state's lock: an OS lock on [`LOCK_FILE`], whose content names the holder.
#[derive(Debug)]
pub(crate) struct FileLock {
    file: File,
}

impl FileLock {
    /// Takes the lock in `dir`, waiting up to `timeout` for another holder to finish.
    pub(crate) async fn acquire(
        dir: &Path,
        holder: &LockHolder,
        timeout: Duration,
    ) -> Result<Self, StateError> {
        let path = lock_path(dir)?;
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
                    tokio::time::sleep(POLL).await;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StateError::Locked {
                        holder: read_holder(&mut file),
                    });
                }
                Err(TryLockError::Error(err)) => return Err(io(err)),
            }
        }
        let text = serde_json::to_string(holder).expect("holder serialises");
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io)?;
        Ok(FileLock { file })
    }

    /// Who holds the lock in `dir` now, if anyone; never takes it for longer than the look.
    pub(crate) fn holder(dir: &Path) -> Result<Option<LockHolder>, StateError> {
        let path = dir.join(LOCK_FILE);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        // A shared lock for the look: it conflicts only with a holder's exclusive one.
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(TryLockError::WouldBlock) => Ok(Some(read_holder(&mut file))),
            Err(TryLockError::Error(source)) => Err(StateError::Io { path, source }),
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Clear the holder first so a reader never names a finished process.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn lock_path(dir: &Path) -> Result<PathBuf, StateError> {
    std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
        path: dir.to_owned(),
        source,
    })?;
    Ok(dir.join(LOCK_FILE))
}

fn read_holder(file: &mut File) -> LockHolder {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    serde_json::from_str(&text).unwrap_or_else(|_| LockHolder::unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_lock_names_the_holder_and_succeeds_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let holder = LockHolder::this_process("slugplan apply", Some("run 7".into()));
        let first = FileLock::acquire(dir.path(), &holder, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(FileLock::holder(dir.path()).unwrap(), Some(holder.clone()));
        let second = LockHolder::this_process("second", None);
        let err = FileLock::acquire(dir.path(), &second, Duration::from_millis(200))
            .await
            .unwrap_err();
        match err {
            StateError::Locked { holder: named } => assert_eq!(named, holder),
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(holder.to_string().ends_with(", CI job run 7"), "{holder}");
        drop(first);
        assert_eq!(FileLock::holder(dir.path()).unwrap(), None);
        FileLock::acquire(dir.path(), &second, Duration::ZERO)
            .await
            .unwrap();
    }

    #[test]
    fn a_holder_written_before_the_ci_job_was_recorded_still_reads() {
        let old = r#"{"pid":7,"host":"h","command":"slugplan apply","started_at":"t"}"#;
        let holder: LockHolder = serde_json::from_str(old).unwrap();
        assert_eq!(holder.ci_job, None);
        assert_eq!(holder.to_string(), "pid 7 on h (`slugplan apply`), since t");
    }
}
