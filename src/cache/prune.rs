//! Listing and pruning the cache: what `slugplan cache ls` shows and `slugplan cache prune`
//! removes.
//!
//! An entry is one direct child of a bucket directory (a slug, a runtime archive, an unpacked
//! runtime tree, a Go build, a component's chunks, a slug index record). Its last use is its
//! mtime: readers refresh it ([`super::touch`]) when they use an entry, so pruning removes the
//! least recently used first.
//!
//! Guarantees:
//! - Pruning holds the root lock exclusively ([`Cache::lock_exclusive`]) and refuses to run
//!   while a build, plan or apply holds it shared: nothing in use is deleted.
//! - An entry is never left half-deleted: it is first renamed to a `.tmp-prune-*` name in its
//!   bucket (atomic; readers then see a miss), then made writable (runtime trees are read-only)
//!   and deleted. A prune killed midway leaves only that temp name, which the next prune
//!   removes.
//! - Temp files and directories of writers that died (a download killed midway, a build
//!   interrupted by Ctrl-C) are removed, whatever their age: every writer holds the shared
//!   lock for as long as it writes, so while pruning holds it exclusively, a temp name in a
//!   bucket has no writer left.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Bucket, Cache, CacheError};

/// How every temp name in a bucket begins: [`Cache::temp_file`]'s `.tmp-`, `tempfile`'s own
/// `.tmp`, and pruning's `.tmp-prune-`. No entry's name begins with a dot.
const TEMP_PREFIX: &str = ".tmp";

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryInfo {
    /// Its bucket's directory name, e.g. `slugs-v1`.
    pub bucket: &'static str,
    /// Its name in the bucket.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
    /// Bytes it takes (the sum of its files' sizes).
    pub size: u64,
    /// When it was last used (its mtime), in seconds since the Unix epoch.
    pub last_used: u64,
}

impl EntryInfo {
    /// How long ago it was last used, seen from `now`.
    pub fn age(&self, now: SystemTime) -> Duration {
        let used = SystemTime::UNIX_EPOCH + Duration::from_secs(self.last_used);
        now.duration_since(used).unwrap_or_default()
    }

    fn is_temp(&self) -> bool {
        self.name.starts_with(TEMP_PREFIX)
    }
}

/// Every entry of every bucket, least recently used first.
pub fn list(cache: &Cache) -> Result<Vec<EntryInfo>, CacheError> {
    let mut entries = Vec::new();
    for bucket in Bucket::ALL {
        let dir = cache.root().join(bucket.dir_name());
        let read = match std::fs::read_dir(&dir) {
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CacheError::Io { path: dir, source }),
        };
        for child in read {
            let child = child.map_err(|source| CacheError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = child.path();
            // An entry pruned or renamed meanwhile by another process is simply not listed.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let last_used = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            entries.push(EntryInfo {
                bucket: bucket.dir_name(),
                name: child.file_name().to_string_lossy().into_owned(),
                size: tree_size(&path, &meta),
                path,
                last_used,
            });
        }
    }
    entries.sort_by(|a, b| (a.last_used, &a.path).cmp(&(b.last_used, &b.path)));
    Ok(entries)
}

fn tree_size(path: &Path, meta: &std::fs::Metadata) -> u64 {
    if !meta.is_dir() {
        return meta.len();
    }
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
        .sum()
}

/// What to prune.
#[derive(Debug, Clone, Copy)]
pub struct PruneOptions {
    /// Remove least recently used entries until the cache takes at most this many bytes.
    pub max_size: Option<u64>,
    /// Remove entries not used for longer than this.
    pub older_than: Option<Duration>,
    /// The time ages are measured from.
    pub now: SystemTime,
}

/// What a prune did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pruned {
    /// The entries removed, least recently used first.
    pub removed: Vec<EntryInfo>,
    /// Bytes freed.
    pub freed: u64,
    /// Bytes the cache still takes.
    pub remaining: u64,
}

/// Removes the temp files of writers that died, then entries older than `older_than`, then the
/// least recently used until the cache fits in `max_size`. Fails with [`CacheError::Busy`] while another
/// slugplan process uses the cache.
pub fn prune(cache: &Cache, options: &PruneOptions) -> Result<Pruned, CacheError> {
    let _lock = cache.lock_exclusive()?;
    let entries = list(cache)?;
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    let mut removed = Vec::new();
    for entry in entries {
        let age = entry.age(options.now);
        let goes = entry.is_temp()
            || options.older_than.is_some_and(|limit| age > limit)
            || options.max_size.is_some_and(|max| total > max);
        if goes {
            remove_entry(&entry.path)?;
            total -= entry.size;
            removed.push(entry);
        }
    }
    Ok(Pruned {
        freed: removed.iter().map(|e| e.size).sum(),
        removed,
        remaining: total,
    })
}

/// Renames `path` out of the way (so it vanishes at once), then deletes it.
fn remove_entry(path: &Path) -> Result<(), CacheError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CacheError::Io { path, source }
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let doomed = if name.is_some_and(|n| n.starts_with(".tmp-prune-")) {
        path.to_owned()
    } else {
        let doomed = path.with_file_name(format!(".tmp-prune-{}", uuid::Uuid::new_v4()));
        std::fs::rename(path, &doomed).map_err(io(path))?;
        doomed
    };
    let meta = std::fs::symlink_metadata(&doomed).map_err(io(&doomed))?;
    if !meta.is_dir() {
        return std::fs::remove_file(&doomed).map_err(io(&doomed));
    }
    make_writable(&doomed)?;
    std::fs::remove_dir_all(&doomed).map_err(io(&doomed))
}

/// Gives the owner write permission on every directory under `dir` (unpacked runtime trees
/// are read-only, and a read-only directory's children cannot be deleted).
fn make_writable(dir: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|err| CacheError::Io {
            path: err.path().unwrap_or(dir).to_owned(),
            source: err.into(),
        })?;
        if entry.file_type().is_dir() {
            let path = entry.path();
            let mode = entry
                .metadata()
                .map_err(|err| CacheError::Io {
                    path: path.to_owned(),
                    source: err.into(),
                })?
                .permissions()
                .mode();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o700)).map_err(
                |source| CacheError::Io {
                    path: path.to_owned(),
                    source,
                },
            )?;
        }
    }
    Ok(())
}
