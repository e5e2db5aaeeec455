//! Input keys: what a slug's bytes depend on, hashed, so an unchanged slug is never packed
//! again and a plan can name what changed.
//!
//! A slug's key is the hash of its components' keys, in archive order, under the encoding's
//! [`FORMAT_VERSION`]. A component's key is:
//! - for a runtime unpacked from a pinned archive: the archive's SHA-256, the strip count, the
//!   extraction version and the listing of entries (names, kinds, sizes, modes), without reading
//!   the files again: the archive's hash already fixes their bytes;
//! - for everything else (the app's files, a Go binary, a runtime from a local directory): the
//!   hash of the component's tar bytes, which depend on names, modes and contents, never on
//!   mtimes, owners or the order files were created in.
//!
//! The app component is also hashed file by file, so a rebuild can say `web.js changed`.
//!
//! Reading a 200 MB `path` runtime on every plan would cost more than the incremental pack it
//! decides on, so the content hashes of components other than the app are memoised in the
//! cache's `tree-hashes-v1` bucket under a signature of their files' stat data (path, size,
//! mode, mtime and ctime in nanoseconds, inode, device), as git's index does. A `touch` or a
//! fresh copy changes the signature, so the files are read again, give the same content hash
//! and cause no rebuild. A signature is only recorded when no file changed within the second
//! before hashing started, so a file rewritten within one timestamp tick is never trusted.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::cache::{Bucket, Cache, CacheError};
use crate::manifest::LoadedManifest;
use crate::slug::{Component, EntryKind, FORMAT_VERSION, SlugError};

/// A slug's input key and the keys it is made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlugKey {
    /// The key: lowercase hex SHA-256.
    pub key: String,
    /// Component name → key, plus `app/<path>` → the SHA-256 of each of the app's files.
    pub parts: BTreeMap<String, String>,
}

impl SlugKey {
    /// What differs from `previous`, for a rebuild's reason: `web.js changed`,
    /// `runtime.node changed`, `lib/a.js added`, … (the first few, then a count).
    pub fn changes_since(&self, previous: &SlugKey) -> String {
        let mut changes = Vec::new();
        for (name, key) in &self.parts {
            let shown = name.strip_prefix("app/").unwrap_or(name);
            match previous.parts.get(name) {
                None => changes.push(format!("{shown} added")),
                Some(old) if old != key && !(name == "app" && has_file_parts(self)) => {
                    changes.push(format!("{shown} changed"));
                }
                _ => {}
            }
        }
        for name in previous.parts.keys() {
            if !self.parts.contains_key(name) {
                let shown = name.strip_prefix("app/").unwrap_or(name);
                changes.push(format!("{shown} removed"));
            }
        }
        match changes.len() {
            0 => "the archive encoding changed".into(),
            1..=3 => changes.join(", "),
            n => format!("{} and {} more", changes[..3].join(", "), n - 3),
        }
    }
}

fn has_file_parts(key: &SlugKey) -> bool {
    key.parts.keys().any(|k| k.starts_with("app/"))
}

/// Computes the key of a slug made of `components`, memoising the content hashes of
/// non-app components in `cache` (see the module docs).
pub fn slug_key(
    loaded: &LoadedManifest,
    components: &[Component],
    cache: &Cache,
) -> Result<SlugKey, SlugError> {
    let mut parts = BTreeMap::new();
    let mut slug = Sha256::new();
    slug.update(FORMAT_VERSION.as_bytes());
    for component in components {
        let key = match archive_key(loaded, component) {
            Some(key) => key,
            None if component.name == "app" => component.content_hash()?,
            None => memoised_content_hash(component, cache)?,
        };
        slug.update(component.name.as_bytes());
        slug.update([0]);
        slug.update(key.as_bytes());
        if component.name == "app" {
            parts.extend(file_hashes(component)?);
        }
        parts.insert(component.name.clone(), key);
    }
    Ok(SlugKey {
        key: hex::encode(slug.finalize()),
        parts,
    })
}

