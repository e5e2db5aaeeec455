//! The process's compression threads: one pool per thread count, shared by every slug being
//! packed at the same time.
//!
//! Plans and applies pack several slugs at once (`prepare` runs `jobs` builds in parallel). If
//! each started its own compressors, a plan on an 8-core machine would run 8 × 8 of them,
//! thrashing caches and memory for no gain. Every [`fn@super::pack`] instead hands its chunks
//! to [`CompressionPool::shared`], so however many slugs are packed at once, at most `threads`
//! chunks are being compressed in the process at any moment.
//!
//! The bytes do not depend on the pool: each chunk's compressed form depends only on its own
//! bytes (see [`super::encoding`]), and the pack's writer emits chunks in sequence order
//! whichever thread compressed them and whenever.
//!
//! The pool lives as long as a pack uses it: the registry holds it weakly, so a process that
//! has finished packing (an apply uploading, a server) keeps no idle compressor threads.
//! A compression job that panicked would leave its pack waiting for a chunk forever, so it
//! aborts the process instead (rayon's behaviour for a panicking `spawn` without a handler).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use super::encoding::ChunkCompressor;

/// A fixed set of compression threads, each with its own reusable [`ChunkCompressor`].
pub struct CompressionPool {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl std::fmt::Debug for CompressionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressionPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The compressor of the pool thread this runs on: reused chunk after chunk, which saves
    /// its ~300 KiB allocation per chunk (resetting it does not change a byte).
    static COMPRESSOR: RefCell<ChunkCompressor> = RefCell::new(ChunkCompressor::new());
}

/// The pools in use, by thread count.
static POOLS: Mutex<BTreeMap<usize, Weak<CompressionPool>>> = Mutex::new(BTreeMap::new());

/// The number of threads `threads` stands for (0 = one per core).
pub fn effective_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

impl CompressionPool {
    /// The process's pool of `threads` threads (0 = one per core): the one every pack asking
    /// for that many shares, started now if none is running.
    pub fn shared(threads: usize) -> Arc<CompressionPool> {
        let threads = effective_threads(threads);
        let mut pools = crate::sync::lock(&POOLS);
        if let Some(pool) = pools.get(&threads).and_then(Weak::upgrade) {
            return pool;
        }
        let pool = Arc::new(CompressionPool::new(threads));
        pools.retain(|_, pool| pool.strong_count() > 0);
        pools.insert(threads, Arc::downgrade(&pool));
        pool
    }

    fn new(threads: usize) -> Self {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("slugplan-compress-{i}"))
            .build()
            .expect("compression threads can be started");
        CompressionPool { pool, threads }
    }

    /// How many threads compress.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on one of the pool's threads with that thread's compressor, after the jobs
    /// queued before it have started (jobs from outside the pool run in FIFO order, so a
    /// pack's chunks come back roughly in the order its writer needs them).
    pub(super) fn compress(&self, job: impl FnOnce(&mut ChunkCompressor) + Send + 'static) {
        self.pool
            .spawn(move || COMPRESSOR.with(|compressor| job(&mut compressor.borrow_mut())));
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::slug::Component;
    use crate::slug::encoding::{CHUNK_SIZE, busy};
    use crate::slug::pack::{ComponentInput, PackOptions, pack};
    use crate::slug::tar::{Entry, EntryKind};

    /// Set in the process [`two_slugs_packed_at_once_never_compress_on_more_than_the_threads`]
    /// re-runs itself in.
    const ALONE: &str = "SLUGPLAN_TEST_ALONE_IN_PROCESS";

    /// A component of `chunks` full chunks of poorly compressible bytes.
    fn big_component(chunks: usize, seed: u64) -> (tempfile::TempDir, Component) {
        let dir = tempfile::tempdir().unwrap();
        let mut x = seed | 1;
        let bytes: Vec<u8> = (0..chunks * CHUNK_SIZE)
            .map(|_| {
                // xorshift: cheap bytes deflate cannot shrink much, so each chunk takes a while.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let path = dir.path().join("blob");
        std::fs::write(&path, &bytes).unwrap();
        let component = Component {
            name: "app".into(),
            entries: vec![Entry {
                rel: b"blob".to_vec(),
                kind: EntryKind::File {
                    source: path,
                    size: bytes.len() as u64,
                    executable: false,
                },
            }],
            end_of_archive: true,
        };
        (dir, component)
    }

    fn sha256_of(component: &Component, threads: usize) -> String {
        let options = PackOptions {
            threads,
            ..PackOptions::default()
        };
        let inputs = [ComponentInput::Fresh(component)];
        pack(&inputs, std::io::sink(), "mem".as_ref(), options)
            .unwrap()
            .checksum
            .to_string()
    }

    #[test]
    fn two_slugs_packed_at_once_never_compress_on_more_than_the_threads() {
        const THREADS: usize = 2;
        if std::env::var_os(ALONE).is_none() {
            // The gauge counts every compression in the process, and other tests compress
            // too: run this one again, alone in a process of its own.
            let name = concat!(
                module_path!(),
                "::two_slugs_packed_at_once_never_compress_on_more_than_the_threads"
            );
            let name = name.split_once("::").expect("crate::path").1;
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", name, "--nocapture", "--test-threads=1"])
                .env(ALONE, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stdout}\n{stderr}");
            assert!(stdout.contains("1 passed"), "{stdout}");
            return;
        }
        let slugs = [big_component(6, 1), big_component(6, 2)];
        let start = Barrier::new(slugs.len());
        let digests: Vec<String> = std::thread::scope(|scope| {
            let packs: Vec<_> = slugs
                .iter()
                .map(|(_, component)| {
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        sha256_of(component, THREADS)
                    })
                })
                .collect();
            packs.into_iter().map(|p| p.join().unwrap()).collect()
        });
        let peak = busy::peak();
        assert!(peak >= 1, "nothing was compressed");
        assert!(peak <= THREADS, "{peak} chunks compressed at once");
        // The bytes are those of each slug packed alone, on any number of threads.
        for (i, (threads, (_, component))) in [1, 3].into_iter().zip(&slugs).enumerate() {
            assert_eq!(
                sha256_of(component, threads),
                digests[i],
                "{threads} threads"
            );
        }
    }

    #[test]
    fn packs_asking_for_as_many_threads_get_the_same_pool() {
        let a = CompressionPool::shared(5);
        let b = CompressionPool::shared(5);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.threads(), 5);
        assert!(!Arc::ptr_eq(&a, &CompressionPool::shared(4)));
        let cores = CompressionPool::shared(0);
        assert_eq!(cores.threads(), effective_threads(0));
    }
}
