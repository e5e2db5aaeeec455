//! The slug archive: a gzip-compressed GNU tar of `./app`, in the canonical chunked-deflate
//! encoding, so that the same inputs give the same bytes everywhere.
//!
//! A slug's checksum is what slugplan compares to decide whether an app runs what the manifest
//! says, so the bytes must depend on the inputs' content and nothing else: not on the clock,
//! the time zone, the umask, the owner, the order files were created in, their mtimes, or the
//! number of threads that compressed them.
//!
//! # What goes in
//!
//! Entries are named as `tar czf slug.tgz ./app` names them (`./app/`, `./app/web.js`,
//! directories with a trailing `/`), in GNU format (see [`tar`]): uid/gid 0, no user or group
//! names, mtime 0 (the epoch), mode 0755 for directories and for files with any executable bit,
//! 0644 for other files, 0777 for symlinks. Symlinks are stored, never followed, and refused when
//! they resolve outside `./app`. Hard links are stored as separate regular files. Fifos, sockets
//! and devices are refused. No xattrs, no pax headers, no sparse files.
//!
//! # Components
//!
//! The tar stream is the concatenation of components, in this order:
//!
//! 1. `layout`: `./app/` and the directories above every runtime destination and the Go output
//!    (e.g. `./app/vendor/` for a runtime at `vendor/ruby`);
//! 2. `runtime.<name>`: each runtime's tree under `./app/<dest>/`, runtimes sorted by name;
//! 3. `go`: the Go binary at `./app/<output>` (mode 0755), when the slug has a Go build;
//! 4. `app`: the app's own files (see [`select`]), then the end-of-archive marker.
//!
//! Within a component entries are in `tar --sort=name` order ([`tree::path_cmp`]). A path two
//! components provide is an error naming both ([`layout`]). The app is last because it changes
//! most: the components before it keep their bytes, so their compressed chunks can be reused
//! by [`ComponentInput::Reused`] (what incremental builds splice).
//!
//! What each component's bytes depend on, i.e. what a cache key for its chunks must cover
//! (always with [`FORMAT_VERSION`]):
//! - `runtime.<name>`: its tree's content and `dest` only;
//! - `go`: the binary's bytes and the output path only;
//! - `layout`: the set of runtime `dest`s and the Go output path;
//! - `app`: its files, and which of its directories `layout` already wrote; the exact key is
//!   [`Component::content_hash`] of the laid-out component (cheap: app trees are small).
//!
//! # Encoding
//!
//! [`encoding`] describes the bytes; [`mod@pack`] the parallel, bounded-memory pipeline that
//! writes them, on the process's shared compression threads ([`pool`]). [`FORMAT_VERSION`] names the encoding in every cache key.

pub mod component;
pub mod encoding;
pub mod layout;
pub mod pack;
pub mod pool;
pub mod select;
mod sha_pipe;
pub mod tar;
pub mod tree;

use std::path::PathBuf;

pub use component::Component;
pub use encoding::FORMAT_VERSION;
pub use layout::{Part, lay_out};
pub use pack::{
    ComponentInput, CompressedSpan, PackOptions, PackReporter, Packed, PackedComponent, pack,
};
pub use tar::{Entry, EntryKind};

use crate::cache::{self, Bucket, Cache, CacheError, CacheKey};

