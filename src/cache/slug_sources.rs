//! Which files of a slug are copies of files the cache holds read-only, so the local platform
//! can link them instead of writing them again when it unpacks the slug for its dynos.
//!
//! A Node slug is ~3,300 files, ~99 % of them its runtime's, and the cache already holds every
//! one of those in the runtime's unpacked tree (`runtime-trees-v1`, read-only, its content
//! fixed by the archive's hash), as it holds a Go binary (`go-v1`). When a build writes a
//! slug it records here, under the slug's SHA-256, where the files that came from there are: a
//! directory of the archive and the cache directory its files are copies of (a runtime tree's
//! ~600 directories, not its ~3,300 files), or a single file and its copy (a Go binary, named
//! by its key). The record only says where to look: the unpacker
//! reads and compares every byte before linking ([`crate::runtime::extract_linking`]), so a
//! record that is stale, damaged or for files changed since costs a write, never a wrong file.
//!
//! The format: a header line (magic, entry count, body length, the body's CRC-32), then per
//! entry a kind byte (`d` a directory, `f` a file), its archive path and its cache path, each a
//! u32 LE length and the bytes. A record that is missing or fails any check reads as empty.

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

/// Where a slug's files have copies in the cache, by their path in the archive (`app/…`, as the
/// extractor names entries).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SlugSources {
    /// Archive directory → the cache directory holding copies of its files (same names).
    dirs: HashMap<Vec<u8>, PathBuf>,
    /// Archive file → its copy, where the names differ.
    files: HashMap<Vec<u8>, PathBuf>,
}

impl SlugSources {
    /// The cache file that may hold a copy of the archive's file `path` (to be compared).
    pub fn source(&self, path: &[u8]) -> Option<PathBuf> {
        if let Some(file) = self.files.get(path) {
            return Some(file.clone());
        }
        let (dir, name) = split_dir(path)?;
        Some(self.dirs.get(dir)?.join(std::ffi::OsStr::from_bytes(name)))
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.files.is_empty()
    }

    /// Records that the archive's file `path` is a copy of `source`: through its directory
    /// when the names match and the directory maps there (or nowhere yet), else on its own.
    fn add(&mut self, path: Vec<u8>, source: PathBuf) {
        if let Some((dir, name)) = split_dir(&path)
            && source.file_name().is_some_and(|n| n.as_bytes() == name)
            && let Some(source_dir) = source.parent()
        {
            let mapped = self
                .dirs
                .entry(dir.to_vec())
                .or_insert_with(|| source_dir.to_owned());
            if mapped == source_dir {
                return;
            }
        }
        self.files.insert(path, source);
    }
}

/// An archive path's directory and file name (`app/bin/node` → `app/bin`, `node`).
fn split_dir(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let slash = path.iter().rposition(|&b| b == b'/')?;
    Some((&path[..slash], &path[slash + 1..]))
}

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
    let mut sources = SlugSources::default();
    for (rel, source) in files {
        if !roots.iter().any(|root| source.starts_with(root)) {
            continue;
        }
        // The platform reading this may run in another directory than the build.
        let Ok(source) = std::path::absolute(source) else {
            continue;
        };
        let mut path = b"app/".to_vec();
        path.extend_from_slice(rel);
        sources.add(path, source);
    }
    if sources.is_empty() {
        return;
    }
    // Sorted, so a slug's record has the same bytes on every build.
    let mut entries: Vec<(u8, &Vec<u8>, &PathBuf)> = sources
        .dirs
        .iter()
        .map(|(path, source)| (b'd', path, source))
        .chain(
            sources
                .files
                .iter()
                .map(|(path, source)| (b'f', path, source)),
        )
        .collect();
    entries.sort();
    let mut body = Vec::new();
    for (kind, path, source) in &entries {
        body.push(*kind);
        push(&mut body, path);
        push(&mut body, source.as_os_str().as_bytes());
    }
    let path = cache.entry(CacheKey::SlugSources(sha256)).into_path();
    let Ok(mut temp) = cache.temp_file(Bucket::SlugSources) else {
        return;
    };
    let written = temp
        .write_all(header(entries.len(), &body).as_bytes())
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
    let mut take = |n: usize| {
        let (bytes, rest) = body.split_at_checked(n)?;
        body = rest;
        Some(bytes)
    };
    let mut sources = SlugSources::default();
    for _ in 0..count {
        let kind = take(1)?[0];
        let mut sized = || {
            let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            Some(take(len)?.to_vec())
        };
        let path = sized()?;
        let source = PathBuf::from(std::ffi::OsString::from_vec(sized()?));
        match kind {
            b'd' => sources.dirs.insert(path, source),
            b'f' => sources.files.insert(path, source),
            _ => return None,
        };
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
        assert_eq!(sources.source(b"app/node/bin/node"), Some(node.clone()));
        // The rest of its directory is looked for beside it (and compared before any use).
        let npm = node.with_file_name("npm");
        assert_eq!(sources.source(b"app/node/bin/npm"), Some(npm));
        assert_eq!(sources.source(b"app/bin/server"), Some(go));
        assert_eq!(sources.source(b"app/web.js"), None, "the app's own file");
        assert_eq!(sources.source(b"app/lib/x"), None);
        assert_eq!((sources.dirs.len(), sources.files.len()), (1, 1));
        assert!(read(temp.path(), "other").is_empty());
    }

    #[test]
    fn a_damaged_record_reads_as_empty() {
        let (temp, cache, node) = cache_with_a_runtime_file();
        record(&cache, "ab12", [(&b"node/bin/node"[..], node.as_path())]);
        assert_eq!(
            read(temp.path(), "ab12").source(b"app/node/bin/node"),
            Some(node)
        );
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
