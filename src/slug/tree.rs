//! Listing a directory tree as archive entries, and checking symlinks against the whole slug.
//!
//! Listing never follows symlinks and never trusts the filesystem's order: entries come out in
//! the archive's canonical order (see [`path_cmp`]). Anything that is not a directory, regular
//! file or symlink is refused with its path, because a slug is extracted on another machine
//! where a fifo or a device node means nothing (or something dangerous).

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::SlugError;
use super::tar::{Entry, EntryKind};

/// The canonical order of entries: component by component, each compared byte-wise. This is
/// the order of `tar --sort=name` (a directory's contents follow it directly), which differs
/// from plain byte order of whole paths when names contain bytes below `/` (`lib` + `lib.js`).
pub fn path_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.split(|&c| c == b'/').cmp(b.split(|&c| c == b'/'))
}

/// Joins an archive-relative prefix and a name.
pub(crate) fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        return name.to_vec();
    }
    let mut out = Vec::with_capacity(prefix.len() + 1 + name.len());
    out.extend_from_slice(prefix);
    out.push(b'/');
    out.extend_from_slice(name);
    out
}

/// The strict ancestors of `rel`, shortest first (`a`, `a/b` for `a/b/c`).
pub(crate) fn ancestors(rel: &[u8]) -> impl Iterator<Item = &[u8]> {
    rel.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'/')
        .map(move |(i, _)| &rel[..i])
}

/// Lists everything below `root` (not `root` itself) as entries named `prefix/…`, skipping
/// whatever `skip(rel_to_root, is_dir)` rejects (a rejected directory's subtree is not read).
pub fn walk(
    root: &Path,
    prefix: &[u8],
    mut skip: impl FnMut(&[u8], bool) -> bool,
) -> Result<Vec<Entry>, SlugError> {
    let mut entries = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()))
        .into_iter()
        .filter_entry(|e| {
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            !skip(rel.as_os_str().as_bytes(), e.file_type().is_dir())
        });
    for item in walker {
        let item = item.map_err(|err| {
            let path = err.path().unwrap_or(root).to_owned();
            SlugError::Read {
                source: err.into_io_error().unwrap_or_else(|| {
                    std::io::Error::other("filesystem loop while listing the tree")
                }),
                path,
            }
        })?;
        let path = item.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .as_os_str()
            .as_bytes();
        let rel = join(prefix, rel);
        let file_type = item.file_type();
        let kind = if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            let meta = item.metadata().map_err(|err| SlugError::Read {
                path: path.to_owned(),
                source: err.into(),
            })?;
            EntryKind::File {
                source: path.to_owned(),
                size: meta.len(),
                executable: meta.permissions().mode() & 0o111 != 0,
            }
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(path).map_err(|source| SlugError::Read {
                path: path.to_owned(),
                source,
            })?;
            EntryKind::Symlink {
                target: target.into_os_string().into_vec(),
            }
        } else {
            return Err(SlugError::UnsupportedFileType {
                path: path.to_owned(),
                kind: crate::file_kind::describe(&file_type),
            });
        };
        entries.push(Entry { rel, kind });
    }
    // walkdir sorted each directory by name, which already is the canonical order; sorting
    // again costs little and keeps the guarantee independent of walkdir's traversal.
    entries.sort_by(|a, b| path_cmp(&a.rel, &b.rel));
    // Grown by doubling, the list may hold twice the room it needs, for as long as the slug
    // takes to pack: 50,000 entries' worth is megabytes of peak RSS.
    entries.shrink_to_fit();
    Ok(entries)
}

/// Follow-the-links limit, as Linux's `ELOOP` limit.
const MAX_HOPS: usize = 40;

/// Where a path resolves in the slug as it will be extracted, following the slug's own
/// symlinks as the kernel would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// Inside `./app`: the resolved path's components (empty for `./app` itself). It may name
    /// nothing in the slug: the kernel would treat it as a name below where it points.
    Inside(Vec<&'a [u8]>),
    /// It leaves `./app` (an absolute target, or `..` above it).
    Outside,
    /// More than 40 links on the way (Linux's `ELOOP`): a loop, such as `a -> b`, `b -> a`.
    Loop,
}

/// The symlinks among `entries`: link → target.
pub(crate) fn links<'a>(entries: impl Iterator<Item = &'a Entry>) -> HashMap<&'a [u8], &'a [u8]> {
    entries
        .filter_map(|e| match &e.kind {
            EntryKind::Symlink { target } => Some((e.rel.as_slice(), target.as_slice())),
            _ => None,
        })
        .collect()
}

/// Resolves `path` (relative to `./app`, `/`-separated) through `links` (from [`links`]).
pub(crate) fn resolve<'a>(links: &HashMap<&'a [u8], &'a [u8]>, path: &'a [u8]) -> Resolved<'a> {
    resolve_from(links, Vec::new(), path)
}

