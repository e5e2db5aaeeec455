//! SHA-256 on its own thread, so hashing a slug overlaps writing it.
//!
//! Splicing an unchanged runtime's cached chunks is a copy, and hashing the copied bytes costs
//! about as much as copying them: done one after the other on the writer thread they take
//! twice as long as either. [`ShaPipe`] hands the bytes, in order, to a hashing thread in a few
//! small recycled buffers (so memory stays bounded and nothing is allocated in the steady
//! state); the digest is the same as hashing them inline.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Bytes per buffer.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// Buffers in flight: enough for the hasher to keep up, few enough to keep memory small.
const BUFFERS: usize = 4;

/// Feeds bytes, in order, to a SHA-256 running on another thread.
pub(crate) struct ShaPipe {
    jobs: Option<SyncSender<Vec<u8>>>,
    back: Receiver<Vec<u8>>,
    /// Buffers made so far (at most [`BUFFERS`]).
    made: usize,
    hasher: Option<JoinHandle<[u8; 32]>>,
}

impl ShaPipe {
    /// Starts the hashing thread.
    pub fn new() -> Self {
        let (jobs, todo) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        let (done, back) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        let hasher = std::thread::spawn(move || {
            let mut sha = Sha256::new();
            for buf in todo {
                sha.update(&buf);
                // The pipe may be gone already (finished or dropped): the buffer is not needed.
                let _ = done.send(buf);
            }
            sha.finalize().into()
        });
        ShaPipe {
            jobs: Some(jobs),
            back,
            made: 0,
            hasher: Some(hasher),
        }
    }

    /// A buffer with [`BUF_SIZE`] bytes of capacity, waiting for the hasher to give one back
    /// when all are in flight. Its contents are stale bytes: callers overwrite or clear them
    /// (a reader resizing it to [`BUF_SIZE`] then zero-fills nothing the second time round).
    pub fn buffer(&mut self) -> Vec<u8> {
        if let Ok(buf) = self.back.try_recv() {
            return buf;
        }
        if self.made < BUFFERS {
            self.made += 1;
            return Vec::with_capacity(BUF_SIZE);
        }
        // The hasher only stops once the jobs channel closes, which happens in `finish`.
        self.back
            .recv()
            .expect("the hashing thread runs until finished")
    }

    /// Hashes `buf` (a buffer from [`ShaPipe::buffer`]) after everything submitted before.
    /// Every buffer taken must come back through here, even empty, or the pool shrinks.
    pub fn submit(&mut self, buf: Vec<u8>) {
        self.jobs
            .as_ref()
            .expect("not finished")
            .send(buf)
            .expect("the hashing thread runs until finished");
    }

    /// Hashes a copy of `bytes`.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let mut buf = self.buffer();
            buf.clear();
            let n = bytes.len().min(BUF_SIZE);
            buf.extend_from_slice(&bytes[..n]);
            self.submit(buf);
            bytes = &bytes[n..];
        }
    }

    /// The SHA-256 of everything submitted.
    pub fn finish(mut self) -> [u8; 32] {
        self.jobs = None;
        self.hasher
            .take()
            .expect("finished once")
            .join()
            .expect("hashing does not panic")
    }
}

impl Drop for ShaPipe {
    fn drop(&mut self) {
        // Dropped unfinished (an error): close the channel and let the thread end.
        self.jobs = None;
        if let Some(hasher) = self.hasher.take() {
            let _ = hasher.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_inline_digest_however_the_bytes_arrive() {
        let data: Vec<u8> = (0..3 * BUF_SIZE + 123)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut pipe = ShaPipe::new();
        pipe.update(&data[..10]);
        let mut rest = &data[10..];
        while !rest.is_empty() {
            let mut buf = pipe.buffer();
            buf.clear();
            let n = rest.len().min(BUF_SIZE - 5);
            buf.extend_from_slice(&rest[..n]);
            pipe.submit(buf);
            rest = &rest[n..];
        }
        let inline: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(pipe.finish(), inline);
        assert_eq!(
            ShaPipe::new().finish(),
            <[u8; 32]>::from(Sha256::digest(b""))
        );
    }
}
