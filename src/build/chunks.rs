//! The chunk cache: each component's compressed chunks, kept so an unchanged component is
//! never compressed again (what makes an app-only change take milliseconds).
//!
//! An entry is one file, `chunks-v1/<component key>.chunks`: a JSON header line (format
//! version, component name, lengths and CRCs) followed by the component's `Z(chunk)`s exactly
//! as they appear in a slug. The component key (see [`super::key`]) covers the encoding's
//! [`FORMAT_VERSION`], the end-of-archive flag and everything the tar bytes depend on, so equal
//! keys mean equal compressed bytes.
//!
//! Guarantees:
//! - Entries are written to a temp file and renamed into place, so a reader never sees half of
//!   one; being one file, an entry is also deleted whole (by `slugplan cache prune`).
//! - A header that does not parse, names another format, or disagrees with the file's length
//!   is a miss. The compressed bytes' CRC-32 travels with the span and is checked while they
//!   are copied; a mismatch fails the pack with [`crate::slug::SlugError::ReusedChunks`], and the caller
//!   evicts the entry and compresses the component again. A damaged cache costs time, never a
//!   wrong slug.
//! - Using an entry refreshes its mtime, which is what pruning orders by (least recently used
//!   goes first).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::cache::{self, Bucket, Cache, CacheError, CacheKey};
use crate::slug::{CompressedSpan, FORMAT_VERSION, PackedComponent};

/// The header line of a chunk cache entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Header {
    format_version: String,
    name: String,
    deflate_len: u64,
    tar_len: u64,
    crc: u32,
    deflate_crc: u32,
}

/// The longest header accepted; anything longer is not ours.
const MAX_HEADER: u64 = 4096;

/// The chunk cache of one [`Cache`].
#[derive(Debug, Clone)]
pub struct ChunkStore {
    cache: Cache,
}

impl ChunkStore {
    /// The chunk cache of `cache` (its `chunks-v1` bucket).
    pub fn open(cache: &Cache) -> Result<Self, CacheError> {
        cache.bucket(Bucket::Chunks)?;
        Ok(ChunkStore {
            cache: cache.clone(),
        })
    }

    /// The entry file for component key `key`.
    pub fn path(&self, key: &str) -> PathBuf {
        self.cache.entry(CacheKey::Chunks(key)).into_path()
    }

    /// The cached chunks of the component with key `key`, named `name`, if a sound entry is
    /// there (see the module docs for what is checked here and what while copying).
    pub fn get(&self, key: &str, name: &str) -> Option<CompressedSpan> {
        let span = self.span(key, name)?;
        cache::touch(&span.path);
        Some(span)
    }

    /// Whether a sound entry for `key` is there (without marking it used).
    pub fn contains(&self, key: &str, name: &str) -> bool {
        self.span(key, name).is_some()
    }

    /// The entry's span if its header is sound, without marking it used.
    fn span(&self, key: &str, name: &str) -> Option<CompressedSpan> {
        let path = self.path(key);
        let file = File::open(&path).ok()?;
        let file_len = file.metadata().ok()?.len();
        let mut line = Vec::new();
        BufReader::new(file.take(MAX_HEADER))
            .read_until(b'\n', &mut line)
            .ok()?;
        if line.last() != Some(&b'\n') {
            return None;
        }
        let header: Header = serde_json::from_slice(&line).ok()?;
        let offset = line.len() as u64;
        let sound = header.format_version == FORMAT_VERSION
            && header.name == name
            && offset.checked_add(header.deflate_len) == Some(file_len);
        if !sound {
            return None;
        }
        Some(CompressedSpan {
            path,
            offset,
            deflate_len: header.deflate_len,
            tar_len: header.tar_len,
            crc: header.crc,
            deflate_crc: Some(header.deflate_crc),
        })
    }

