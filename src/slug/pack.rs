//! The packing pipeline: tar bytes → 1 MiB chunks → compressed on the process's compression
//! pool → written in order.
//!
//! Three parties share a fixed set of chunk buffers (slots):
//!
//! ```text
//! producer (caller's thread)      compression pool            writer (its own thread)
//! reads files into a free   ──▶   Z(chunk), CRC-32     ──▶    reorders by sequence number,
//! slot, cuts chunks at            into the slot's             writes + SHA-256s, returns
//! component ends                  output buffer               the slot to the pack
//! ```
//!
//! Each pack holds a few slots per compression thread, so memory stays bounded (a few MiB per
//! thread) however large the slug, reading overlaps compressing overlaps writing, and no buffer
//! is allocated in the steady state. The pool is shared by every pack in the process (see
//! [`super::pool`]): slugs packed at once compete for its threads rather than each starting
//! its own. The bytes depend only on the input: each chunk's compressed form depends only on
//! its own bytes, and the writer emits chunks strictly in sequence order.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use sha2::{Digest, Sha256};

use super::SlugError;
use super::component::{self, Component, TarSink};
use super::encoding::{CHUNK_SIZE, GzipAssembler};
use super::pool::CompressionPool;
use crate::checksum::Checksum;

/// Progress callbacks while packing, called from the writer thread.
pub trait PackReporter: Sync {
    /// Packing starts; `total` bytes of tar stream will be written.
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// `bytes` more bytes of tar stream are compressed and written.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// A component whose compressed chunks already exist: a byte range of a file (an earlier slug
/// or a chunk cache entry) holding whole `Z(chunk)`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedSpan {
    /// The file holding the compressed chunks.
    pub path: PathBuf,
    /// Where the chunks start in it.
    pub offset: u64,
    /// How many compressed bytes they take.
    pub deflate_len: u64,
    /// The tar bytes they stand for.
    pub tar_len: u64,
    /// The CRC-32 of those tar bytes.
    pub crc: u32,
    /// The CRC-32 of the compressed bytes, when known: copying checks it, so a corrupted
    /// cache file fails the pack ([`SlugError::ReusedChunks`]) instead of making a wrong slug.
    pub deflate_crc: Option<u32>,
}

/// One input to [`pack`]: entries to compress now, or chunks compressed before.
#[derive(Debug, Clone, Copy)]
pub enum ComponentInput<'a> {
    /// Entries to write and compress.
    Fresh(&'a Component),
    /// Chunks to copy as they are.
    Reused {
        /// The component's name.
        name: &'a str,
        /// Where its chunks are.
        span: &'a CompressedSpan,
    },
}

/// How to pack.
#[derive(Clone, Copy, Default)]
pub struct PackOptions<'a> {
    /// Compression threads of the process, shared with every pack running at the same time
    /// with the same setting ([`CompressionPool::shared`]); 0 means one per core.
    pub threads: usize,
    /// Who hears about progress.
    pub reporter: Option<&'a dyn PackReporter>,
    /// Also compute [`Component::content_hash`] of every fresh component while its bytes go
    /// by ([`Packed::content_hashes`]), so a build that needs the hash reads the files once.
    pub hash_fresh: bool,
}

/// Where one component's chunks ended up in the packed file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackedComponent {
    /// The component's name.
    pub name: String,
    /// Offset of its first compressed chunk in the file.
    pub deflate_offset: u64,
    /// Length of its compressed chunks.
    pub deflate_len: u64,
    /// Length of its tar bytes.
    pub tar_len: u64,
    /// CRC-32 of its tar bytes.
    pub crc: u32,
    /// CRC-32 of its compressed bytes (what a copy of them is checked against).
    pub deflate_crc: u32,
}

impl PackedComponent {
    /// The span of `file` (the packed slug) holding this component's chunks, for reuse.
    pub fn span(&self, file: &Path) -> CompressedSpan {
        CompressedSpan {
            path: file.to_owned(),
            offset: self.deflate_offset,
            deflate_len: self.deflate_len,
            tar_len: self.tar_len,
            crc: self.crc,
            deflate_crc: Some(self.deflate_crc),
        }
    }
}

