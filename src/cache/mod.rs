//! The local content-addressed cache: slugs, runtime archives, unpacked runtime trees, Go builds.
//!
//! Layout, in the spirit of uv's versioned buckets: every kind of entry lives in a bucket whose
//! name carries a format version (`slugs-v1/`, `runtimes-v1/`, …), so a change of format bumps one
//! bucket and never reads stale bytes. Entries are written to a temp file in the same bucket and
//! renamed into place; since names are content hashes, a rename that finds the entry already
//! there is success, which makes concurrent writers harmless. An entry's place follows from
//! what it is and its key alone ([`CacheKey`], asked through [`Cache::entry`]), so every
//! reader and writer of an entry agrees on its name.
//!
//! Sharing with pruning: every command that reads or writes entries holds a shared lock on
//! `<root>/.lock` for as long as its [`Cache`] lives ([`Cache::with_shared_lock`]);
//! `slugplan cache prune` takes it exclusively and refuses to run while anyone else holds it
//! ([`Cache::lock_exclusive`]), so a build never finds an entry it is using deleted under it.
//! Readers are robust on their own too: a missing or damaged entry is a miss, never an error.

pub mod about;
pub mod prune;
pub mod slug_sources;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kinds of entries in the cache, each in its own versioned directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Finished slug archives, by SHA-256. Entries are named by [`CacheKey::file_name`].
    Slugs,
    /// Downloaded runtime archives, by their SHA-256.
    RuntimeArchives,
    /// Unpacked runtime trees, keyed by the archive's SHA-256 and the strip count.
    RuntimeTrees,
    /// Go build outputs, keyed by the build's input key.
    GoBuilds,
    /// Compressed chunks of slug components, keyed by component input key.
    Chunks,
    /// Slug input key → the archive built from it, so unchanged slugs are not packed again.
    SlugIndex,
    /// Content hashes of local directories (`path` runtimes), keyed by their files' stat
    /// data, so an unchanged directory is not read again to compute its key.
    TreeHashes,
    /// Listings of unpacked runtime trees, keyed like the trees, so a build need not walk
    /// a tree whose content its key already fixes.
    RuntimeListings,
    /// What entries named by hashes are (a runtime archive's name and URL, a slug's name and
    /// stack), so that `slugplan cache ls` can say ([`about`]).
    About,
    /// Which files of a slug are copies of files this cache holds read-only (its runtimes'
    /// trees, its Go binaries), by the slug's SHA-256, so the local platform can link them
    /// instead of writing them again when it unpacks the slug ([`slug_sources`]).
    SlugSources,
}

impl Bucket {
    /// Every bucket.
    pub const ALL: [Bucket; 10] = [
        Bucket::Slugs,
        Bucket::RuntimeArchives,
        Bucket::RuntimeTrees,
        Bucket::GoBuilds,
        Bucket::Chunks,
        Bucket::SlugIndex,
        Bucket::TreeHashes,
        Bucket::RuntimeListings,
        Bucket::About,
        Bucket::SlugSources,
    ];

    /// The bucket's directory name, including its format version.
    pub fn dir_name(self) -> &'static str {
        match self {
            Bucket::Slugs => "slugs-v1",
            Bucket::RuntimeArchives => "runtimes-v1",
            Bucket::RuntimeTrees => "runtime-trees-v1",
            Bucket::GoBuilds => "go-v1",
            Bucket::Chunks => "chunks-v1",
            Bucket::SlugIndex => "slug-index-v1",
            Bucket::TreeHashes => "tree-hashes-v1",
            Bucket::RuntimeListings => "runtime-listings-v1",
            Bucket::About => "about-v1",
            Bucket::SlugSources => "slug-sources-v1",
        }
    }
}