/// Resolves `target` as written in a link (or a path) found in directory `dir`.
fn resolve_from<'a>(
    links: &HashMap<&'a [u8], &'a [u8]>,
    mut dir: Vec<&'a [u8]>,
    target: &'a [u8],
) -> Resolved<'a> {
    let mut pending: VecDeque<&[u8]> = VecDeque::new();
    let mut next_target = Some(target);
    let mut hops = 0;
    loop {
        if let Some(target) = next_target.take() {
            hops += 1;
            if hops > MAX_HOPS {
                return Resolved::Loop;
            }
            if target.first() == Some(&b'/') {
                return Resolved::Outside;
            }
            for part in target.split(|&c| c == b'/').rev() {
                pending.push_front(part);
            }
        }
        let Some(part) = pending.pop_front() else {
            return Resolved::Inside(dir);
        };
        match part {
            b"" | b"." => {}
            b".." => {
                if dir.pop().is_none() {
                    return Resolved::Outside;
                }
            }
            name => {
                dir.push(name);
                if let Some(&target) = links.get(dir.join(&b'/').as_slice()) {
                    dir.pop();
                    next_target = Some(target);
                }
            }
        }
    }
}

/// Refuses any symlink that, resolved inside the slug as it will be extracted, leaves `./app`
/// or loops (each its own error: a loop is not an escape). Resolution follows the slug's own
/// symlinks, so a chain of individually harmless links (`a -> .`, `b -> a/..`) cannot climb
/// out either. A target that does not exist in the slug stays a name below where it points,
/// as the kernel would treat it.
pub fn check_symlinks<'a>(
    entries: impl Iterator<Item = &'a Entry> + Clone,
) -> Result<(), SlugError> {
    let links = links(entries.clone());
    for entry in entries {
        let EntryKind::Symlink { target } = &entry.kind else {
            continue;
        };
        let mut dir: Vec<&[u8]> = entry.rel.split(|&c| c == b'/').collect();
        dir.pop();
        let shown = || String::from_utf8_lossy(target).into_owned();
        match resolve_from(&links, dir, target) {
            Resolved::Inside(_) => {}
            Resolved::Outside => {
                return Err(SlugError::SymlinkEscapes {
                    path: entry.display(),
                    target: shown(),
                });
            }
            Resolved::Loop => {
                return Err(SlugError::SymlinkLoop {
                    path: entry.display(),
                    target: shown(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(rel: &str, target: &str) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::Symlink {
                target: target.as_bytes().to_vec(),
            },
        }
    }

    fn check(entries: &[Entry]) -> Result<(), String> {
        check_symlinks(entries.iter()).map_err(|e| e.to_string())
    }

    #[test]
    fn canonical_order_puts_directory_contents_before_siblings_with_dots() {
        let mut names = vec![&b"lib.js"[..], b"lib/a", b"lib", b"lib-x", b"a"];
        names.sort_by(|a, b| path_cmp(a, b));
        assert_eq!(names, [&b"a"[..], b"lib", b"lib/a", b"lib-x", b"lib.js"]);
    }

    #[test]
    fn links_inside_app_are_accepted() {
        check(&[
            link("node/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"),
            link("current", "node"),
            link("x/y", "../current/bin"),
        ])
        .unwrap();
    }

    #[test]
    fn links_leaving_app_are_refused() {
        for (rel, target) in [("a", "/etc/passwd"), ("a", ".."), ("d/a", "../../x")] {
            let err = check(&[link(rel, target)]).unwrap_err();
            assert!(err.contains(target), "{err}");
        }
    }

    #[test]
    fn chains_of_links_are_resolved_through_the_slug() {
        // `a` points at the app root; `b -> a/..` is lexically inside but resolves outside.
        let err = check(&[link("a", "."), link("sub/b", "../a/..")]).unwrap_err();
        assert!(
            err.contains("./app/sub/b") && err.contains("outside"),
            "{err}"
        );
    }

    #[test]
    fn a_loop_is_reported_as_a_loop_not_as_an_escape() {
        for links in [
            vec![link("l1", "l2"), link("l2", "l1")],
            vec![link("self", "self")],
            vec![link("d/x", "../d/x")],
        ] {
            let err = check(&links).unwrap_err();
            assert!(err.contains("loop") && !err.contains("outside"), "{err}");
        }
    }

    #[test]
    fn paths_resolve_through_the_slugs_links() {
        let entries = [
            link("node/bin/npm", "../lib/npm/cli.js"),
            link("current", "node"),
        ];
        let links = links(entries.iter());
        let parts = |r: Resolved<'_>| match r {
            Resolved::Inside(parts) => parts.join(&b'/'),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            parts(resolve(&links, b"current/bin/npm")),
            b"node/lib/npm/cli.js"
        );
        assert_eq!(parts(resolve(&links, b"./bin/web")), b"bin/web");
        assert_eq!(resolve(&links, b"../x"), Resolved::Outside);
    }
}