/// The result of [`pack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The gzip file's checksum.
    pub checksum: Checksum,
    /// Size of the gzip file.
    pub size: u64,
    /// Length of the tar stream inside.
    pub tar_len: u64,
    /// Each component's place in the file.
    pub components: Vec<PackedComponent>,
    /// Per input: its [`Component::content_hash`] when it was fresh and
    /// [`PackOptions::hash_fresh`] was set, else None.
    pub content_hashes: Vec<Option<String>>,
}

/// Writes the slug made of `inputs` to `out` (named `out_path` in errors).
pub fn pack<W: Write + Send>(
    inputs: &[ComponentInput<'_>],
    out: W,
    out_path: &Path,
    options: PackOptions<'_>,
) -> Result<Packed, SlugError> {
    let pool = CompressionPool::shared(options.threads);
    let slots = (pool.threads() * 2 + 2).min(24);
    let write_err = |source| SlugError::Write {
        path: out_path.to_owned(),
        source,
    };
    if let Some(reporter) = options.reporter {
        reporter.start(
            inputs
                .iter()
                .map(|i| match i {
                    ComponentInput::Fresh(c) => c.tar_len(),
                    ComponentInput::Reused { span, .. } => span.tar_len,
                })
                .sum(),
        );
    }

    let (free_tx, free_rx) = mpsc::sync_channel::<Slot>(slots);
    for _ in 0..slots {
        free_tx.send(Slot::default()).expect("pool has room");
    }
    let (done_tx, done_rx) = mpsc::channel::<(u64, Item)>();

    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_items(out, &done_rx, &free_tx, options.reporter));

        let mut producer = Producer {
            free: free_rx,
            pool,
            done: done_tx,
            seq: 0,
            slot: None,
            hash_fresh: options.hash_fresh,
            hashing: None,
            hashes: Vec::with_capacity(inputs.len()),
        };
        let produced = inputs
            .iter()
            .try_for_each(|input| producer.component(input));
        let content_hashes = std::mem::take(&mut producer.hashes);
        // Closing the channels lets the writer finish (or give up after an error) once the
        // chunks in flight are compressed.
        drop(producer);
        let written = writer.join().expect("writer thread does not panic");
        // A failed writer makes the producer fail too (its channels close); report the cause.
        let (finished, components) = written.map_err(|err| match err {
            WriteError::Io(source) => write_err(source),
            WriteError::ReusedChunks { path, reason } => SlugError::ReusedChunks { path, reason },
        })?;
        produced?;
        Ok(Packed {
            checksum: Checksum::from_digest(finished.sha256),
            size: finished.size,
            tar_len: finished.tar_len,
            components: inputs
                .iter()
                .zip(components)
                .map(|(input, mut packed)| {
                    packed.name = match input {
                        ComponentInput::Fresh(c) => c.name.clone(),
                        ComponentInput::Reused { name, .. } => (*name).to_owned(),
                    };
                    packed
                })
                .collect(),
            content_hashes,
        })
    })
}

/// A chunk buffer and the buffer its compressed form goes into.
#[derive(Default)]
struct Slot {
    input: Vec<u8>,
    len: usize,
    output: Vec<u8>,
    crc: u32,
}

/// What the writer receives, keyed by sequence number.
enum Item {
    /// The next component starts.
    Begin,
    /// A compressed chunk.
    Chunk(Slot),
    /// Already compressed chunks to copy.
    Span(CompressedSpan),
    /// The current component ends.
    End,
}

struct Producer {
    free: Receiver<Slot>,
    pool: Arc<CompressionPool>,
    done: Sender<(u64, Item)>,
    seq: u64,
    slot: Option<Slot>,
    /// Whether to hash fresh components' tar bytes.
    hash_fresh: bool,
    /// The hash of the component being written, when hashing.
    hashing: Option<Sha256>,
    /// Per input so far: its content hash, when computed.
    hashes: Vec<Option<String>>,
}

/// The writer went away: it failed, and its error is the one to report.
fn writer_gone() -> SlugError {
    SlugError::Write {
        path: PathBuf::from("<slug writer>"),
        source: std::io::Error::other("the writer stopped"),
    }
}

impl Producer {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    fn send(&mut self, item: Item) -> Result<(), SlugError> {
        let seq = self.next_seq();
        self.done.send((seq, item)).map_err(|_| writer_gone())
    }

