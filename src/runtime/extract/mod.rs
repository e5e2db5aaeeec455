//! Safe extraction of runtime archives (`.tar.gz`, `.tgz`, `.tar.xz`).
//!
//! Runtime archives come from the internet, so every entry is hostile until proven otherwise.
//! [`extract`] unpacks into a fresh directory and refuses, naming the entry:
//!
//! - names that are absolute or climb out with `..`, or hold control characters;
//! - symlinks whose target resolves outside the destination (resolved through the links the
//!   archive itself creates, and checked again once every entry is in place, so a later link
//!   cannot turn an earlier one into an escape);
//! - hard links to anything but a regular file the archive already extracted;
//! - any entry written below a symlink (a symlink followed by a file written through it);
//! - device nodes, fifos and other special entries;
//! - a path that appears twice with a different type (or a symlink re-pointed);
//! - decompression bombs: more unpacked bytes than [`ExtractLimits::max_unpacked_bytes`], or a
//!   compression ratio above [`ExtractLimits::max_ratio`];
//! - a damaged stream: the whole compressed stream is read, past tar's end-of-archive marker,
//!   so gzip's CRC and length (xz's check) are verified as `gzip -t` verifies them;
//! - a `strip_components` that leaves nothing of any entry.
//!
//! Permissions are never taken from the archive beyond the executable bit: files become 0755 or
//! 0644, directories 0755. **setuid, setgid and sticky bits are stripped, not refused**: a
//! runtime tarball built by a careless packager is still usable, and nothing in a slug runs as
//! another user. On error the caller removes the destination; this module never writes outside
//! it because every parent directory is created by the extraction itself.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tar::EntryType;

use writers::{HANDED_OVER_UP_TO, Writers};

mod link;
mod writers;

/// Caps that stop a decompression bomb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// The most bytes the decompressed tar stream may have.
    pub max_unpacked_bytes: u64,
    /// The highest allowed ratio of decompressed to compressed bytes (checked once more than
    /// [`RATIO_GRACE_BYTES`] are decompressed, so tiny archives of zeros pass).
    pub max_ratio: u64,
}

/// Decompressed bytes allowed before the ratio cap applies.
pub const RATIO_GRACE_BYTES: u64 = 1 << 20;

impl Default for ExtractLimits {
    /// 8 GiB and 100:1: Node's tarball unpacks to ~190 MB at ~4:1, Ruby's at ~3:1.
    fn default() -> Self {
        ExtractLimits {
            max_unpacked_bytes: 8 << 30,
            max_ratio: 100,
        }
    }
}

/// Why an archive was refused or could not be unpacked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExtractError {
    /// An entry is unsafe to extract.
    #[error("{} entry `{entry}`: {reason}", archive.display())]
    #[diagnostic(help(
        "the archive is refused as a whole; check that the URL and sha256 are right"
    ))]
    Unsafe {
        /// The archive.
        archive: PathBuf,
        /// The entry's name as stored in the archive.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The archive unpacks to more than a cap allows.
    #[error("{}: {reason}", archive.display())]
    #[diagnostic(help(
        "raise SLUGPLAN_MAX_UNPACKED_BYTES or SLUGPLAN_MAX_COMPRESSION_RATIO if the archive is legitimate"
    ))]
    Bomb {
        /// The archive.
        archive: PathBuf,
        /// Which cap was hit.
        reason: String,
    },
    /// The compressed stream is damaged: a wrong CRC or length, a truncated stream, trailing
    /// bytes that are not a compressed stream.
    #[error("the archive is corrupt")]
    #[diagnostic(help(
        "the archive is damaged (`gzip -t` or `xz -t` says so too); download it again"
    ))]
    Corrupt {
        /// The archive.
        archive: PathBuf,
        /// What the decompressor said.
        #[source]
        source: std::io::Error,
    },
    /// `strip_components` drops every component of every entry: nothing would be unpacked.
    #[error(
        "strip_components = {strip} leaves nothing of the archive: its deepest entry has {}",
        crate::human::count(*deepest, "component", "components")
    )]
    #[diagnostic(help(
        "strip_components drops leading folders: 1 for an archive with one top-level folder, 0 for none"
    ))]
    NothingLeft {
        /// The archive.
        archive: PathBuf,
        /// The runtime's `strip_components`.
        strip: u32,
        /// The most components any entry has.
        deepest: usize,
    },
    /// Neither gzip nor xz.
    #[error("{}: not a .tar.gz, .tgz or .tar.xz archive", archive.display())]
    UnknownFormat {
        /// The archive.
        archive: PathBuf,
    },
    /// Reading the archive or writing the tree failed.
    #[error("cannot unpack {} (at {})", archive.display(), path.display())]
    Io {
        /// The archive.
        archive: PathBuf,
        /// The archive or the file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// What a path in the destination is, as far as this extraction made it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink(Vec<u8>),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Dir => "directory",
            Kind::File => "file",
            Kind::Symlink(_) => "symlink",
        }
    }
}