/// Errors while reading a slug's inputs or writing the slug.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SlugError {
    /// A file or directory of the slug's inputs could not be read.
    #[error("cannot read {}", path.display())]
    #[diagnostic(
        code(slugplan::slug::read),
        help("make the file readable, or leave it out with `exclude` or .slugignore")
    )]
    Read {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file changed size between listing and packing.
    #[error("{} changed while the slug was being written", path.display())]
    #[diagnostic(
        code(slugplan::slug::changed),
        help("build again once nothing writes to the source tree")
    )]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// A component's files read differently while the slug was packed than when its key was
    /// computed: a file was rewritten (even at the same size) or replaced in between. Nothing
    /// is cached under the key.
    #[error("the files of `{component}` changed while the slug was being written")]
    #[diagnostic(
        code(slugplan::slug::input_changed),
        help(
            "build again once nothing writes to the source tree; nothing was cached from this build"
        )
    )]
    InputChanged {
        /// The component (`app`, `runtime.<name>`, `go`).
        component: String,
    },
    /// A fifo, socket or device in the inputs.
    #[error("{} is {kind}; a slug can only hold files, directories and symlinks", path.display())]
    #[diagnostic(
        code(slugplan::slug::file_type),
        help("remove it, or leave it out with `exclude` or .slugignore")
    )]
    UnsupportedFileType {
        /// The path.
        path: PathBuf,
        /// What it is ("a fifo", "a socket", "a device").
        kind: &'static str,
    },
    /// A symlink resolving outside `./app`.
    #[error("symlink {path} -> {target} points outside ./app")]
    #[diagnostic(
        code(slugplan::slug::symlink_escapes),
        help(
            "the slug is extracted on another machine: point the link inside the app, or exclude it"
        )
    )]
    SymlinkEscapes {
        /// The link's name in the archive.
        path: String,
        /// Its target.
        target: String,
    },
    /// A symlink that resolves back into itself: extracted, it can never be followed.
    #[error("symlink {path} -> {target} is a loop: following it never ends")]
    #[diagnostic(
        code(slugplan::slug::symlink_loop),
        help("point the link at a file or directory, or exclude it")
    )]
    SymlinkLoop {
        /// The link's name in the archive.
        path: String,
        /// Its target.
        target: String,
    },
    /// Two components provide the same path.
    #[error("{path} is provided by both `{first}` and `{second}`")]
    #[diagnostic(
        code(slugplan::slug::conflict),
        help(
            "change a runtime's `dest` or the Go `output`, or exclude the path from the app's files"
        )
    )]
    Conflict {
        /// The path in the archive.
        path: String,
        /// The component that claims it first.
        first: String,
        /// The other component.
        second: String,
    },
    /// An include or exclude pattern is not a valid glob.
    #[error("invalid glob pattern `{pattern}`")]
    #[diagnostic(
        code(slugplan::slug::pattern),
        help("fix the pattern in `include` or `exclude`")
    )]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        #[source]
        source: globset::Error,
    },
    /// The source's `.slugignore` could not be read or parsed.
    #[error("invalid {}", path.display())]
    #[diagnostic(code(slugplan::slug::slugignore), help("it uses gitignore syntax"))]
    Slugignore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ignore::Error,
    },
    /// The slug file could not be written.
    #[error("cannot write slug {}", path.display())]
    #[diagnostic(
        code(slugplan::slug::write),
        help("check free space in the cache (--cache-dir)")
    )]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Compressed chunks meant for reuse are missing, short or corrupted. Callers that spliced
    /// cached chunks fall back to compressing the component again.
    #[error("cannot reuse compressed chunks from {}: {reason}", path.display())]
    #[diagnostic(
        code(slugplan::slug::reused_chunks),
        help("the chunk cache is damaged; `slugplan cache prune --max-size 0` empties it")
    )]
    ReusedChunks {
        /// The file holding the chunks.
        path: PathBuf,
        /// What is wrong with them.
        reason: String,
    },
    /// The cache could not hold the slug.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] CacheError),
}

/// A slug written into the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugFile {
    /// Its path: `<cache>/slugs-v1/<sha256>.tgz`.
    pub path: PathBuf,
    /// What [`fn@pack`] reports about it.
    pub packed: Packed,
}

/// Packs `inputs` into the cache's slug bucket as `<sha256>.tgz`. On any error the temp file
/// is removed, so no partial slug is ever left behind.
pub fn write_to_cache(
    inputs: &[ComponentInput<'_>],
    cache: &Cache,
    options: PackOptions<'_>,
) -> Result<SlugFile, SlugError> {
    let temp = cache.temp_file(Bucket::Slugs)?;
    let temp_path = temp.path().to_owned();
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|source| SlugError::Write {
            path: temp_path.clone(),
            source,
        })?;
    let packed = pack(
        inputs,
        std::io::BufWriter::with_capacity(1 << 16, file),
        &temp_path,
        options,
    )?;
    let dest = cache
        .entry(CacheKey::Slug(packed.checksum.hex()))
        .into_path();
    cache::persist(temp, &dest)?;
    Ok(SlugFile { path: dest, packed })
}
