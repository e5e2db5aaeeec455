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
//! The app component is also hashed file by file, so a rebuild can say `web.js changed`. Those
//! per-file hashes follow from its content, so they are memoised under its content hash
//! (`<key>.files`): a no-op plan whose key comes from the stat memo reads no file at all.
//!
//! Reading a 200 MB `path` runtime on every plan would cost more than the incremental pack it
//! decides on, so the content hashes of components not from an archive (the app included)
//! are memoised in the cache's `tree-hashes-v1` bucket under a signature of their files' stat data (path, size,
//! mode, mtime and ctime in nanoseconds, inode, device), as git's index does. A `touch` or a
//! fresh copy changes the signature, so the files are read again, give the same content hash
//! and cause no rebuild. A signature is only recorded when no file changed within the second
//! before hashing started, so a file rewritten within one timestamp tick is never trusted.
//! A second, untrusted record (the hash last seen for the same names, sizes and modes) tells a
//! build whether reading the files first, hoping to reuse their cached chunks, is worth it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::cache::{Bucket, Cache, CacheKey};
use crate::manifest::LoadedManifest;
use crate::slug::{Component, EntryKind, FORMAT_VERSION, SlugError};

/// A slug's input key and the keys it is made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlugKey {
    /// The key: lowercase hex SHA-256.
    pub key: String,
    /// Component name → key, plus `app/<path>` → the first 64 bits of the SHA-256 of each of
    /// the app's files (they only name what changed; the key itself hashes every byte, and
    /// a short hash keeps a 50,000-file app's key small in memory and in the state file).
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

/// Computes the key of a slug made of `components`, reading (and hashing) what no archive
/// hash or stat memo vouches for, and memoising the content hashes in `cache` (see the
/// module docs).
pub fn slug_key(
    loaded: &LoadedManifest,
    components: &[Component],
    cache: &Cache,
) -> Result<SlugKey, SlugError> {
    let mut app_files = None;
    let keys = components
        .iter()
        .map(|component| match known_key(loaded, component, cache) {
            // The app's files are read for the per-file hashes anyway: one read for both.
            KnownKey::Unknown(memo) if component.name == "app" => {
                let (hash, files) = component.content_and_file_hashes()?;
                if let Some(memo) = memo {
                    memo.record(cache, &hash);
                }
                let short = short_hashes(&files);
                record_file_hashes(cache, &hash, &short);
                app_files = Some(file_map(component, &short));
                Ok(hash)
            }
            known => known.resolve(component, cache),
        })
        .collect::<Result<Vec<_>, SlugError>>()?;
    compose(components, &keys, app_files, cache)
}

/// A component's key as far as it is known without reading the component's files.
#[derive(Debug)]
pub enum KnownKey {
    /// Known: from the runtime archive's hash, or from the stat memo.
    Known(String),
    /// Only the files' content can tell; once it is hashed, the memo (if any) records it.
    Unknown(Option<Memo>),
}

impl KnownKey {
    /// The key, computing the content hash now (and memoising it) if it is not known.
    pub fn resolve(self, component: &Component, cache: &Cache) -> Result<String, SlugError> {
        match self {
            KnownKey::Known(key) => Ok(key),
            KnownKey::Unknown(memo) => {
                let hash = component.content_hash()?;
                if let Some(memo) = memo {
                    memo.record(cache, &hash);
                }
                Ok(hash)
            }
        }
    }
}

/// Where a component's content hash is remembered under its files' stat signature, and the
/// hint of what it was the last time the same files (names, sizes, modes) were hashed.
#[derive(Debug)]
pub struct Memo {
    path: PathBuf,
    /// Whether no file changed within the second before the signature was taken (only then
    /// may the signature vouch for the content).
    settled: bool,
    hint_path: PathBuf,
    /// The content hash last recorded for the same listing: a guess, never trusted as a key,
    /// only used to decide whether reading the files first (hoping to reuse chunks) pays.
    pub hint: Option<String>,
}