/// Counts what was read through it; shared with the bomb check.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Wraps the decompressor and stops reading once a cap is exceeded.
struct Capped<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    unpacked: u64,
    limits: ExtractLimits,
    tripped: Rc<Cell<Option<BombKind>>>,
}

#[derive(Debug, Clone, Copy)]
enum BombKind {
    Size,
    Ratio,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.unpacked += n as u64;
        let trip = if self.unpacked > self.limits.max_unpacked_bytes {
            Some(BombKind::Size)
        } else if self.unpacked > RATIO_GRACE_BYTES
            && self.unpacked > self.compressed.get().max(1) * self.limits.max_ratio
        {
            Some(BombKind::Ratio)
        } else {
            None
        };
        if let Some(kind) = trip {
            self.tripped.set(Some(kind));
            return Err(std::io::Error::other("decompression cap exceeded"));
        }
        Ok(n)
    }
}

/// Unpacks `archive` into `dest` (an empty directory), dropping `strip` leading components.
pub fn extract(
    archive: &Path,
    dest: &Path,
    strip: u32,
    limits: ExtractLimits,
) -> Result<(), ExtractError> {
    unpack(archive, dest, strip, limits, None).map(drop)
}

/// [`extract`], linking a file to the file `source_of` names for its path (`app/bin/node`, as
/// the entry's name after `strip`) instead of writing it, when that file holds exactly the
/// entry's bytes and executable bit (see [`link`]). Returns how many files were linked.
pub fn extract_linking(
    archive: &Path,
    dest: &Path,
    strip: u32,
    limits: ExtractLimits,
    source_of: link::SourceOf<'_>,
) -> Result<usize, ExtractError> {
    unpack(archive, dest, strip, limits, Some(source_of))
}

