//! Which files of a slug are copies of files the cache holds read-only, so the local platform
//! can link them instead of writing them again when it unpacks the slug for its dynos.
//!
//! A Node slug is ~3,300 files, ~99 % of them its runtime's, and the cache already holds every
//! one of those in the runtime's unpacked tree (`runtime-trees-v1`, read-only, its content
//! fixed by the archive's hash), as it holds a Go binary (`go-v1`). When a build writes a
//! slug it records here, under the slug's SHA-256, each of its files that came from there: its
//! path in the archive and the cache file. The record only says where to look: the unpacker
//! reads and compares every byte before linking ([`crate::runtime::extract_linking`]), so a
//! record that is stale, damaged or for files changed since costs a write, never a wrong file.
//!
//! The format: a header line (magic, entry count, body length, the body's CRC-32), then per
//! file its archive path and its cache path, each a u32 LE length and the bytes. A record that
//! is missing or fails any check reads as empty.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{Bucket, Cache, CacheKey};

/// The first word of a record's header; bumped with the body's format.
const MAGIC: &str = "slugplan-slug-sources-v1";

/// The buckets whose files never change once written (read-only, named by what fixes their
/// content), which are the only ones a slug's files may be linked from.
const IMMUTABLE: [Bucket; 2] = [Bucket::RuntimeTrees, Bucket::GoBuilds];

/// A slug's files that have a copy in the cache: archive path (`app/…`, as the extractor
/// names entries) → the cache file.
pub type SlugSources = HashMap<Vec<u8>, PathBuf>;

/// Records which of the files of the slug `sha256` (each its path inside `./app` and the file
/// its bytes were read from) came from the cache's immutable buckets. Best effort: a record
/// that cannot be written only costs a later unpack its links.
pub fn record<'a>(
    cache: &Cache,
    sha256: &str,
    files: impl IntoIterator<Item = (&'a [u8], &'a Path)>,
) {
    let roots: Vec<PathBuf> = IMMUTABLE
        .iter()
        .map(|bucket| cache.root().join(bucket.dir_name()))
        .collect();
    let mut body = Vec::new();
    let mut count = 0usize;
    for (rel, source) in files {
        if !roots.iter().any(|root| source.starts_with(root)) {
            continue;
        }
        // The platform that reads this may run elsewhere than the build: absolute paths.
        let Ok(source) = std::path::absolute(source) else {
            continue;
        };
        let mut name = b"app/".to_vec();
        name.extend_from_slice(rel);
        push(&mut body, &name);
        push(&mut body, source.as_os_str().as_bytes());
        count += 1;
    }
    if count == 0 {
        return;
    }
    let path = cache.entry(CacheKey::SlugSources(sha256)).into_path();
    let Ok(mut temp) = cache.temp_file(Bucket::SlugSources) else {
        return;
    };
    let written = temp
        .write_all(header(count, &body).as_bytes())
        .and_then(|()| temp.write_all(&body));
    if written.is_ok()
        && let Err(err) = super::persist(temp, &path)
    {
        tracing::debug!(error = %err, "cannot record the sources of slug {sha256}");
    }
}

/// The recorded sources of the slug `sha256` in the cache at `cache_root`; empty when there
/// is no sound record. Takes no lock: what it names is checked byte for byte before use.
pub fn read(cache_root: &Path, sha256: &str) -> SlugSources {
    let path = Cache::new(cache_root)
        .entry(CacheKey::SlugSources(sha256))
        .into_path();
    std::fs::read(path)
        .ok()
        .and_then(|data| decode(&data))
        .unwrap_or_default()
}

fn header(count: usize, body: &[u8]) -> String {
    format!(
        "{MAGIC} {count} {} {:08x}\n",
        body.len(),
        crc32fast::hash(body)
    )
}

fn push(body: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a path is shorter than 4 GiB");
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(bytes);
}

fn decode(data: &[u8]) -> Option<SlugSources> {
    let newline = data.iter().position(|&b| b == b'\n')?;
    let mut body = &data[newline + 1..];
    let count: usize = std::str::from_utf8(&data[..newline])
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()?;
    if data[..=newline] != *header(count, body).as_bytes() {
        return None;
    }
    let mut take = || {
        let (len, rest) = body.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (bytes, rest) = rest.split_at_checked(len)?;
        body = rest;
        Some(bytes.to_vec())
    };
    let mut sources = SlugSources::with_capacity(count);
    for _ in 0..count {
        let name = take()?;
        let source = PathBuf::from(std::ffi::OsString::from_vec(take()?));
        sources.insert(name, source);
    }
    Some(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache in a fresh directory, and where a runtime tree's `bin/node` would be in it.
    fn cache_with_a_runtime_file() -> (tempfile::TempDir, Cache, PathBuf) {
        let temp = tempfile::tempdir().unwrap();
        let cache = Cache::new(temp.path());
        let node = cache
            .entry(CacheKey::RuntimeTree("t"))
            .into_path()
            .join("bin/node");
        (temp, cache, node)
    }

    #[test]
    fn only_files_from_the_immutable_buckets_are_recorded_and_read_back() {
        let (temp, cache, node) = cache_with_a_runtime_file();
        let go = cache.entry(CacheKey::GoBinary("g")).into_path();
        let web = temp.path().join("project/web.js");
        let files: [(&[u8], &Path); 3] = [
            (b"node/bin/node", &node),
            (b"bin/server", &go),
            (b"web.js", &web),
        ];
        record(&cache, "ab12", files);
        let sources = read(temp.path(), "ab12");
        assert_eq!(sources.len(), 2, "{sources:?}");
        assert_eq!(sources[&b"app/node/bin/node"[..]], node);
        assert_eq!(sources[&b"app/bin/server"[..]], go);
        assert!(read(temp.path(), "other").is_empty());
    }

    #[test]
    fn a_damaged_record_reads_as_empty() {
        let (temp, cache, node) = cache_with_a_runtime_file();
        record(&cache, "ab12", [(&b"node/bin/node"[..], node.as_path())]);
        assert_eq!(read(temp.path(), "ab12").len(), 1);
        let path = cache.entry(CacheKey::SlugSources("ab12")).into_path();
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert!(read(temp.path(), "ab12").is_empty(), "a flipped bit");
        std::fs::write(&path, &data[..data.len() / 2]).unwrap();
        assert!(read(temp.path(), "ab12").is_empty(), "cut in half");
    }
}
