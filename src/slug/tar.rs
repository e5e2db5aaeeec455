//! GNU tar headers, written by hand so every byte is ours to decide.
//!
//! The `tar` crate normalises paths (it drops the leading `./` that `tar czf slug.tgz ./app`
//! writes and Heroku slugs carry) and fills fields from the filesystem. Here each header is
//! built from an [`Entry`] alone, field by field, exactly as GNU tar 1.34 writes them with
//! `--format=gnu --numeric-owner --owner=0 --group=0 --mtime=@0`: octal numbers zero-padded and
//! NUL-terminated, magic `"ustar  \0"`, empty user and group names, and names or link targets
//! over 100 bytes announced by a `././@LongLink` entry (type `L` for names, `K` for targets).
//! A test compares our tar stream with GNU tar's, byte for byte.

use std::path::PathBuf;

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// The mtime of every entry: the Unix epoch, as `tar --mtime=@0` writes it. Zero cannot drift
/// with time zones or build dates, and GNU tar only warns about negative times.
pub const MTIME: u64 = 0;

/// The end-of-archive marker: two zero blocks. Written once, at the end of the last component.
/// No padding to GNU tar's 10 KiB record follows: it would make the last component's bytes
/// depend on every other component's length, and every tar reader accepts the shorter form.
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

const NAME_LEN: usize = 100;

/// One archive entry: a path under `./app` and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to `./app`, `/`-separated, without leading or trailing `/`; empty for
    /// `./app/` itself. Bytes, because Unix file names need not be UTF-8.
    pub rel: Vec<u8>,
    /// What the entry is.
    pub kind: EntryKind,
}

/// The kinds of entries a slug holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory (mode 0755).
    Dir,
    /// A regular file whose bytes are read from `source` when the archive is written.
    File {
        /// Where the bytes come from.
        source: PathBuf,
        /// The size seen when the tree was listed; a different size at write time is an error.
        size: u64,
        /// Whether any executable bit was set: mode 0755, else 0644.
        executable: bool,
    },
    /// A symbolic link (mode 0777, as GNU tar stores them), never followed.
    Symlink {
        /// The link's target, as stored.
        target: Vec<u8>,
    },
}

impl Entry {
    /// The entry's name in the archive: `./app/` + path, with a trailing `/` for directories.
    pub fn archive_name(&self) -> Vec<u8> {
        let mut name = b"./app/".to_vec();
        name.extend_from_slice(&self.rel);
        if matches!(self.kind, EntryKind::Dir) && !self.rel.is_empty() {
            name.push(b'/');
        }
        name
    }

    /// The path for messages: `./app/…`, lossily decoded.
    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.archive_name()).into_owned()
    }

    /// Bytes of file data following the header(s).
    pub fn data_len(&self) -> u64 {
        match &self.kind {
            EntryKind::File { size, .. } => *size,
            EntryKind::Dir | EntryKind::Symlink { .. } => 0,
        }
    }

    /// Bytes this entry takes in the tar stream: headers, data and padding.
    pub fn tar_len(&self) -> u64 {
        self.header_bytes().len() as u64 + padded(self.data_len())
    }

    /// The header block(s) of this entry: `L`/`K` long-link entries as needed, then the entry.
    pub fn header_bytes(&self) -> Vec<u8> {
        let name = self.archive_name();
        let mut out = Vec::with_capacity(BLOCK);
        let (mode, size, typeflag, link): (u32, u64, u8, &[u8]) = match &self.kind {
            EntryKind::Dir => (0o755, 0, b'5', b""),
            EntryKind::File {
                size, executable, ..
            } => (if *executable { 0o755 } else { 0o644 }, *size, b'0', b""),
            EntryKind::Symlink { target } => (0o777, 0, b'2', target),
        };
        if link.len() > NAME_LEN {
            long_link(&mut out, b'K', link);
        }
        if name.len() > NAME_LEN {
            long_link(&mut out, b'L', &name);
        }
        out.extend_from_slice(&header(&name, mode, size, typeflag, link));
        out
    }
}

/// `n` rounded up to whole blocks.
pub fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// A `././@LongLink` entry of type `kind` carrying `value` and a NUL.
fn long_link(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    let len = value.len() as u64 + 1;
    out.extend_from_slice(&header(b"././@LongLink", 0o644, len, kind, b""));
    let start = out.len();
    out.extend_from_slice(value);
    out.resize(start + padded(len) as usize, 0);
}