    /// Stores the chunks of `component`, which sit in the packed slug `slug`, under `key`.
    /// A sound entry already there is kept (same key, same bytes); a damaged one is replaced.
    pub fn put(
        &self,
        key: &str,
        component: &PackedComponent,
        slug: &Path,
    ) -> Result<(), CacheError> {
        let dest = self.path(key);
        match self.span(key, &component.name) {
            Some(span) if span.deflate_crc == Some(component.deflate_crc) => return Ok(()),
            // Damaged, or (CRC aside) not what this key stands for: make room for ours.
            _ => {
                let _ = std::fs::remove_file(&dest);
            }
        }
        let header = Header {
            format_version: FORMAT_VERSION.to_owned(),
            name: component.name.clone(),
            deflate_len: component.deflate_len,
            tar_len: component.tar_len,
            crc: component.crc,
            deflate_crc: component.deflate_crc,
        };
        let mut temp = self.cache.temp_file(Bucket::Chunks)?;
        let temp_path = temp.path().to_owned();
        let write_err = |source| CacheError::Io {
            path: temp_path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(&header).expect("headers serialise");
        line.push(b'\n');
        temp.write_all(&line).map_err(write_err)?;
        let read_err = |source| CacheError::Io {
            path: slug.to_owned(),
            source,
        };
        let mut source = File::open(slug).map_err(read_err)?;
        source
            .seek(SeekFrom::Start(component.deflate_offset))
            .map_err(read_err)?;
        // File to file: the kernel copies (copy_file_range), no user-space buffer.
        let copied = std::io::copy(&mut source.take(component.deflate_len), temp.as_file_mut())
            .map_err(write_err)?;
        if copied != component.deflate_len {
            return Err(read_err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the slug is shorter than its component table says",
            )));
        }
        cache::persist(temp, &dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slug::{Component, ComponentInput, Entry, EntryKind, PackOptions, write_to_cache};

    fn stored() -> (tempfile::TempDir, ChunkStore, PackedComponent) {
        let temp = tempfile::tempdir().unwrap();
        let cache = Cache::new(temp.path());
        let app = Component {
            name: "app".into(),
            entries: (0..50)
                .map(|i| Entry {
                    rel: format!("d{i}").into_bytes(),
                    kind: EntryKind::Dir,
                })
                .collect(),
            end_of_archive: true,
        };
        let file = write_to_cache(
            &[ComponentInput::Fresh(&app)],
            &cache,
            PackOptions::default(),
        )
        .unwrap();
        let store = ChunkStore::open(&cache).unwrap();
        let packed = file.packed.components[0].clone();
        store.put("k", &packed, &file.path).unwrap();
        (temp, store, packed)
    }

    #[test]
    fn an_entry_gives_back_the_span_it_was_stored_from() {
        let (_temp, store, packed) = stored();
        let span = store.get("k", "app").unwrap();
        assert_eq!(
            (span.deflate_len, span.tar_len, span.crc, span.deflate_crc),
            (
                packed.deflate_len,
                packed.tar_len,
                packed.crc,
                Some(packed.deflate_crc)
            )
        );
        let bytes = std::fs::read(&span.path).unwrap();
        assert_eq!(bytes.len() as u64, span.offset + span.deflate_len);
    }

    #[test]
    fn entries_for_another_name_format_or_length_are_misses() {
        let (_temp, store, _) = stored();
        assert!(store.get("k", "runtime.node").is_none(), "another name");
        assert!(store.get("other", "app").is_none(), "another key");
        let path = store.path("k");
        let text = std::fs::read(&path).unwrap();
        let other_format = String::from_utf8_lossy(&text)
            .replacen(FORMAT_VERSION, "chunked-deflate-v0", 1)
            .into_bytes();
        // Same length: only the header's format differs.
        std::fs::write(&path, &other_format).unwrap();
        assert!(store.get("k", "app").is_none(), "another format");
        let mut longer = text.clone();
        longer.push(0);
        std::fs::write(&path, &longer).unwrap();
        assert!(store.get("k", "app").is_none(), "a longer file");
        std::fs::write(&path, &text).unwrap();
        assert!(store.get("k", "app").is_some(), "restored");
    }
}
