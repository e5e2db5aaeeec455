//! Stack compatibility: will the ELF binaries slugplan puts into a slug run on its stack?
//!
//! A Heroku stack is an Ubuntu image with a fixed glibc. A binary built for another CPU, or linked
//! against a newer glibc than the stack ships, fails only when the dyno starts, long after the
//! deploy looked fine. This module checks every ELF file before the slug is built:
//!
//! - the machine is x86-64 (`e_machine` 62): the stacks run on nothing else;
//! - for dynamically linked files, the highest `GLIBC_x.y` symbol version they need (read from
//!   the `.gnu.version_r` section) is no newer than the stack's glibc.
//!
//! Files that are not ELF are ignored; statically linked ELF files (such as Go binaries built with
//! `CGO_ENABLED=0`) pass the glibc check trivially.

use std::path::{Path, PathBuf};

use object::Endianness;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

/// The glibc each known stack ships, as (major, minor).
const STACKS: &[(&str, (u32, u32))] = &[
    ("heroku-20", (2, 31)),
    ("heroku-22", (2, 35)),
    ("heroku-24", (2, 39)),
];

/// Errors from the stack check.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StackError {
    /// The manifest names a stack slugplan does not know.
    #[error("unknown stack `{stack}`: slugplan knows {}", known_stacks())]
    #[diagnostic(help("set `stack` in the slug's [slugs.*] table to one of the known stacks"))]
    UnknownStack {
        /// The stack's name.
        stack: String,
    },
    /// An ELF file is built for another CPU.
    #[error("{} is built for {machine}, but stack {stack} runs x86-64 only", path.display())]
    #[diagnostic(help("use the linux x64 (amd64) build of this runtime or program"))]
    WrongMachine {
        /// The file.
        path: PathBuf,
        /// The ELF machine it is built for, e.g. `AArch64 (e_machine 183)`.
        machine: String,
        /// The stack.
        stack: String,
    },
    /// A dynamically linked ELF file needs a newer glibc than the stack has.
    #[error(
        "{} needs GLIBC_{}.{}, but stack {stack} has glibc {}.{}",
        path.display(), needed.0, needed.1, available.0, available.1
    )]
    #[diagnostic(help(
        "use a build of this runtime made for {stack} (or an older glibc), or a newer stack"
    ))]
    GlibcTooNew {
        /// The file.
        path: PathBuf,
        /// The highest glibc version it needs.
        needed: (u32, u32),
        /// The stack's glibc version.
        available: (u32, u32),
        /// The stack.
        stack: String,
    },
    /// A file looks like ELF but cannot be parsed.
    #[error("{} is not a valid ELF file: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The stacks slugplan knows (and the local platform runs, and can check binaries against),
/// oldest first: the one list validation, the build and the manifest's JSON Schema take them
/// from.
pub fn known() -> impl Iterator<Item = &'static str> {
    STACKS.iter().map(|(name, _)| *name)
}

/// Whether slugplan knows stack `stack`.
pub fn is_known(stack: &str) -> bool {
    known().any(|known| known == stack)
}

fn known_stacks() -> String {
    known().collect::<Vec<_>>().join(", ")
}

/// The glibc version stack `stack` ships.
pub fn stack_glibc(stack: &str) -> Result<(u32, u32), StackError> {
    STACKS
        .iter()
        .find(|(name, _)| *name == stack)
        .map(|(_, version)| *version)
        .ok_or_else(|| StackError::UnknownStack {
            stack: stack.to_owned(),
        })
}

/// What the check learned about one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// The ELF `e_machine` value (62 for x86-64).
    pub machine: u16,
    /// Whether the file asks for a dynamic loader (has a `PT_INTERP` or `PT_DYNAMIC` segment).
    pub dynamic: bool,
    /// The highest `GLIBC_x.y` version it needs, if any.
    pub max_glibc: Option<(u32, u32)>,
}

/// Checks every ELF file under `root` (symlinks are not followed) against `stack`.
pub fn check_tree(root: &Path, stack: &str) -> Result<(), StackError> {
    let glibc = stack_glibc(stack)?;
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(|err| StackError::Io {
            path: err.path().unwrap_or(root).to_owned(),
            source: err.into(),
        })?;
        if entry.file_type().is_file() {
            check_path(entry.path(), stack, glibc)?;
        }
    }
    Ok(())
}