/// The key of one component (see the module docs), without memoisation.
pub fn component_key(loaded: &LoadedManifest, component: &Component) -> Result<String, SlugError> {
    match archive_key(loaded, component) {
        Some(key) => Ok(key),
        None => component.content_hash(),
    }
}

/// The key of a runtime component unpacked from a pinned archive; None for other components.
fn archive_key(loaded: &LoadedManifest, component: &Component) -> Option<String> {
    let archive = component
        .name
        .strip_prefix("runtime.")
        .and_then(|name| loaded.manifest.runtimes.get(name))
        .filter(|runtime| runtime.url.is_some())
        .and_then(|runtime| {
            let lock = crate::runtime::Lockfile::load(loaded).ok()?;
            let name = component.name.strip_prefix("runtime.")?;
            let (_, sha256) = crate::runtime::pinned(loaded, name, &lock).ok()?;
            Some((sha256, runtime.strip_components))
        });
    let (sha256, strip) = archive?;
    let mut hash = Sha256::new();
    hash.update(FORMAT_VERSION.as_bytes());
    hash.update(format!(
        "archive {sha256} strip {strip} extract {} eoa {}\n",
        crate::runtime::EXTRACT_VERSION,
        component.end_of_archive
    ));
    for entry in &component.entries {
        hash.update(&entry.rel);
        match &entry.kind {
            EntryKind::Dir => hash.update(b"\0dir\n"),
            EntryKind::File {
                size, executable, ..
            } => hash.update(format!("\0file {size} {executable}\n")),
            EntryKind::Symlink { target } => {
                hash.update(b"\0link ");
                hash.update(target);
                hash.update(b"\n");
            }
        }
    }
    Some(hex::encode(hash.finalize()))
}

/// [`Component::content_hash`], looked up by the stat signature of the component's files and
/// recorded when it is safe to (see the module docs).
fn memoised_content_hash(component: &Component, cache: &Cache) -> Result<String, SlugError> {
    let started = SystemTime::now();
    let Some((signature, newest)) = stat_signature(component) else {
        return component.content_hash();
    };
    let Ok(dir) = cache.bucket(Bucket::TreeHashes) else {
        return component.content_hash();
    };
    let memo = dir.join(&signature);
    if let Ok(text) = std::fs::read_to_string(&memo)
        && text.len() == 64
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        crate::cache::touch(&memo);
        return Ok(text);
    }
    let hash = component.content_hash()?;
    let settled = newest
        < started
            .checked_sub(Duration::from_secs(1))
            .unwrap_or(started);
    if settled && let Ok(mut temp) = cache.temp_file(Bucket::TreeHashes) {
        // Best effort: without the memo the next plan reads the files again, nothing worse.
        if std::io::Write::write_all(&mut temp, hash.as_bytes()).is_ok() {
            let _ = crate::cache::persist(temp, &memo);
        }
    }
    Ok(hash)
}

