//! Choosing the app's own files: `include` and `exclude` globs, the source's `.slugignore`, and
//! the paths that never belong in a slug.
//!
//! Glob rules, kept close to gitignore so they read the way users expect:
//! - a pattern without `/` matches a name at any depth (`*.log`); one with `/` matches the path
//!   from the source root (`test/fixtures/**`); `*` never crosses a `/`, `**` does;
//! - a pattern matching a directory covers everything below it;
//! - with `include` patterns, only matching files (and links) are kept, with the directories
//!   leading to them; without, everything is;
//! - `exclude` and `.slugignore` (Heroku's convention: gitignore syntax, at the source root)
//!   always win over `include`.
//!
//! `.git` and `.slugplan/` (at any depth; a submodule's `.git` is a file) are always left out,
//! as are the paths the caller names (the manifest, its lock file, the cache, a local
//! platform's data directory) and slugplan's own files wherever they are ([`OwnFiles`]: saved
//! plans by their first bytes, what this run writes by device and inode).

use std::collections::BTreeSet;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::SlugError;
use super::tar::{Entry, EntryKind};
use super::tree::{ancestors, walk};
use crate::own_files::{DOT_DIR, OwnFiles, SNIFF_BYTES, is_saved_plan};

/// The name of the ignore file read from the source root.
pub const SLUGIGNORE: &str = ".slugignore";

/// What to take from an app source directory.
#[derive(Debug, Clone, Default)]
pub struct Selection<'a> {
    /// Include patterns; empty means everything.
    pub include: &'a [String],
    /// Exclude patterns.
    pub exclude: &'a [String],
    /// Further paths (relative to the source, `/`-separated) to leave out with their subtrees.
    pub skip: Vec<Vec<u8>>,
    /// The files this run writes, left out wherever they are (None: none).
    pub written: Option<&'a OwnFiles>,
}

/// Lists the app's files under `source` as entries relative to `./app`.
pub fn app_entries(source: &Path, selection: &Selection<'_>) -> Result<Vec<Entry>, SlugError> {
    if !source.is_dir() {
        return Err(SlugError::Read {
            path: source.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let include = globs(selection.include)?;
    let exclude = globs(selection.exclude)?;
    let slugignore = slugignore(source)?;

    let mut entries = walk(source, b"", |rel, is_dir| {
        let name = rel.rsplit(|&c| c == b'/').next().unwrap_or(rel);
        name == b".git"
            || name == DOT_DIR.as_bytes()
            || selection.skip.iter().any(|s| s == rel)
            || matches(&exclude, rel)
            || slugignore
                .as_ref()
                .is_some_and(|ig| ig.matched(bytes_path(rel), is_dir).is_ignore())
    })?;

    if include.is_some() {
        let covered = |rel: &[u8]| {
            std::iter::once(rel)
                .chain(ancestors(rel))
                .any(|p| matches(&include, p))
        };
        let mut keep: BTreeSet<Vec<u8>> = BTreeSet::new();
        for entry in entries.iter().filter(|e| covered(&e.rel)) {
            keep.extend(ancestors(&entry.rel).map(<[u8]>::to_vec));
            keep.insert(entry.rel.clone());
        }
        entries.retain(|e| keep.contains(&e.rel));
        entries.shrink_to_fit();
    }
    entries.retain(|e| match &e.kind {
        EntryKind::File { source, .. } => !is_own_file(source, selection.written),
        _ => true,
    });
    Ok(entries)
}

/// Whether the file at `source` is slugplan's own: one this run writes (`written`), or a
/// saved plan (by its first bytes). A file that cannot be opened is not: packing it reports
/// why.
fn is_own_file(source: &Path, written: Option<&OwnFiles>) -> bool {
    let Ok(mut file) = std::fs::File::open(source) else {
        return false;
    };
    if let Some(written) = written
        && file
            .metadata()
            .is_ok_and(|meta| written.is_written_now(&meta))
    {
        return true;
    }
    let mut head = [0u8; SNIFF_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        match std::io::Read::read(&mut file, &mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    is_saved_plan(&head[..filled])
}

/// Compiles patterns; `None` when there are none.
fn globs(patterns: &[String]) -> Result<Option<(GlobSet, GlobSet)>, SlugError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut by_path = GlobSetBuilder::new();
    let mut by_name = GlobSetBuilder::new();
    for pattern in patterns {
        let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
        let glob = GlobBuilder::new(trimmed.trim_start_matches('/'))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|source| SlugError::Pattern {
                pattern: pattern.clone(),
                source,
            })?;
        if trimmed.contains('/') {
            by_path.add(glob);
        } else {
            by_name.add(glob);
        }
    }
    let build = |b: GlobSetBuilder| b.build().expect("globs that compiled alone build a set");
    Ok(Some((build(by_path), build(by_name))))
}

fn matches(set: &Option<(GlobSet, GlobSet)>, rel: &[u8]) -> bool {
    let Some((by_path, by_name)) = set else {
        return false;
    };
    let name = rel.rsplit(|&c| c == b'/').next().unwrap_or(rel);
    by_path.is_match(bytes_path(rel)) || by_name.is_match(bytes_path(name))
}

fn slugignore(source: &Path) -> Result<Option<Gitignore>, SlugError> {
    let path = source.join(SLUGIGNORE);
    if !path.is_file() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(source);
    if let Some(source) = builder.add(&path) {
        return Err(SlugError::Slugignore { path, source });
    }
    builder
        .build()
        .map(Some)
        .map_err(|source| SlugError::Slugignore { path, source })
}

fn bytes_path(rel: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(rel))
}