/// Checks one file against `stack`; a file that is not ELF passes.
pub fn check_file(path: &Path, stack: &str) -> Result<(), StackError> {
    let glibc = stack_glibc(stack)?;
    check_path(path, stack, glibc)
}

fn check_path(path: &Path, stack: &str, glibc: (u32, u32)) -> Result<(), StackError> {
    let Some(info) = inspect(path)? else {
        return Ok(());
    };
    if info.machine != elf::EM_X86_64 {
        return Err(StackError::WrongMachine {
            path: path.to_owned(),
            machine: machine_name(info.machine),
            stack: stack.to_owned(),
        });
    }
    match info.max_glibc {
        Some(needed) if info.dynamic && needed > glibc => Err(StackError::GlibcTooNew {
            path: path.to_owned(),
            needed,
            available: glibc,
            stack: stack.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Reads `path`'s ELF header and version needs; `None` when the file is not ELF.
pub fn inspect(path: &Path) -> Result<Option<ElfInfo>, StackError> {
    let io = |source| StackError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs_err::File::open(path).map_err(io)?;
    let mut ident = [0u8; 5];
    {
        use std::io::Read;
        let read = file.read(&mut ident).map_err(io)?;
        if read < 5 || ident[..4] != elf::ELFMAG {
            return Ok(None);
        }
    }
    // Read lazily: only the headers and version sections, never a whole (large) binary.
    let data = object::ReadCache::new(file.into_parts().0);
    let malformed = |err: object::read::Error| StackError::Malformed {
        path: path.to_owned(),
        message: err.to_string(),
    };
    let info = match ident[4] {
        elf::ELFCLASS64 => parse::<elf::FileHeader64<Endianness>, _>(&data).map_err(malformed)?,
        elf::ELFCLASS32 => parse::<elf::FileHeader32<Endianness>, _>(&data).map_err(malformed)?,
        _ => {
            return Err(StackError::Malformed {
                path: path.to_owned(),
                message: "unknown ELF class".to_owned(),
            });
        }
    };
    Ok(Some(info))
}

fn parse<'data, Elf: FileHeader<Endian = Endianness>, R: object::ReadRef<'data>>(
    data: R,
) -> object::read::Result<ElfInfo> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let machine = header.e_machine(endian);
    let dynamic = header
        .program_headers(endian, data)?
        .iter()
        .any(|ph| matches!(ph.p_type(endian), elf::PT_INTERP | elf::PT_DYNAMIC));
    let sections = header.sections(endian, data)?;
    let mut max_glibc = None;
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((_, mut auxes)) = needs.next()? {
            while let Some(aux) = auxes.next()? {
                if let Some(version) = glibc_version(aux.name(endian, strings)?) {
                    max_glibc = max_glibc.max(Some(version));
                }
            }
        }
    }
    Ok(ElfInfo {
        machine,
        dynamic,
        max_glibc,
    })
}

/// Parses `GLIBC_2.34` (or `GLIBC_2.2.5`, compared on major.minor) into (2, 34).
fn glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let rest = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn machine_name(machine: u16) -> String {
    let name = match machine {
        elf::EM_386 => "x86 (32-bit)",
        elf::EM_ARM => "ARM (32-bit)",
        elf::EM_AARCH64 => "AArch64",
        elf::EM_RISCV => "RISC-V",
        elf::EM_PPC64 => "PowerPC 64",
        elf::EM_S390 => "s390",
        _ => "another machine",
    };
    format!("{name} (e_machine {machine})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_versions() {
        assert_eq!(glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version(b"GCC_3.0"), None);
        assert!((2, 36) > (2, 35) && (2, 4) < (2, 35));
    }

    #[test]
    fn unknown_stack_is_an_error() {
        let err = stack_glibc("cedar-14").unwrap_err();
        assert!(err.to_string().contains("heroku-22, heroku-24"), "{err}");
    }
}
