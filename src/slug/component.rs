//! A component: a run of tar entries that is chunked and compressed on its own.
//!
//! The tar stream of a slug is the concatenation of its components' streams. A component's
//! bytes depend only on its entries (and, for the last one, the end-of-archive marker it
//! carries), never on what comes before it, which is why its compressed chunks can be reused.

use std::fs::File;
use std::io::Read;

use sha2::{Digest, Sha256};

use super::SlugError;
use super::encoding::FORMAT_VERSION;
use super::tar::{BLOCK, END_OF_ARCHIVE, Entry, EntryKind, padded};

/// A run of entries chunked from its own start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// What the component is, for messages and cache keys: `layout`, `runtime.<name>`, `go`,
    /// `app`.
    pub name: String,
    /// The entries, in archive order.
    pub entries: Vec<Entry>,
    /// Whether the end-of-archive marker follows the entries (true for the last component).
    pub end_of_archive: bool,
}

/// Where a component's tar bytes go: a chunker feeding the compressors, or a hasher.
pub(crate) trait TarSink {
    /// Appends bytes.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SlugError>;
    /// A buffer file data may be read into directly (never empty); [`TarSink::commit`] says
    /// how much of it was filled.
    fn spare(&mut self) -> Result<&mut [u8], SlugError>;
    /// Accepts `n` bytes read into the buffer [`TarSink::spare`] returned.
    fn commit(&mut self, n: usize) -> Result<(), SlugError>;
    /// A file's contents start: what comes through [`TarSink::commit`] until
    /// [`TarSink::file_end`] is that file's data.
    fn file_start(&mut self) {}
    /// The file's contents ended.
    fn file_end(&mut self) {}
}

impl Component {
    /// Bytes of tar stream this component produces.
    pub fn tar_len(&self) -> u64 {
        let entries: u64 = self.entries.iter().map(Entry::tar_len).sum();
        entries
            + if self.end_of_archive {
                END_OF_ARCHIVE.len() as u64
            } else {
                0
            }
    }

    /// A hash of the component's tar bytes and the encoding version: equal hashes mean equal
    /// compressed chunks. Reads every file, but compresses nothing. Independent of mtimes,
    /// owners and the order files were created in, because the tar bytes are.
    pub fn content_hash(&self) -> Result<String, SlugError> {
        Ok(self.hash(false)?.0)
    }

    /// [`Component::content_hash`] and, in the same read, the SHA-256 of each file's contents
    /// (in entry order, one per file entry).
    pub fn content_and_file_hashes(&self) -> Result<(String, Vec<[u8; 32]>), SlugError> {
        self.hash(true)
    }

    fn hash(&self, per_file: bool) -> Result<(String, Vec<[u8; 32]>), SlugError> {
        struct HashSink {
            sha: Sha256,
            buf: Vec<u8>,
            per_file: bool,
            file: Option<Sha256>,
            files: Vec<[u8; 32]>,
        }
        impl TarSink for HashSink {
            fn write(&mut self, bytes: &[u8]) -> Result<(), SlugError> {
                self.sha.update(bytes);
                Ok(())
            }
            fn spare(&mut self) -> Result<&mut [u8], SlugError> {
                Ok(&mut self.buf)
            }
            fn commit(&mut self, n: usize) -> Result<(), SlugError> {
                self.sha.update(&self.buf[..n]);
                if let Some(file) = &mut self.file {
                    file.update(&self.buf[..n]);
                }
                Ok(())
            }
            fn file_start(&mut self) {
                self.file = self.per_file.then(Sha256::new);
            }
            fn file_end(&mut self) {
                if let Some(file) = self.file.take() {
                    self.files.push(file.finalize().into());
                }
            }
        }
        let mut sink = HashSink {
            sha: content_hasher(self.end_of_archive),
            buf: vec![0; 256 * 1024],
            per_file,
            file: None,
            files: Vec::new(),
        };
        self.write_tar(&mut sink)?;
        Ok((hex::encode(sink.sha.finalize()), sink.files))
    }

    /// Writes the component's tar bytes into `sink`, reading file data as it goes.
    pub(crate) fn write_tar(&self, sink: &mut impl TarSink) -> Result<(), SlugError> {
        for entry in &self.entries {
            sink.write(&entry.header_bytes())?;
            if let EntryKind::File { source, size, .. } = &entry.kind {
                sink.file_start();
                copy_file(source, *size, sink)?;
                sink.file_end();
                let pad = padded(*size) - size;
                sink.write(&[0u8; BLOCK][..pad as usize])?;
            }
        }
        if self.end_of_archive {
            sink.write(&END_OF_ARCHIVE)?;
        }
        Ok(())
    }
}

/// The hasher [`Component::content_hash`] feeds a component's tar bytes into: it starts with
/// the encoding's version and the end-of-archive flag. Packing uses it too, to hash while
/// compressing.
pub(crate) fn content_hasher(end_of_archive: bool) -> Sha256 {
    let mut sha = Sha256::new();
    sha.update(FORMAT_VERSION.as_bytes());
    sha.update([0, u8::from(end_of_archive)]);
    sha
}

/// Streams exactly `size` bytes of `path` into `sink`; a file that shrank or grew since it was
/// listed is an error, since its header already promised `size` bytes.
fn copy_file(path: &std::path::Path, size: u64, sink: &mut impl TarSink) -> Result<(), SlugError> {
    let read_err = |source| SlugError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let mut left = size;
    while left > 0 {
        let buf = sink.spare()?;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(SlugError::FileChanged {
                    path: path.to_owned(),
                });
            }
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(read_err(err)),
        };
        sink.commit(n)?;
        left -= n as u64;
    }
    let mut probe = [0u8; 1];
    match file.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(SlugError::FileChanged {
            path: path.to_owned(),
        }),
        Err(err) => Err(read_err(err)),
    }
}