    fn component(&mut self, input: &ComponentInput<'_>) -> Result<(), SlugError> {
        self.send(Item::Begin)?;
        match input {
            ComponentInput::Fresh(component) => {
                self.hashing = self
                    .hash_fresh
                    .then(|| component::content_hasher(component.end_of_archive));
                component.write_tar(self)?;
                self.flush();
                let hash = self.hashing.take().map(|sha| hex::encode(sha.finalize()));
                self.hashes.push(hash);
            }
            ComponentInput::Reused { span, .. } => {
                self.send(Item::Span((*span).clone()))?;
                self.hashes.push(None);
            }
        }
        self.send(Item::End)
    }

    /// Sends the current chunk, if it holds anything, to be compressed and then written.
    fn flush(&mut self) {
        if let Some(mut slot) = self.slot.take_if(|s| s.len > 0) {
            let seq = self.next_seq();
            let done = self.done.clone();
            self.pool.compress(move |compressor| {
                slot.crc = compressor.compress(&slot.input[..slot.len], &mut slot.output);
                // The writer is gone only after an error, which the pack reports.
                let _ = done.send((seq, Item::Chunk(slot)));
            });
        }
    }

    fn current(&mut self) -> Result<&mut Slot, SlugError> {
        if self.slot.is_none() {
            let mut slot = self.free.recv().map_err(|_| writer_gone())?;
            slot.input.resize(CHUNK_SIZE, 0);
            slot.len = 0;
            self.slot = Some(slot);
        }
        Ok(self.slot.as_mut().expect("slot was just filled"))
    }
}