/// [`extract_linking`], or [`extract`] without `source_of`.
fn unpack(
    archive: &Path,
    dest: &Path,
    strip: u32,
    limits: ExtractLimits,
    source_of: Option<link::SourceOf<'_>>,
) -> Result<usize, ExtractError> {
    let io = |path: &Path| {
        let archive = archive.to_owned();
        let path = path.to_owned();
        move |source| ExtractError::Io {
            archive,
            path,
            source,
        }
    };
    let mut file = fs_err::File::open(archive).map_err(io(archive))?;
    let mut magic = [0u8; 6];
    let got = read_up_to(&mut file, &mut magic).map_err(io(archive))?;
    let file = fs_err::File::open(archive).map_err(io(archive))?;
    let compressed = Rc::new(Cell::new(0));
    let counted = Counting {
        inner: std::io::BufReader::new(file),
        count: compressed.clone(),
    };
    let decoder: Box<dyn Read> = match &magic[..got] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(counted)),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => {
            Box::new(liblzma::read::XzDecoder::new_multi_decoder(counted))
        }
        _ => {
            return Err(ExtractError::UnknownFormat {
                archive: archive.to_owned(),
            });
        }
    };
    let tripped = Rc::new(Cell::new(None));
    let capped = Capped {
        inner: decoder,
        compressed,
        unpacked: 0,
        limits,
        tripped: tripped.clone(),
    };
    let mut unpacker = Unpacker {
        archive,
        dest,
        strip: strip as usize,
        seen: HashMap::new(),
        stripped_all: false,
        deepest: 0,
        writers: Writers::start(),
        sources: link::Sources::new(source_of, dest),
    };
    let bomb = |kind: BombKind| ExtractError::Bomb {
        archive: archive.to_owned(),
        reason: match kind {
            BombKind::Size => format!(
                "unpacks to more than {} bytes (the cap)",
                limits.max_unpacked_bytes
            ),
            BombKind::Ratio => format!(
                "compression ratio above {}:1 (the cap): a decompression bomb?",
                limits.max_ratio
            ),
        },
    };
    let mut capped = capped;
    let result = unpacker.run(&mut capped).and_then(|()| {
        unpacker.settle()?;
        // tar stops at its end-of-archive marker; gzip's CRC and length (xz's check) come
        // after it, and a damaged archive must not pass because nobody read them.
        std::io::copy(&mut capped, &mut std::io::sink())
            .map(drop)
            .map_err(|source| ExtractError::Corrupt {
                archive: archive.to_owned(),
                source,
            })
    });
    if let Some(kind) = tripped.get() {
        return Err(bomb(kind));
    }
    result?;
    if unpacker.seen.is_empty() && unpacker.stripped_all {
        return Err(ExtractError::NothingLeft {
            archive: archive.to_owned(),
            strip,
            deepest: unpacker.deepest,
        });
    }
    unpacker.recheck_symlinks()?;
    Ok(unpacker.sources.linked)
}

fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A relative path inside the destination, as normal components.
type Rel = Vec<Vec<u8>>;

struct Unpacker<'a> {
    archive: &'a Path,
    dest: &'a Path,
    strip: usize,
    seen: HashMap<Rel, Kind>,
    /// Whether some entry had all its components stripped.
    stripped_all: bool,
    /// The most components an entry's name had.
    deepest: usize,
    /// Where small files are written (see [`writers`]).
    writers: Writers,
    /// Files that may be linked instead of written (see [`link`]).
    sources: link::Sources<'a>,
}