/// One 512-byte GNU header. Names and link targets longer than the field are cut, as GNU tar
/// does after writing the full value in a long-link entry.
fn header(name: &[u8], mode: u32, size: u64, typeflag: u8, link: &[u8]) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..cut(name).len()].copy_from_slice(cut(name));
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0); // uid
    octal(&mut h[116..124], 0); // gid
    size_field(&mut h[124..136], size);
    octal(&mut h[136..148], MTIME);
    h[156] = typeflag;
    h[157..157 + cut(link).len()].copy_from_slice(cut(link));
    h[257..265].copy_from_slice(b"ustar  \0");
    // uname and gname stay empty (numeric owner 0:0); devmajor/devminor stay NUL for
    // non-device entries, as GNU tar leaves them.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    h[154] = 0;
    h[155] = b' ';
    h
}

/// The first (at most) 100 bytes of a name or link target.
fn cut(value: &[u8]) -> &[u8] {
    &value[..value.len().min(NAME_LEN)]
}

/// Zero-padded octal with a trailing NUL filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    debug_assert_eq!(text.len(), digits, "value {value} fits the field");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

/// The size field: octal when it fits 11 digits (< 8 GiB), else GNU's base-256 form.
fn size_field(field: &mut [u8], size: u64) {
    if size < 1 << 33 {
        octal(field, size);
    } else {
        field.fill(0);
        field[0] = 0x80;
        let len = field.len();
        field[len - 8..].copy_from_slice(&size.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, size: u64, executable: bool) -> Entry {
        Entry {
            rel: rel.as_bytes().to_vec(),
            kind: EntryKind::File {
                source: PathBuf::from("/nonexistent"),
                size,
                executable,
            },
        }
    }

    #[test]
    fn names_keep_dot_slash_and_dirs_end_in_slash() {
        let root = Entry {
            rel: Vec::new(),
            kind: EntryKind::Dir,
        };
        assert_eq!(root.archive_name(), b"./app/");
        let dir = Entry {
            rel: b"lib/x".to_vec(),
            kind: EntryKind::Dir,
        };
        assert_eq!(dir.archive_name(), b"./app/lib/x/");
        assert_eq!(file("web.js", 1, false).archive_name(), b"./app/web.js");
    }

    #[test]
    fn header_fields_match_gnu_tar() {
        let h = file("web.js", 2, true).header_bytes();
        assert_eq!(h.len(), BLOCK);
        assert_eq!(&h[..13], b"./app/web.js\0");
        assert_eq!(&h[100..108], b"0000755\0");
        assert_eq!(&h[124..136], b"00000000002\0");
        assert_eq!(&h[136..148], b"00000000000\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar  \0");
        let stored: u32 = std::str::from_utf8(&h[148..154])
            .ok()
            .and_then(|s| u32::from_str_radix(s, 8).ok())
            .unwrap();
        let mut blank = h.clone();
        blank[148..156].fill(b' ');
        assert_eq!(stored, blank.iter().map(|&b| u32::from(b)).sum::<u32>());
    }

    #[test]
    fn hundred_byte_name_fits_and_one_more_needs_long_link() {
        let fits = "y".repeat(100 - "./app/".len());
        assert_eq!(file(&fits, 0, false).header_bytes().len(), BLOCK);
        let long = "y".repeat(101 - "./app/".len());
        let h = file(&long, 0, false).header_bytes();
        assert_eq!(h.len(), 3 * BLOCK);
        assert_eq!(&h[..14], b"././@LongLink\0");
        assert_eq!(h[156], b'L');
        assert_eq!(&h[124..136], b"00000000146\0"); // 101 + NUL = 102 = 0o146
        assert_eq!(&h[BLOCK..BLOCK + 101], format!("./app/{long}").as_bytes());
    }

    #[test]
    fn long_link_target_uses_k_entry() {
        let target = "t".repeat(150);
        let link = Entry {
            rel: b"l".to_vec(),
            kind: EntryKind::Symlink {
                target: target.clone().into_bytes(),
            },
        };
        let h = link.header_bytes();
        assert_eq!(h.len(), 3 * BLOCK);
        assert_eq!(h[156], b'K');
        assert_eq!(h[2 * BLOCK + 156], b'2');
        assert_eq!(
            &h[2 * BLOCK + 157..2 * BLOCK + 257],
            &target.as_bytes()[..100]
        );
    }

    #[test]
    fn huge_sizes_use_base_256() {
        let h = file("big", 1 << 34, false).header_bytes();
        assert_eq!(h[124], 0x80);
        assert_eq!(&h[128..136], &(1u64 << 34).to_be_bytes());
        assert_eq!(
            file("big", 1 << 34, false).tar_len(),
            BLOCK as u64 + (1 << 34)
        );
    }
}
