//! Linking an archive's file to an identical file that already exists, instead of writing it.
//!
//! The local platform unpacks each new slug for its dynos, and most of a slug's files are its
//! runtime's, which the build cache already holds unpacked (read-only). A hard link costs a
//! directory entry where a written file costs an inode and its bytes (on the 2-core
//! development machine's ext4, up to ~0.6 ms a file after a tree was deleted: 2 s of a Node
//! slug's unpack). A file is linked only when it is *provably* the same: the candidate is a
//! regular file on the destination's filesystem with the entry's size and executable bit, and
//! every byte of the entry, as read from the archive, equals the candidate's. Anything else (no
//! candidate, a difference, a failed link) writes the file as [`super::extract`] would.
//!
//! A linked file shares its inode with the cache's copy, so it keeps the cache's read-only
//! mode (0444, or 0555 when executable): a dyno cannot change its runtime's files, which keeps
//! the cache's copy intact for later slugs. A dyno running as root is not stopped by modes
//! (the README says what that costs); the byte comparison keeps such a change out of any later
//! unpack.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::read_up_to as read_full;
use super::writers::write_file;

/// Bytes compared at a time.
const BLOCK: usize = 1 << 20;

/// Where an extraction looks for a file that may stand for an entry: its path (after
/// `strip`, `/`-joined) → a candidate, still to be compared.
pub type SourceOf<'a> = &'a dyn Fn(&[u8]) -> Option<PathBuf>;

/// The files an extraction may link to, and how many it linked.
pub struct Sources<'a> {
    /// Entry path → the file that may stand for it; `None` links nothing.
    source_of: Option<SourceOf<'a>>,
    /// The destination's filesystem: a hard link cannot leave it.
    device: Option<u64>,
    /// Files linked so far.
    pub linked: usize,
}

impl<'a> Sources<'a> {
    /// The sources `source_of` names, for an extraction into `dest`.
    pub fn new(source_of: Option<SourceOf<'a>>, dest: &Path) -> Sources<'a> {
        let device = source_of.and_then(|_| std::fs::metadata(dest).ok().map(|meta| meta.dev()));
        Sources {
            source_of,
            device,
            linked: 0,
        }
    }

    /// The file that may stand for the entry at `rel` (its components; `size` bytes,
    /// `executable` or not): a regular file on the destination's filesystem with the same
    /// size and executable bit. Its bytes are still to be compared.
    pub fn candidate(&self, rel: &[Vec<u8>], size: u64, executable: bool) -> Option<PathBuf> {
        let (source_of, device) = (self.source_of?, self.device?);
        let source = source_of(&rel.join(&b'/'))?;
        let meta = std::fs::symlink_metadata(&source).ok()?;
        let fits = meta.file_type().is_file()
            && meta.len() == size
            && meta.dev() == device
            && (meta.permissions().mode() & 0o111 != 0) == executable;
        fits.then_some(source)
    }

    /// Links `path` to `source` if `source` holds exactly `bytes`; `false`, with nothing
    /// written, if it does not or the link fails.
    pub fn link_same(&mut self, source: &Path, bytes: &[u8], path: &Path) -> bool {
        let same = std::fs::read(source).is_ok_and(|held| held == bytes);
        same && self.link(source, path)
    }

    /// Reads the entry `entry` (`size` bytes) while comparing it with `source`, then links
    /// `path` to `source` if they are the same; otherwise `path` gets its own copy of the
    /// entry's bytes (the equal part read again from `source`).
    pub fn link_or_write(
        &mut self,
        source: &Path,
        entry: &mut impl Read,
        size: u64,
        path: &Path,
        executable: bool,
    ) -> std::io::Result<()> {
        let Ok(mut held) = File::open(source) else {
            return write_file(path, entry, executable);
        };
        let (mut ours, mut theirs) = (vec![0; BLOCK], vec![0; BLOCK]);
        let mut same = 0u64;
        loop {
            let n = read_full(entry, &mut ours)?;
            if n == 0 {
                break;
            }
            let matched = read_full(&mut held, &mut theirs[..n]).is_ok_and(|m| m == n)
                && ours[..n] == theirs[..n];
            if !matched {
                return write_diverged(&mut held, same, &ours[..n], entry, size, path, executable);
            }
            same += n as u64;
        }
        let source_ended = read_full(&mut held, &mut theirs[..1]).is_ok_and(|m| m == 0);
        if source_ended && self.link(source, path) {
            return Ok(());
        }
        write_diverged(
            &mut held,
            same,
            &[],
            &mut std::io::empty(),
            size,
            path,
            executable,
        )
    }

    fn link(&mut self, source: &Path, path: &Path) -> bool {
        match std::fs::hard_link(source, path) {
            Ok(()) => {
                self.linked += 1;
                true
            }
            Err(err) => {
                tracing::debug!(error = %err, source = %source.display(), "cannot link; writing");
                false
            }
        }
    }
}

/// Writes the entry's own copy at `path`: its first `same` bytes from the source `held` (they
/// were compared equal; read through the handle already open, so a prune deleting the cache's
/// copy meanwhile changes nothing), then `block`, then the rest of `entry`; refused unless that
/// makes the entry's `size` bytes (the source changed between the comparison and now).
fn write_diverged(
    held: &mut File,
    same: u64,
    block: &[u8],
    entry: &mut impl Read,
    size: u64,
    path: &Path,
    executable: bool,
) -> std::io::Result<()> {
    held.seek(SeekFrom::Start(0))?;
    let prefix = Read::take(&mut *held, same);
    write_file(path, &mut prefix.chain(block).chain(entry), executable)?;
    let written = std::fs::metadata(path)?.len();
    if written != size {
        return Err(std::io::Error::other(
            "the cache's copy changed while it was compared with the archive",
        ));
    }
    Ok(())
}