/// What a cache entry is, by kind and key: which says where it lives. Each kind's key → path
/// rule is written here and nowhere else ([`CacheKey::file_name`]); callers ask
/// [`Cache::entry`] for the path instead of joining names by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKey<'a> {
    /// A slug archive, by its SHA-256 (lowercase hex): `slugs-v1/<sha256>.tgz`.
    Slug(&'a str),
    /// A slug index record, by the slug's input key: `slug-index-v1/<key>.json`.
    SlugIndex(&'a str),
    /// Where a slug's files came from in the cache, by the slug's SHA-256:
    /// `slug-sources-v1/<sha256>.sources`.
    SlugSources(&'a str),
    /// A component's compressed chunks, by its key: `chunks-v1/<key>.chunks`.
    Chunks(&'a str),
    /// A downloaded runtime archive, by its SHA-256: `runtimes-v1/<sha256>`.
    RuntimeArchive(&'a str),
    /// An unpacked runtime tree (a directory), by its tree key: `runtime-trees-v1/<key>`.
    RuntimeTree(&'a str),
    /// The listing of an unpacked runtime tree, by the tree's key:
    /// `runtime-listings-v1/<key>.listing`.
    RuntimeListing(&'a str),
    /// A Go binary, by its build key: `go-v1/<key>`.
    GoBinary(&'a str),
    /// The build key last built from a Go source key (used when `go` is not installed):
    /// `go-v1/<source key>.last`.
    GoLastBuild(&'a str),
    /// A component's content hash, by its files' stat signature: `tree-hashes-v1/<signature>`.
    TreeHash(&'a str),
    /// The content hash last seen for a listing (a hint, never a key):
    /// `tree-hashes-v1/<listing signature>.hint`.
    TreeHashHint(&'a str),
    /// The per-file hashes of the app component whose content hash is `key` (they follow
    /// from its content, so the key vouches for them): `tree-hashes-v1/<key>.files`.
    TreeFileHashes(&'a str),
    /// A passed stack check of the component with key `key`:
    /// `tree-hashes-v1/<key>.stack-<stack>` (the stack's non-alphanumerics as `-`).
    StackCheck {
        /// The component's key.
        key: &'a str,
        /// The stack it passed for.
        stack: &'a str,
    },
}

impl CacheKey<'_> {
    /// The bucket the entry lives in.
    pub fn bucket(self) -> Bucket {
        match self {
            CacheKey::Slug(_) => Bucket::Slugs,
            CacheKey::SlugIndex(_) => Bucket::SlugIndex,
            CacheKey::SlugSources(_) => Bucket::SlugSources,
            CacheKey::Chunks(_) => Bucket::Chunks,
            CacheKey::RuntimeArchive(_) => Bucket::RuntimeArchives,
            CacheKey::RuntimeTree(_) => Bucket::RuntimeTrees,
            CacheKey::RuntimeListing(_) => Bucket::RuntimeListings,
            CacheKey::GoBinary(_) | CacheKey::GoLastBuild(_) => Bucket::GoBuilds,
            CacheKey::TreeHash(_)
            | CacheKey::TreeHashHint(_)
            | CacheKey::TreeFileHashes(_)
            | CacheKey::StackCheck { .. } => Bucket::TreeHashes,
        }
    }

    /// The entry's name in its bucket.
    pub fn file_name(self) -> String {
        match self {
            CacheKey::Slug(sha256) => format!("{sha256}.tgz"),
            CacheKey::SlugIndex(key) => format!("{key}.json"),
            CacheKey::SlugSources(sha256) => format!("{sha256}.sources"),
            CacheKey::Chunks(key) => format!("{key}.chunks"),
            CacheKey::RuntimeListing(key) => format!("{key}.listing"),
            CacheKey::GoLastBuild(key) => format!("{key}.last"),
            CacheKey::TreeHashHint(key) => format!("{key}.hint"),
            CacheKey::TreeFileHashes(key) => format!("{key}.files"),
            CacheKey::StackCheck { key, stack } => {
                let stack: String = stack
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                format!("{key}.stack-{stack}")
            }
            CacheKey::RuntimeArchive(key)
            | CacheKey::RuntimeTree(key)
            | CacheKey::GoBinary(key)
            | CacheKey::TreeHash(key) => key.to_owned(),
        }
    }
}

/// Where an entry lives in the cache (whether or not it is there yet): what
/// [`Cache::entry`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    path: PathBuf,
}

impl CacheEntry {
    /// The entry's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry's path, owned.
    pub fn into_path(self) -> PathBuf {
        self.path
    }
}

impl AsRef<Path> for CacheEntry {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// Errors from cache housekeeping.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CacheError {
    /// No cache directory could be determined.
    #[error("no cache directory: neither XDG_CACHE_HOME nor HOME is set")]
    #[diagnostic(help("pass --cache-dir DIR or set SLUGPLAN_CACHE_DIR"))]
    NoLocation,
    /// Another process holds the cache (a build, plan or apply is running).
    #[error("the cache is in use by another slugplan process (lock {})", path.display())]
    #[diagnostic(
        code(slugplan::cache::busy),
        help(
            "run `slugplan cache prune` again once the running build, plan or apply has finished"
        )
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
    /// A filesystem operation in the cache failed.
    #[error("cache I/O error at {}", path.display())]
    #[diagnostic(help("check the permissions and free space of the cache directory"))]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A handle on the cache root.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// The shared lock, when this handle holds one (released when the last clone is dropped).
    lock: Option<Arc<std::fs::File>>,
}

/// The exclusive lock on a cache root, held while pruning; released on drop.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: std::fs::File,
}

impl Cache {
    /// Uses `root` as the cache root. Where that is by default (`$XDG_CACHE_HOME/slugplan`,
    /// `~/.cache/slugplan`) is the settings' decision: the cache reads no environment.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache {
            root: root.into(),
            lock: None,
        }
    }

    /// This handle, holding a shared lock on the root for as long as it (or a clone) lives,
    /// so that `slugplan cache prune` waits for it. Blocks while a prune runs.
    pub fn with_shared_lock(mut self) -> Result<Self, CacheError> {
        let file = self.lock_file()?;
        file.lock_shared().map_err(|source| CacheError::Io {
            path: self.lock_path(),
            source,
        })?;
        self.lock = Some(Arc::new(file));
        Ok(self)
    }

    /// Takes the root's lock exclusively, or fails with [`CacheError::Busy`] when another
    /// process uses the cache.
    pub fn lock_exclusive(&self) -> Result<ExclusiveLock, CacheError> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(ExclusiveLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(CacheError::Busy {
                path: self.lock_path(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(CacheError::Io {
                path: self.lock_path(),
                source,
            }),
        }
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join(".lock")
    }

    fn lock_file(&self) -> Result<std::fs::File, CacheError> {
        create_dir_all(&self.root)?;
        let path = self.lock_path();
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| CacheError::Io { path, source })
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of `bucket`, created (with the root's `CACHEDIR.TAG`) if missing.
    pub fn bucket(&self, bucket: Bucket) -> Result<PathBuf, CacheError> {
        let dir = self.root.join(bucket.dir_name());
        if !dir.is_dir() {
            create_dir_all(&dir)?;
            self.write_tag()?;
        }
        Ok(dir)
    }

    /// Where the entry `key` stands for lives. Nothing is read or created: writers go through
    /// [`Cache::temp_file`] (which creates the bucket) or [`Cache::bucket`] first.
    pub fn entry(&self, key: CacheKey<'_>) -> CacheEntry {
        CacheEntry {
            path: self
                .root
                .join(key.bucket().dir_name())
                .join(key.file_name()),
        }
    }

    /// A fresh temp file inside `bucket`, on the same filesystem as its final place so that
    /// [`persist`] can rename it atomically. Dropped unpersisted, it is deleted.
    pub fn temp_file(&self, bucket: Bucket) -> Result<tempfile::NamedTempFile, CacheError> {
        let dir = self.bucket(bucket)?;
        tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|source| CacheError::Io { path: dir, source })
    }

    fn write_tag(&self) -> Result<(), CacheError> {
        let tag = self.root.join("CACHEDIR.TAG");
        if tag.exists() {
            return Ok(());
        }
        std::fs::write(
            &tag,
            "Signature: 8a477f597d28d172789f06886806bc55\n\
             # This file is a cache directory tag created by slugplan.\n\
             # For information about cache directory tags see https://bford.info/cachedir/\n",
        )
        .map_err(|source| CacheError::Io { path: tag, source })
    }
}

/// Moves a finished temp file to `dest`. An existing `dest` is left as it is: entries are
/// content-addressed, so whoever got there first wrote the same bytes.
pub fn persist(temp: tempfile::NamedTempFile, dest: &Path) -> Result<(), CacheError> {
    match temp.persist_noclobber(dest) {
        Ok(_) => Ok(()),
        Err(err) if err.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(CacheError::Io {
            path: dest.to_owned(),
            source: err.error,
        }),
    }
}

/// Marks the entry at `path` (file or directory) as used now, by setting its mtime: pruning
/// removes least recently used entries first. Best effort: an entry that cannot be touched is
/// merely pruned earlier than it might have been.
pub fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

fn create_dir_all(dir: &Path) -> Result<(), CacheError> {
    std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_entry_has_one_place() {
        let cache = Cache::new("/c");
        let stack = CacheKey::StackCheck {
            key: "k",
            stack: "heroku-24",
        };
        for (key, path) in [
            (CacheKey::Slug("ab12"), "/c/slugs-v1/ab12.tgz"),
            (CacheKey::SlugIndex("k"), "/c/slug-index-v1/k.json"),
            (
                CacheKey::SlugSources("ab12"),
                "/c/slug-sources-v1/ab12.sources",
            ),
            (CacheKey::Chunks("k"), "/c/chunks-v1/k.chunks"),
            (CacheKey::RuntimeArchive("ab12"), "/c/runtimes-v1/ab12"),
            (CacheKey::RuntimeTree("t"), "/c/runtime-trees-v1/t"),
            (
                CacheKey::RuntimeListing("t"),
                "/c/runtime-listings-v1/t.listing",
            ),
            (CacheKey::GoBinary("k"), "/c/go-v1/k"),
            (CacheKey::GoLastBuild("s"), "/c/go-v1/s.last"),
            (CacheKey::TreeHash("sig"), "/c/tree-hashes-v1/sig"),
            (CacheKey::TreeHashHint("sig"), "/c/tree-hashes-v1/sig.hint"),
            (CacheKey::TreeFileHashes("k"), "/c/tree-hashes-v1/k.files"),
            (stack, "/c/tree-hashes-v1/k.stack-heroku-24"),
        ] {
            assert_eq!(cache.entry(key).path(), Path::new(path), "{key:?}");
            assert!(Bucket::ALL.contains(&key.bucket()));
        }
        let odd = CacheKey::StackCheck {
            key: "k",
            stack: "../x y",
        };
        assert_eq!(
            odd.file_name(),
            "k.stack----x-y",
            "a stack name stays one file name"
        );
    }

    #[test]
    fn looking_up_an_entry_creates_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let cache = Cache::new(temp.path().join("cache"));
        let entry = cache.entry(CacheKey::Slug("ab12"));
        assert!(!entry.path().exists());
        assert!(!cache.root().exists());
    }
}