impl Unpacker<'_> {
    fn unsafe_entry(&self, entry: &[u8], reason: impl Into<String>) -> ExtractError {
        ExtractError::Unsafe {
            archive: self.archive.to_owned(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.into(),
        }
    }

    fn io_err(&self, path: &Path) -> impl FnOnce(std::io::Error) -> ExtractError + use<> {
        let archive = self.archive.to_owned();
        let path = path.to_owned();
        move |source| ExtractError::Io {
            archive,
            path,
            source,
        }
    }

    fn run(&mut self, reader: &mut impl Read) -> Result<(), ExtractError> {
        let mut tar = tar::Archive::new(reader);
        let entries = tar.entries().map_err(self.io_err(self.archive))?;
        for entry in entries {
            let mut entry = entry.map_err(self.io_err(self.archive))?;
            let name = entry.path_bytes().into_owned();
            let Some(rel) = self.relative(&name, &name)? else {
                continue;
            };
            let kind = entry.header().entry_type();
            self.check_parents(&name, &rel)?;
            let path = self.host_path(&rel);
            match kind {
                EntryType::Directory => {
                    self.claim(&name, &rel, Kind::Dir)?;
                    if !path.is_dir() {
                        fs_err::create_dir(&path).map_err(self.io_err(&path))?;
                    }
                }
                EntryType::Regular | EntryType::Continuous => {
                    self.claim(&name, &rel, Kind::File)?;
                    let mode = entry.header().mode().unwrap_or(0o644);
                    self.write_file(&rel, &path, &mut entry, mode)?;
                }
                EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    self.check_symlink(&name, &rel, &target, &self.seen)?;
                    self.claim(&name, &rel, Kind::Symlink(target.clone()))?;
                    let target_os = std::ffi::OsStr::from_bytes(&target);
                    std::os::unix::fs::symlink(target_os, &path).map_err(self.io_err(&path))?;
                }
                EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let Some(target_rel) = self.relative(&name, &target)? else {
                        return Err(self.unsafe_entry(&name, "hard link to a stripped path"));
                    };
                    if self.seen.get(&target_rel) != Some(&Kind::File) {
                        return Err(self.unsafe_entry(
                            &name,
                            format!(
                                "hard link to `{}`, which is not a file extracted earlier",
                                String::from_utf8_lossy(&target)
                            ),
                        ));
                    }
                    self.check_parents(&name, &target_rel)?;
                    self.claim(&name, &rel, Kind::File)?;
                    // The file linked to may still be on its way to the disk.
                    self.settle()?;
                    let source = self.host_path(&target_rel);
                    fs_err::hard_link(&source, &path).map_err(self.io_err(&path))?;
                }
                EntryType::Char | EntryType::Block | EntryType::Fifo => {
                    return Err(self.unsafe_entry(
                        &name,
                        "device nodes and fifos are not allowed in a runtime",
                    ));
                }
                EntryType::XGlobalHeader => {}
                other => {
                    return Err(
                        self.unsafe_entry(&name, format!("unsupported entry type {other:?}"))
                    );
                }
            }
        }
        Ok(())
    }

    /// Splits `raw` into normal components and drops the first `strip`; `None` if nothing is
    /// left. Refuses absolute names, `..`, and control characters.
    fn relative(&mut self, entry: &[u8], raw: &[u8]) -> Result<Option<Rel>, ExtractError> {
        if raw.first() == Some(&b'/') {
            return Err(self.unsafe_entry(entry, "absolute path"));
        }
        if raw.iter().any(|b| b.is_ascii_control()) {
            return Err(self.unsafe_entry(entry, "control character in the name"));
        }
        let mut parts = Vec::new();
        for part in raw.split(|b| *b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => return Err(self.unsafe_entry(entry, "`..` in the path")),
                normal => parts.push(normal.to_vec()),
            }
        }
        self.deepest = self.deepest.max(parts.len());
        if parts.len() <= self.strip {
            self.stripped_all = true;
            return Ok(None);
        }
        Ok(Some(parts.split_off(self.strip)))
    }

    fn host_path(&self, rel: &Rel) -> PathBuf {
        let mut path = self.dest.to_owned();
        for part in rel {
            path.push(std::ffi::OsStr::from_bytes(part));
        }
        path
    }

    /// Every parent must be a directory this extraction made (or will make now): never a
    /// symlink, never a file.
    fn check_parents(&mut self, entry: &[u8], rel: &Rel) -> Result<(), ExtractError> {
        for depth in 1..rel.len() {
            let parent = rel[..depth].to_vec();
            match self.seen.get(&parent) {
                Some(Kind::Dir) => {}
                Some(Kind::Symlink(_)) => {
                    return Err(self.unsafe_entry(entry, "written through a symlink"));
                }
                Some(Kind::File) => {
                    return Err(self.unsafe_entry(entry, "a parent of this entry is a file"));
                }
                None => {
                    let path = self.host_path(&parent);
                    fs_err::create_dir(&path).map_err(self.io_err(&path))?;
                    self.seen.insert(parent, Kind::Dir);
                }
            }
        }
        Ok(())
    }

    /// Records `rel` as `kind`; a second entry for a path may not change its type or re-point a
    /// symlink. A repeated file replaces the earlier one (tar's "last wins").
    fn claim(&mut self, entry: &[u8], rel: &Rel, kind: Kind) -> Result<(), ExtractError> {
        if let Some(before) = self.seen.get(rel) {
            if *before != kind {
                return Err(self.unsafe_entry(
                    entry,
                    format!(
                        "duplicate entry changes a {} into a {}",
                        before.name(),
                        kind.name()
                    ),
                ));
            }
            if kind == Kind::File {
                // The earlier copy may still be on its way to the disk.
                self.settle()?;
                let path = self.host_path(rel);
                fs_err::remove_file(&path).map_err(self.io_err(&path))?;
            }
        }
        self.seen.insert(rel.clone(), kind);
        Ok(())
    }

    /// Writes the file `entry` (at `rel`) at `path`: linked to an identical source when there
    /// is one, else handed to a worker whole if it is small, else streamed here.
    fn write_file(
        &mut self,
        rel: &Rel,
        path: &Path,
        entry: &mut tar::Entry<'_, impl Read>,
        mode: u32,
    ) -> Result<(), ExtractError> {
        let executable = mode & 0o111 != 0;
        let size = entry.size();
        let source = self.sources.candidate(rel, size, executable);
        if size <= HANDED_OVER_UP_TO {
            let mut bytes = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut bytes).map_err(self.io_err(path))?;
            if let Some(source) = source
                && self.sources.link_same(&source, &bytes, path)
            {
                return Ok(());
            }
            return self
                .writers
                .write(path.to_owned(), bytes, executable)
                .map_err(|(path, source)| self.io_err(&path)(source));
        }
        match source {
            Some(source) => self
                .sources
                .link_or_write(&source, entry, size, path, executable)
                .map_err(self.io_err(path)),
            None => writers::write_file(path, entry, executable).map_err(self.io_err(path)),
        }
    }

    /// Waits for the files handed to the workers; `Err` if one could not be written.
    fn settle(&self) -> Result<(), ExtractError> {
        self.writers
            .settle()
            .map_err(|(path, source)| self.io_err(&path)(source))
    }

    /// Refuses a symlink at `rel` whose target, resolved through the symlinks in `seen`,
    /// leaves the destination.
    fn check_symlink(
        &self,
        entry: &[u8],
        rel: &Rel,
        target: &[u8],
        seen: &HashMap<Rel, Kind>,
    ) -> Result<(), ExtractError> {
        if target.is_empty() {
            return Err(self.unsafe_entry(entry, "symlink with an empty target"));
        }
        if target.first() == Some(&b'/') {
            return Err(self.unsafe_entry(entry, "symlink to an absolute path"));
        }
        let base = rel[..rel.len() - 1].to_vec();
        if resolve(seen, base, target, 0).is_none() {
            return Err(self.unsafe_entry(
                entry,
                format!(
                    "symlink to `{}` resolves outside the destination",
                    String::from_utf8_lossy(target)
                ),
            ));
        }
        Ok(())
    }

    /// Checks every symlink again with the final set of entries.
    fn recheck_symlinks(&self) -> Result<(), ExtractError> {
        let mut links: Vec<_> = self
            .seen
            .iter()
            .filter_map(|(rel, kind)| match kind {
                Kind::Symlink(target) => Some((rel, target)),
                _ => None,
            })
            .collect();
        links.sort();
        for (rel, target) in links {
            let name = rel.join(&b'/');
            self.check_symlink(&name, rel, target, &self.seen)?;
        }
        Ok(())
    }
}

/// Resolves `target` relative to directory `base`, following the symlinks recorded in `seen`;
/// `None` when it leaves the root (or loops).
fn resolve(seen: &HashMap<Rel, Kind>, mut at: Rel, target: &[u8], depth: u32) -> Option<Rel> {
    if depth > 40 || target.first() == Some(&b'/') {
        return None;
    }
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                at.pop()?;
            }
            normal => {
                at.push(normal.to_vec());
                if let Some(Kind::Symlink(inner)) = seen.get(&at) {
                    at.pop();
                    at = resolve(seen, at, inner, depth + 1)?;
                }
            }
        }
    }
    Some(at)
}

/// Makes a finished tree read-only (files and directories), so builds cannot modify the cache.
pub fn make_read_only(root: &Path) -> std::io::Result<()> {
    // Children first: a read-only directory could not have its entries changed afterwards.
    for entry in walkdir::WalkDir::new(root).contents_first(true) {
        let entry = entry?;
        let meta = entry.path().symlink_metadata()?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o555;
        fs_err::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}