/// A hash of what the component's tar bytes depend on as far as `stat` can tell, and the
/// newest mtime or ctime among its files. None when a file cannot be stat'ed (the content
/// hash then reports the error).
fn stat_signature(component: &Component) -> Option<(String, SystemTime)> {
    let mut sig = Sha256::new();
    sig.update(FORMAT_VERSION.as_bytes());
    sig.update(format!(
        "stat-v1 {} eoa {}\n",
        component.name, component.end_of_archive
    ));
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in &component.entries {
        sig.update(&entry.rel);
        match &entry.kind {
            EntryKind::Dir => sig.update(b"\0dir\n"),
            EntryKind::File {
                source,
                size,
                executable,
            } => {
                let meta = std::fs::metadata(source).ok()?;
                let time = |secs: i64, nanos: i64| {
                    SystemTime::UNIX_EPOCH
                        + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
                        + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
                };
                newest = newest
                    .max(time(meta.mtime(), meta.mtime_nsec()))
                    .max(time(meta.ctime(), meta.ctime_nsec()));
                sig.update(b"\0file ");
                sig.update(source.as_os_str().as_encoded_bytes());
                sig.update(format!(
                    " {size} {executable} {} {} {}.{} {}.{} {} {}\n",
                    meta.len(),
                    meta.mode(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    meta.ctime(),
                    meta.ctime_nsec(),
                    meta.ino(),
                    meta.dev()
                ));
            }
            EntryKind::Symlink { target } => {
                sig.update(b"\0link ");
                sig.update(target);
                sig.update(b"\n");
            }
        }
    }
    Some((hex::encode(sig.finalize()), newest))
}

fn file_hashes(component: &Component) -> Result<BTreeMap<String, String>, SlugError> {
    let mut out = BTreeMap::new();
    for entry in &component.entries {
        let name = format!("app/{}", String::from_utf8_lossy(&entry.rel));
        let hash = match &entry.kind {
            EntryKind::Dir => continue,
            EntryKind::File { source, .. } => {
                let mut file = std::fs::File::open(source).map_err(|err| SlugError::Read {
                    path: source.clone(),
                    source: err,
                })?;
                let mut sha = Sha256::new();
                std::io::copy(&mut file, &mut sha).map_err(|err| SlugError::Read {
                    path: source.clone(),
                    source: err,
                })?;
                hex::encode(sha.finalize())
            }
            EntryKind::Symlink { target } => {
                format!("link:{}", String::from_utf8_lossy(target))
            }
        };
        out.insert(name, hash);
    }
    Ok(out)
}

/// What the slug index remembers of a built slug.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexEntry {
    /// The archive's SHA-256 (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The slug index: input key → the archive built from it, in the cache's `slug-index-v1`
/// bucket. An entry whose archive is gone is a miss.
#[derive(Debug, Clone)]
pub struct SlugIndex {
    dir: PathBuf,
    slugs: PathBuf,
}

impl SlugIndex {
    /// The index of `cache`.
    pub fn open(cache: &Cache) -> Result<Self, CacheError> {
        Ok(SlugIndex {
            dir: cache.bucket(Bucket::SlugIndex)?,
            slugs: cache.bucket(Bucket::Slugs)?,
        })
    }

    /// The archive built from `key`, with its path, if it is still in the cache.
    pub fn get(&self, key: &str) -> Option<(IndexEntry, PathBuf)> {
        let text = std::fs::read_to_string(self.dir.join(format!("{key}.json"))).ok()?;
        let entry: IndexEntry = serde_json::from_str(&text).ok()?;
        let path = self.slugs.join(format!("{}.tgz", entry.sha256));
        let size = std::fs::metadata(&path).ok()?.len();
        if size != entry.size {
            return None;
        }
        crate::cache::touch(&path);
        Some((entry, path))
    }

    /// Remembers that `key` builds `entry` (temp file + rename: readers never see half).
    pub fn put(&self, key: &str, entry: &IndexEntry) -> Result<(), CacheError> {
        let io = |source| CacheError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        let text = serde_json::to_vec(entry).expect("index entries serialise");
        std::io::Write::write_all(&mut temp, &text).map_err(io)?;
        temp.persist(self.dir.join(format!("{key}.json")))
            .map_err(|err| io(err.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[(&str, &str)]) -> SlugKey {
        SlugKey {
            key: String::new(),
            parts: parts
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_rebuild_names_the_files_that_changed() {
        let before = key(&[
            ("app", "1"),
            ("app/web.js", "a"),
            ("app/old.js", "b"),
            ("runtime.node", "n"),
        ]);
        let after = key(&[
            ("app", "2"),
            ("app/web.js", "c"),
            ("app/new.js", "d"),
            ("runtime.node", "n"),
        ]);
        assert_eq!(
            after.changes_since(&before),
            "new.js added, web.js changed, old.js removed"
        );
        let runtime = key(&[
            ("app", "1"),
            ("app/web.js", "a"),
            ("app/old.js", "b"),
            ("runtime.node", "m"),
        ]);
        assert_eq!(runtime.changes_since(&before), "runtime.node changed");
    }
}
