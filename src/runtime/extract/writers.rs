//! The archive's small files, written on worker threads while the reader goes on decompressing.
//!
//! Making a file costs an inode, and the kernel makes them one at a time per thread: on ext4
//! without a journal (this project's 2-core development machine) every allocation also steps
//! over each inode of its group freed in the last ~30 s, so unpacking a Node runtime's 3,300
//! files just after another tree was deleted costs up to ~0.6 ms a file, most of the unpack.
//! Handing the files to a few threads overlaps that with the decompression and with itself.
//!
//! The reader ([`super::Unpacker`]) keeps every check: it validates each path and makes each
//! parent directory before a file is handed over, and it waits for the writes in flight
//! ([`Writers::settle`]) before anything that depends on an earlier file (a hard link to it, a
//! repeated entry replacing it). A file above [`HANDED_OVER_UP_TO`] is streamed by the reader
//! itself, so the bytes held in the queue stay bounded (figure 4 counts peak memory).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::sync::lock;

/// The largest file handed to a worker whole; bigger ones are streamed by the reader.
pub const HANDED_OVER_UP_TO: u64 = 256 << 10;

/// Files queued for the workers at most (with [`HANDED_OVER_UP_TO`]: 16 MiB of bytes).
const QUEUE: usize = 64;

/// Worker threads at most: creating inodes stops scaling beyond a few.
const MAX_WORKERS: usize = 4;

/// A file to write whole.
struct File {
    path: PathBuf,
    bytes: Vec<u8>,
    executable: bool,
}

/// What the reader and the workers share.
#[derive(Default)]
struct Shared {
    /// Files handed over and not written yet.
    in_flight: Mutex<usize>,
    /// Signalled each time `in_flight` drops to zero.
    settled: Condvar,
    /// The first write that failed: its path and why.
    failed: Mutex<Option<(PathBuf, std::io::Error)>>,
}

/// The worker threads of one extraction; [`Writers::settle`] waits for every file, and
/// dropping it stops them.
pub struct Writers {
    queue: Option<SyncSender<File>>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Writers {
    /// One worker per core (up to [`MAX_WORKERS`]).
    pub fn start() -> Writers {
        let count = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_WORKERS);
        let (queue, files) = sync_channel::<File>(QUEUE);
        let files = Arc::new(Mutex::new(files));
        let shared = Arc::new(Shared::default());
        let workers = (0..count)
            .map(|_| {
                let (files, shared) = (files.clone(), shared.clone());
                std::thread::spawn(move || work(&files, &shared))
            })
            .collect();
        Writers {
            queue: Some(queue),
            workers,
            shared,
        }
    }

    /// Hands `bytes` over to be written as a new file at `path` (0755 if `executable`, else
    /// 0644); `Err` with the path and cause of an earlier write that failed.
    pub fn write(
        &self,
        path: PathBuf,
        bytes: Vec<u8>,
        executable: bool,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        self.failure()?;
        *lock(&self.shared.in_flight) += 1;
        let file = File {
            path,
            bytes,
            executable,
        };
        let queue = self.queue.as_ref().expect("the queue lives until finish");
        if let Err(returned) = queue.send(file) {
            // Every worker gone: only a panic does that; write it here instead.
            let file = returned.0;
            *lock(&self.shared.in_flight) -= 1;
            return write_file(&file.path, &mut file.bytes.as_slice(), file.executable)
                .map_err(|err| (file.path, err));
        }
        Ok(())
    }

    /// Waits until every file handed over is written; `Err` if one failed.
    pub fn settle(&self) -> Result<(), (PathBuf, std::io::Error)> {
        let mut in_flight = lock(&self.shared.in_flight);
        while *in_flight > 0 {
            in_flight = self
                .shared
                .settled
                .wait(in_flight)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        drop(in_flight);
        self.failure()
    }

    fn stop(&mut self) {
        self.queue = None;
        for worker in self.workers.drain(..) {
            // A worker that panicked left its file unwritten: the extraction must fail.
            if worker.join().is_err() {
                lock(&self.shared.failed).get_or_insert_with(|| {
                    (
                        PathBuf::new(),
                        std::io::Error::other("a writer thread panicked"),
                    )
                });
            }
        }
    }

    fn failure(&self) -> Result<(), (PathBuf, std::io::Error)> {
        match lock(&self.shared.failed).take() {
            Some(failed) => Err(failed),
            None => Ok(()),
        }
    }
}

impl Drop for Writers {
    /// An extraction that stopped early still waits for its workers, so nothing writes into
    /// the destination once `extract` has returned (the caller removes it on error).
    fn drop(&mut self) {
        self.stop();
    }
}

/// A worker: writes files until the queue closes. After a failure the rest are dropped
/// unwritten (the extraction fails as a whole).
fn work(files: &Mutex<Receiver<File>>, shared: &Shared) {
    loop {
        let next = lock(files).recv();
        let Ok(file) = next else { return };
        let _written = Written(shared);
        if lock(&shared.failed).is_none()
            && let Err(err) = write_file(&file.path, &mut file.bytes.as_slice(), file.executable)
        {
            lock(&shared.failed).get_or_insert((file.path, err));
        }
    }
}

/// Counts a handed-over file as done when dropped, a panicking write too, so
/// [`Writers::settle`] never waits forever.
struct Written<'a>(&'a Shared);

impl Drop for Written<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.0.in_flight);
        *in_flight -= 1;
        if *in_flight == 0 {
            self.0.settled.notify_all();
        }
    }
}

/// Writes `content` to a new file at `path` (never through an existing path: `create_new`),
/// 0755 if `executable` else 0644 (only the executable bit comes from the archive), set
/// explicitly so the umask does not decide.
pub fn write_file(path: &Path, content: &mut impl Read, executable: bool) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    std::io::copy(content, &mut file)?;
    let mode = if executable { 0o755 } else { 0o644 };
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}
