//! Memoised listings of unpacked runtime trees, so a build does not walk (and stat) the
//! 50,000 files of a Node runtime every time the app changes.
//!
//! A tree unpacked from a pinned archive lives read-only in `runtime-trees-v1/<tree key>`, and
//! its tree key (archive SHA-256, strip count, extraction version) fixes its content. Its
//! listing (names, kinds, sizes, executable bits, link targets) is therefore written once, to
//! `runtime-listings-v1/<tree key>.listing`, and read back instead of walking the tree.
//!
//! Guarantees:
//! - Only trees named by an archive key are memoised; `path` runtimes (which the user may
//!   edit) are always walked.
//! - A memo names its own tree key, entry count, body length and the body's CRC-32 in its
//!   header. A memo that is missing, truncated, damaged, of another format or written for
//!   another key is a miss: the tree is walked and the memo written again. So a memo never
//!   makes one tree's listing stand for another's, and a damaged one costs a walk, never a
//!   wrong slug.
//! - Memos are written to a temp file and renamed into place; failing to write one is not an
//!   error (the next build walks again).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cache::{self, Bucket, Cache, CacheKey};
use crate::slug::tree::{join, walk};
use crate::slug::{Entry, EntryKind, SlugError};

/// The first word of a memo's header; bumped with the body's format.
const MAGIC: &str = "slugplan-runtime-listing-v1";

/// The entries of the runtime tree at `root` (unpacked from an archive, with tree key
/// `tree_key`), named `prefix/…`: from the memo when a sound one exists, else by walking the
/// tree (and memoising what was found).
pub fn runtime_entries(
    cache: &Cache,
    tree_key: &str,
    root: &Path,
    prefix: &[u8],
) -> Result<Vec<Entry>, SlugError> {
    let memo = cache.entry(CacheKey::RuntimeListing(tree_key));
    if let Some(listed) = read(memo.path(), tree_key, root, prefix) {
        cache::touch(memo.path());
        return Ok(listed);
    }
    let entries = walk(root, &[], |_, _| false)?;
    write(cache, memo.path(), tree_key, &entries);
    Ok(entries
        .into_iter()
        .map(|entry| Entry {
            rel: join(prefix, &entry.rel),
            kind: entry.kind,
        })
        .collect())
}

/// The body: per entry, a kind byte (`d`, `f`, `x` for an executable file, `l`), the size
/// (files, u64 LE), the name relative to the root (u32 LE length + bytes) and, for a link, its
/// target (u32 LE length + bytes).
fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries.len() * 64);
    let bytes = |body: &mut Vec<u8>, b: &[u8]| {
        let len = u32::try_from(b.len()).expect("file names are shorter than 4 GiB");
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(b);
    };
    for entry in entries {
        match &entry.kind {
            EntryKind::Dir => body.push(b'd'),
            EntryKind::File {
                size, executable, ..
            } => {
                body.push(if *executable { b'x' } else { b'f' });
                body.extend_from_slice(&size.to_le_bytes());
            }
            EntryKind::Symlink { .. } => body.push(b'l'),
        }
        bytes(&mut body, &entry.rel);
        if let EntryKind::Symlink { target } = &entry.kind {
            bytes(&mut body, target);
        }
    }
    body
}

fn header(tree_key: &str, count: usize, body: &[u8]) -> String {
    format!(
        "{MAGIC} {tree_key} {count} {} {:08x}\n",
        body.len(),
        crc32fast::hash(body)
    )
}

/// Writes the memo of `entries` (named relative to the tree's root), best effort.
fn write(cache: &Cache, memo: &Path, tree_key: &str, entries: &[Entry]) {
    let body = encode(entries);
    let Ok(mut temp) = cache.temp_file(Bucket::RuntimeListings) else {
        return;
    };
    let header = header(tree_key, entries.len(), &body);
    let written = std::io::Write::write_all(&mut temp, header.as_bytes())
        .and_then(|()| std::io::Write::write_all(&mut temp, &body));
    if written.is_ok()
        && let Err(err) = temp.persist(memo)
    {
        tracing::debug!(
            "cannot memoise the listing {}: {}",
            memo.display(),
            err.error
        );
    }
}

/// The memo's entries, named `prefix/…` with sources under `root`; None unless the memo is
/// sound and written for `tree_key`.
fn read(memo: &Path, tree_key: &str, root: &Path, prefix: &[u8]) -> Option<Vec<Entry>> {
    let data = std::fs::read(memo).ok()?;
    let newline = data.iter().position(|&b| b == b'\n')?;
    let body = &data[newline + 1..];
    let words = std::str::from_utf8(&data[..newline]).ok()?;
    let count: usize = words.split(' ').nth(2)?.parse().ok()?;
    // The whole header must be what this body and key give: magic, key, count, length, CRC.
    if data[..=newline] != *header(tree_key, count, body).as_bytes() {
        return None;
    }
    decode(body, count, root, prefix)
}