impl Memo {
    /// Records `hash` as the content hash for this signature (best effort: without the memo
    /// the next plan reads the files again, nothing worse).
    pub fn record(&self, cache: &Cache, hash: &str) {
        let write = |path: &std::path::Path| {
            if let Ok(mut temp) = cache.temp_file(Bucket::TreeHashes)
                && std::io::Write::write_all(&mut temp, hash.as_bytes()).is_ok()
            {
                // A hint is replaced; a memo is content-addressed by its signature.
                let _ = temp.persist(path);
            }
        };
        if self.settled {
            write(&self.path);
        }
        if self.hint.as_deref() != Some(hash) {
            write(&self.hint_path);
        }
    }
}

fn read_hash(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}

/// The key of `component` if it can be known without reading its files: a pinned runtime
/// archive's key, or a content hash memoised under the files' stat signature.
pub fn known_key(loaded: &LoadedManifest, component: &Component, cache: &Cache) -> KnownKey {
    if let Some(key) = archive_key(loaded, component) {
        return KnownKey::Known(key);
    }
    let started = SystemTime::now();
    let Some(signature) = stat_signature(component) else {
        return KnownKey::Unknown(None);
    };
    let path = cache.entry(CacheKey::TreeHash(&signature.stat)).into_path();
    if let Some(hash) = read_hash(&path) {
        crate::cache::touch(&path);
        return KnownKey::Known(hash);
    }
    let settled = signature.newest
        < started
            .checked_sub(Duration::from_secs(1))
            .unwrap_or(started);
    let hint_path = cache
        .entry(CacheKey::TreeHashHint(&signature.listing))
        .into_path();
    KnownKey::Unknown(Some(Memo {
        path,
        settled,
        hint: read_hash(&hint_path),
        hint_path,
    }))
}