impl TarSink for Producer {
    fn write(&mut self, mut bytes: &[u8]) -> Result<(), SlugError> {
        // Goes through spare/commit, which hash what they accept.
        while !bytes.is_empty() {
            let spare = self.spare()?;
            let n = spare.len().min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            self.commit(n)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn spare(&mut self) -> Result<&mut [u8], SlugError> {
        let slot = self.current()?;
        let len = slot.len;
        Ok(&mut slot.input[len..])
    }

    fn commit(&mut self, n: usize) -> Result<(), SlugError> {
        let hashing = self.hashing.as_mut();
        let slot = self.slot.as_mut().expect("spare() filled the slot");
        if let Some(sha) = hashing {
            sha.update(&slot.input[slot.len..slot.len + n]);
        }
        slot.len += n;
        if slot.len == CHUNK_SIZE {
            self.flush();
        }
        Ok(())
    }
}

type Written<W> = (super::encoding::Finished<W>, Vec<PackedComponent>);

fn write_items<W: Write>(
    out: W,
    done: &Receiver<(u64, Item)>,
    free: &SyncSender<Slot>,
    reporter: Option<&dyn PackReporter>,
) -> Result<Written<W>, WriteError> {
    let mut gz = GzipAssembler::new(out)?;
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    let mut components = Vec::new();
    // Per component: its place, the CRC of its tar bytes and the CRC of its compressed bytes.
    let mut current: Option<(PackedComponent, crc32fast::Hasher, crc32fast::Hasher)> = None;
    for (seq, item) in done {
        pending.insert(seq, item);
        while let Some(item) = pending.remove(&next) {
            next += 1;
            match item {
                Item::Begin => {
                    let packed = PackedComponent {
                        name: String::new(),
                        deflate_offset: gz.written(),
                        deflate_len: 0,
                        tar_len: 0,
                        crc: 0,
                        deflate_crc: 0,
                    };
                    current = Some((packed, crc32fast::Hasher::new(), crc32fast::Hasher::new()));
                }
                Item::Chunk(slot) => {
                    let len = slot.len as u64;
                    gz.push(&slot.output, slot.crc, len)?;
                    if let Some((_, crc, deflate_crc)) = &mut current {
                        crc.combine(&crc32fast::Hasher::new_with_initial_len(slot.crc, len));
                        deflate_crc.update(&slot.output);
                    }
                    // The producer may have finished already; a closed pool is fine then.
                    let _ = free.send(slot);
                    if let Some(r) = reporter {
                        r.advance(len);
                    }
                }
                Item::Span(span) => {
                    let copied_crc = copy_span(&mut gz, &span)?;
                    if let Some((_, crc, deflate_crc)) = &mut current {
                        *crc = crc32fast::Hasher::new_with_initial_len(span.crc, span.tar_len);
                        *deflate_crc = copied_crc;
                    }
                    if let Some(r) = reporter {
                        r.advance(span.tar_len);
                    }
                }
                Item::End => {
                    let (mut packed, crc, deflate_crc) = current.take().expect("End follows Begin");
                    packed.deflate_len = gz.written() - packed.deflate_offset;
                    packed.tar_len = crc.total_len();
                    packed.crc = crc.finalize();
                    packed.deflate_crc = deflate_crc.finalize();
                    components.push(packed);
                }
            }
        }
    }
    Ok((gz.finish()?, components))
}

/// Why the writer stopped: its own error type, so that what went wrong with reused chunks
/// (which a caller recovers from by compressing the component again) is never mistaken for a
/// failure to write the slug (which it reports).
#[derive(Debug)]
enum WriteError {
    /// Writing the slug failed.
    Io(std::io::Error),
    /// Reused chunks could not be copied: their file is gone, shorter than recorded, or its
    /// bytes do not have the recorded CRC.
    ReusedChunks {
        /// The file holding the chunks.
        path: PathBuf,
        /// What is wrong with them.
        reason: String,
    },
}

impl From<std::io::Error> for WriteError {
    fn from(err: std::io::Error) -> Self {
        WriteError::Io(err)
    }
}

/// Copies a span's compressed bytes into the slug and returns their CRC-32 (checked against
/// the span's, when it has one).
fn copy_span<W: Write>(
    gz: &mut GzipAssembler<W>,
    span: &CompressedSpan,
) -> Result<crc32fast::Hasher, WriteError> {
    let bad = |reason: String| WriteError::ReusedChunks {
        path: span.path.clone(),
        reason,
    };
    let mut file = File::open(&span.path).map_err(|err| bad(format!("cannot open: {err}")))?;
    file.seek(SeekFrom::Start(span.offset))
        .map_err(|err| bad(format!("cannot seek: {err}")))?;
    let mut reader = file.take(span.deflate_len);
    let mut copied = 0;
    let mut crc = crc32fast::Hasher::new();
    loop {
        // Read straight into the hasher's buffer: the bytes are written and hashed, not copied.
        let mut buf = gz.buffer();
        buf.resize(super::sha_pipe::BUF_SIZE, 0);
        let n = loop {
            match reader.read(&mut buf) {
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                read => break read.map_err(|err| bad(format!("cannot read: {err}")))?,
            }
        };
        buf.truncate(n);
        crc.update(&buf);
        // Even empty, the buffer goes back to the pool.
        gz.write_buf(buf)?;
        if n == 0 {
            break;
        }
        copied += n as u64;
    }
    if copied != span.deflate_len {
        return Err(bad(format!(
            "{copied} compressed bytes where {} were recorded",
            span.deflate_len
        )));
    }
    if let Some(expected) = span.deflate_crc
        && crc.clone().finalize() != expected
    {
        return Err(bad(
            "the compressed bytes do not have the recorded CRC-32".into()
        ));
    }
    gz.add_crc(span.crc, span.tar_len);
    Ok(crc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slug::tar::{Entry, EntryKind};

    fn component(name: &str, entries: Vec<Entry>, end_of_archive: bool) -> Component {
        Component {
            name: name.to_owned(),
            entries,
            end_of_archive,
        }
    }

    fn dir(rel: &str) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::Dir,
        }
    }

    fn packed(inputs: &[ComponentInput<'_>], threads: usize) -> (Packed, Vec<u8>) {
        let mut out = Vec::new();
        let options = PackOptions {
            threads,
            reporter: None,
            hash_fresh: false,
        };
        let packed = pack(inputs, &mut out, Path::new("mem"), options).unwrap();
        (packed, out)
    }

    #[test]
    fn an_empty_component_adds_no_bytes() {
        let layout = component("layout", vec![dir("")], false);
        let empty = component("empty", Vec::new(), false);
        let app = component("app", vec![dir("x")], true);
        let (with, bytes_with) = packed(
            &[
                ComponentInput::Fresh(&layout),
                ComponentInput::Fresh(&empty),
                ComponentInput::Fresh(&app),
            ],
            2,
        );
        let (without, bytes_without) = packed(
            &[ComponentInput::Fresh(&layout), ComponentInput::Fresh(&app)],
            1,
        );
        assert_eq!(bytes_with, bytes_without);
        assert_eq!(with.checksum, without.checksum);
        assert_eq!(with.components[1].deflate_len, 0);
        assert_eq!(with.components[1].tar_len, 0);
        assert_eq!(with.tar_len, 2 * 512 + 1024);
    }

    #[test]
    fn hashes_computed_while_packing_are_the_content_hashes() {
        let layout = component("layout", vec![dir("")], false);
        let app = component(
            "app",
            (0..3000).map(|i| dir(&format!("d{i}"))).collect(),
            true,
        );
        let span_source = packed(&[ComponentInput::Fresh(&layout)], 1);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&span_source.1).unwrap();
        let span = span_source.0.components[0].span(file.path());
        let mut out = Vec::new();
        let options = PackOptions {
            threads: 2,
            reporter: None,
            hash_fresh: true,
        };
        let inputs = [
            ComponentInput::Reused {
                name: "layout",
                span: &span,
            },
            ComponentInput::Fresh(&app),
        ];
        let packed = pack(&inputs, &mut out, Path::new("mem"), options).unwrap();
        assert!(app.tar_len() > 1 << 20, "more than one chunk");
        assert_eq!(
            packed.content_hashes,
            [None, Some(app.content_hash().unwrap())]
        );
    }

    #[test]
    fn bad_reused_chunks_and_a_failing_writer_are_told_apart() {
        let layout = component("layout", vec![dir("")], false);
        let app = component("app", vec![dir("x")], true);
        let (source, bytes) = packed(&[ComponentInput::Fresh(&layout)], 1);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        let span = source.components[0].span(file.path());
        let pack_with = |span: &CompressedSpan, out: &mut (dyn Write + Send)| {
            let inputs = [
                ComponentInput::Reused {
                    name: "layout",
                    span,
                },
                ComponentInput::Fresh(&app),
            ];
            pack(&inputs, out, Path::new("out.tgz"), PackOptions::default())
        };

        let gone = CompressedSpan {
            path: file.path().with_extension("gone"),
            ..span.clone()
        };
        match pack_with(&gone, &mut Vec::new()) {
            Err(SlugError::ReusedChunks { path, reason }) => {
                assert_eq!(path, gone.path);
                assert!(reason.starts_with("cannot open"), "{reason}");
            }
            other => panic!("expected reused chunks, got {other:?}"),
        }
        let wrong_crc = CompressedSpan {
            deflate_crc: span.deflate_crc.map(|crc| !crc),
            ..span.clone()
        };
        match pack_with(&wrong_crc, &mut Vec::new()) {
            Err(SlugError::ReusedChunks { path, reason }) => {
                assert_eq!(path, file.path());
                assert!(reason.contains("recorded CRC-32"), "{reason}");
            }
            other => panic!("expected reused chunks, got {other:?}"),
        }

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        match pack_with(&span, &mut Full) {
            Err(SlugError::Write { path, source }) => {
                assert_eq!(path, Path::new("out.tgz"));
                assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
            }
            other => panic!("expected a write error, got {other:?}"),
        }
    }

    #[test]
    fn reporter_hears_every_byte() {
        use std::sync::atomic::{AtomicU64, Ordering};
        #[derive(Default)]
        struct Count(AtomicU64, AtomicU64);
        impl PackReporter for Count {
            fn start(&self, total: u64) {
                self.0.store(total, Ordering::SeqCst);
            }
            fn advance(&self, bytes: u64) {
                self.1.fetch_add(bytes, Ordering::SeqCst);
            }
        }
        let count = Count::default();
        let app = component(
            "app",
            (0..3000).map(|i| dir(&format!("d{i}"))).collect(),
            true,
        );
        let mut out = Vec::new();
        let options = PackOptions {
            threads: 3,
            reporter: Some(&count),
            hash_fresh: false,
        };
        let packed = pack(
            &[ComponentInput::Fresh(&app)],
            &mut out,
            Path::new("mem"),
            options,
        )
        .unwrap();
        assert!(packed.tar_len > 1 << 20, "more than one chunk");
        assert_eq!(count.0.load(Ordering::SeqCst), packed.tar_len);
        assert_eq!(count.1.load(Ordering::SeqCst), packed.tar_len);
    }
}