fn decode(mut body: &[u8], count: usize, root: &Path, prefix: &[u8]) -> Option<Vec<Entry>> {
    fn take<'a>(body: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = body.split_at_checked(n)?;
        *body = rest;
        Some(head)
    }
    fn bytes<'a>(body: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(take(body, 4)?.try_into().ok()?);
        take(body, usize::try_from(len).ok()?)
    }
    // Every entry takes at least 5 bytes: a count the body cannot hold is damage.
    let mut entries = Vec::with_capacity(count.min(body.len() / 5));
    for _ in 0..count {
        let tag = take(&mut body, 1)?[0];
        let size = match tag {
            b'f' | b'x' => Some(u64::from_le_bytes(take(&mut body, 8)?.try_into().ok()?)),
            b'd' | b'l' => None,
            _ => return None,
        };
        let rel = bytes(&mut body)?;
        let kind = match (tag, size) {
            (b'd', _) => EntryKind::Dir,
            (b'l', _) => EntryKind::Symlink {
                target: bytes(&mut body)?.to_vec(),
            },
            (_, Some(size)) => EntryKind::File {
                source: root.join(std::ffi::OsStr::from_bytes(rel)),
                size,
                executable: tag == b'x',
            },
            _ => return None,
        };
        entries.push(Entry {
            rel: join(prefix, rel),
            kind,
        });
    }
    body.is_empty().then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn tree() -> (tempfile::TempDir, Cache, std::path::PathBuf) {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("tree");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/node"), b"\x7fELF").unwrap();
        std::fs::set_permissions(root.join("bin/node"), PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::write(root.join("README.md"), b"hello\n").unwrap();
        symlink("node", root.join("bin/nodejs")).unwrap();
        let cache = Cache::new(temp.path().join("cache"));
        (temp, cache, root)
    }

    fn memo(cache: &Cache, key: &str) -> std::path::PathBuf {
        cache.entry(CacheKey::RuntimeListing(key)).into_path()
    }

    #[test]
    fn a_memo_gives_back_what_walking_found() {
        let (_temp, cache, root) = tree();
        let walked = runtime_entries(&cache, "k1", &root, b"node").unwrap();
        assert_eq!(walked.len(), 4);
        assert!(memo(&cache, "k1").is_file());
        // The memo is used now: the tree may even be gone (it is not read).
        let renamed = root.with_file_name("moved");
        std::fs::rename(&root, &renamed).unwrap();
        let from_memo = runtime_entries(&cache, "k1", &root, b"node").unwrap();
        assert_eq!(from_memo, walked);
        // Another prefix names the same files under another directory.
        let at_root = runtime_entries(&cache, "k1", &root, b"").unwrap();
        assert_eq!(at_root[0].rel, b"README.md");
    }

    #[test]
    fn damaged_or_foreign_memos_are_misses() {
        let (_temp, cache, root) = tree();
        let walked = runtime_entries(&cache, "k1", &root, b"").unwrap();
        let sound = std::fs::read(memo(&cache, "k1")).unwrap();
        let newline = sound.iter().position(|&b| b == b'\n').unwrap();
        let flip = |at: usize| {
            let mut bytes = sound.clone();
            bytes[at] ^= 0x01;
            bytes
        };
        let damages: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("truncated", sound[..sound.len() - 3].to_vec()),
            ("longer", [&sound[..], b"x"].concat()),
            ("body bit flip", flip(newline + 10)),
            ("header bit flip", flip(3)),
            ("no header", sound[newline + 1..].to_vec()),
        ];
        for (what, bytes) in damages {
            std::fs::write(memo(&cache, "k1"), &bytes).unwrap();
            assert!(
                read(&memo(&cache, "k1"), "k1", &root, b"").is_none(),
                "{what}"
            );
            // A build walks again and rewrites a sound memo.
            assert_eq!(
                runtime_entries(&cache, "k1", &root, b"").unwrap(),
                walked,
                "{what}"
            );
            assert_eq!(std::fs::read(memo(&cache, "k1")).unwrap(), sound, "{what}");
        }
        // A memo copied under another tree's key never stands for that tree.
        std::fs::copy(memo(&cache, "k1"), memo(&cache, "k2")).unwrap();
        assert!(read(&memo(&cache, "k2"), "k2", &root, b"").is_none());
        let other = root.with_file_name("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("only.txt"), b"x").unwrap();
        let listed = runtime_entries(&cache, "k2", &other, b"").unwrap();
        assert_eq!(listed.len(), 1, "the other tree was walked: {listed:?}");
    }
}