/// The key of a slug made of `components` whose component keys are `keys` (same order).
/// The app's per-file hashes come from `app_files`, else from the memo under the app's key
/// (they follow from its content, so the key vouches for them), else from reading its files
/// (once per content key: then they are memoised).
pub fn compose(
    components: &[Component],
    keys: &[String],
    mut app_files: Option<BTreeMap<String, String>>,
    cache: &Cache,
) -> Result<SlugKey, SlugError> {
    let mut parts = BTreeMap::new();
    let mut slug = Sha256::new();
    slug.update(FORMAT_VERSION.as_bytes());
    for (component, key) in components.iter().zip(keys) {
        slug.update(component.name.as_bytes());
        slug.update([0]);
        slug.update(key.as_bytes());
        if component.name == "app" {
            match app_files.take() {
                Some(files) => parts.extend(files),
                None => parts.extend(file_hashes(component, key, cache)?),
            }
        }
        parts.insert(component.name.clone(), key.clone());
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

/// Whether `component`'s key is the hash of its tar bytes (everything but a runtime unpacked
/// from a pinned archive), so that what is packed under it can be checked against it.
pub fn is_content_key(loaded: &LoadedManifest, component: &Component) -> bool {
    archive_key(loaded, component).is_none()
}

/// Forgets the content hash memoised under the current stat signature of `component`'s files,
/// after what was packed of it did not hash to its key: if the files did not change, the memo
/// lied (a file rewritten within one timestamp tick of being hashed), and trusting it again
/// would fail every build. Best effort.
pub fn forget_memo(component: &Component, cache: &Cache) {
    if let Some(signature) = stat_signature(component) {
        let _ = std::fs::remove_file(cache.entry(CacheKey::TreeHash(&signature.stat)).path());
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

/// What `stat` says about a component's files.
struct Signature {
    /// A hash of everything the tar bytes depend on as far as `stat` can tell, plus the
    /// times and inodes that change whenever a file is written.
    stat: String,
    /// A hash of names, kinds, sizes, modes and link targets only (unchanged by `touch`).
    listing: String,
    /// The newest mtime or ctime among the files.
    newest: SystemTime,
}

/// The component's [`Signature`]; None when a file cannot be stat'ed (the content hash then
/// reports the error).
fn stat_signature(component: &Component) -> Option<Signature> {
    let mut stat = Sha256::new();
    let mut listing = Sha256::new();
    let header = format!(
        "{FORMAT_VERSION} stat-v1 {} eoa {}\n",
        component.name, component.end_of_archive
    );
    stat.update(&header);
    listing.update(&header);
    let mut newest = SystemTime::UNIX_EPOCH;
    let time = |secs: i64, nanos: i64| {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
            + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    };
    for entry in &component.entries {
        let mut both = |bytes: &[u8]| {
            stat.update(bytes);
            listing.update(bytes);
        };
        both(&entry.rel);
        match &entry.kind {
            EntryKind::Dir => both(b"\0dir\n"),
            EntryKind::File {
                source,
                size,
                executable,
            } => {
                both(format!("\0file {size} {executable}\n").as_bytes());
                let meta = std::fs::metadata(source).ok()?;
                newest = newest
                    .max(time(meta.mtime(), meta.mtime_nsec()))
                    .max(time(meta.ctime(), meta.ctime_nsec()));
                stat.update(source.as_os_str().as_encoded_bytes());
                stat.update(format!(
                    " {} {} {}.{} {}.{} {} {}\n",
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
                both(b"\0link ");
                both(target);
                both(b"\n");
            }
        }
    }
    Some(Signature {
        stat: hex::encode(stat.finalize()),
        listing: hex::encode(listing.finalize()),
        newest,
    })
}

/// The app's per-file hashes: memoised under its key `key`, else read from the files (and
/// memoised).
fn file_hashes(
    component: &Component,
    key: &str,
    cache: &Cache,
) -> Result<BTreeMap<String, String>, SlugError> {
    let files = component
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .count();
    if let Some(short) = memoised_file_hashes(cache, key, files) {
        return Ok(file_map(component, &short));
    }
    // One read gives both: the content hash says whether the files still are what `key`
    // was computed from, and only then are their hashes remembered under it.
    let (hash, sha256s) = component.content_and_file_hashes()?;
    let short = short_hashes(&sha256s);
    if hash == key {
        record_file_hashes(cache, key, &short);
    }
    Ok(file_map(component, &short))
}

/// The first 64 bits of a SHA-256, as hex: what a key's part names a file by.
fn short_hash(sha256: &[u8; 32]) -> String {
    hex::encode(&sha256[..8])
}

fn short_hashes(files: &[[u8; 32]]) -> Vec<String> {
    files.iter().map(short_hash).collect()
}

/// Remembers the per-file hashes (entry order) of the app component whose content hash is
/// `key` (best effort: without them the next plan reads the files again, nothing worse).
fn record_file_hashes(cache: &Cache, key: &str, short: &[String]) {
    let path = cache.entry(CacheKey::TreeFileHashes(key)).into_path();
    if path.is_file() {
        return;
    }
    if let Ok(mut temp) = cache.temp_file(Bucket::TreeHashes)
        && std::io::Write::write_all(&mut temp, short.concat().as_bytes()).is_ok()
    {
        let _ = temp.persist(path);
    }
}

/// The per-file hashes memoised for content hash `key`, if there are exactly `files` of them.
fn memoised_file_hashes(cache: &Cache, key: &str, files: usize) -> Option<Vec<String>> {
    let path = cache.entry(CacheKey::TreeFileHashes(key)).into_path();
    let text = std::fs::read_to_string(&path).ok()?;
    if text.len() != files * 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    crate::cache::touch(&path);
    Some(
        text.as_bytes()
            .chunks(16)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
    )
}

/// `app/<path>` → a short hash of each file (`files`: their short hashes, in entry order) or
/// symlink.
fn file_map(component: &Component, files: &[String]) -> BTreeMap<String, String> {
    let mut files = files.iter();
    let mut out = BTreeMap::new();
    for entry in &component.entries {
        let hash = match &entry.kind {
            EntryKind::Dir => continue,
            EntryKind::File { .. } => files.next().expect("one hash per file entry").clone(),
            EntryKind::Symlink { target } => format!("link:{}", String::from_utf8_lossy(target)),
        };
        out.insert(format!("app/{}", String::from_utf8_lossy(&entry.rel)), hash);
    }
    out
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
