//! The one rule for a path the manifest reads from, and the one way such a file is read.
//!
//! The project is the manifest's directory. A slug's `source`, its `procfile`, a runtime's
//! `path` and a Go build's `module` are read into a slug or into a diagnostic, so each must
//! resolve inside the project ([`inside_project`]):
//!
//! - not absolute (`/proc/self/environ`, `/etc/passwd`);
//! - no `..` that climbs above the project (`..` that stays inside, `app/../shared`, is fine);
//! - no symlink on the way that leads out of it: the path is checked again as the kernel
//!   resolves it (canonically), so `Procfile -> ~/.netrc` is refused too.
//!
//! Validation ([`super::load`]) applies the rule to every such value, with its span; the
//! Procfile reader applies it again when it reads.
//!
//! `file:` runtime URLs are not held to it: they name the user's own archives (the examples keep
//! them in `../runtimes`, beside the projects that share them), which are read as archives into
//! the cache, verified by their hash and never quoted in a diagnostic.
//!
//! A file the manifest names is read by [`read_file`]: only if it is a regular file (a fifo
//! would hang the read, `/dev/zero` would never end it), and only up to a cap.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most bytes a Procfile may have: Heroku's are a few lines.
pub const MAX_PROCFILE_BYTES: u64 = 1 << 20;

/// The most bytes slug.toml (or slug.lock) may have.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// Why a path does not resolve inside the project. Displays as the end of a sentence naming
/// the value ("procfile `/etc/passwd` is absolute").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectPathError {
    /// It starts with `/`.
    #[error("is absolute: paths in slug.toml are relative and stay inside the project")]
    Absolute,
    /// Its `..` components climb above the project's directory.
    #[error("climbs out of the project with `..`")]
    ClimbsOut,
    /// A symlink on the way leads out of the project.
    #[error("leads out of the project through a symlink")]
    SymlinkOut {
        /// Where it resolves to.
        target: PathBuf,
    },
}

impl ProjectPathError {
    /// A short label for the span of the value: for a symlink, where it leads.
    pub fn label(&self) -> String {
        match self {
            ProjectPathError::SymlinkOut { target } => {
                format!("a symlink leads to {}", target.display())
            }
            _ => "must stay inside the project".to_owned(),
        }
    }
}

/// `path` (relative to `project`, as the manifest writes it joined to what it is relative to)
/// if it resolves inside `project`: `project` joined with `path` normalised (no `.`, no `..`).
/// Parts of it that do not exist yet are checked lexically; whatever exists of it is checked
/// as the kernel resolves it.
pub fn inside_project(project: &Path, path: &Path) -> Result<PathBuf, ProjectPathError> {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => return Err(ProjectPathError::Absolute),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    return Err(ProjectPathError::ClimbsOut);
                }
            }
            Component::Normal(part) => normal.push(part),
        }
    }
    let resolved = join(project, &normal);
    let root = canonical(project);
    // The deepest part that exists, as the kernel resolves it (dangling links and loops fail
    // to resolve: their parent is checked, and reading them fails on its own).
    if let Some(target) = resolved
        .ancestors()
        .find_map(|part| std::fs::canonicalize(part).ok())
        && !target.starts_with(&root)
    {
        return Err(ProjectPathError::SymlinkOut { target });
    }
    Ok(resolved)
}

/// `project` joined with `rel`, without a `./` in the middle (`./web`, not `././web`).
fn join(project: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        return project.to_owned();
    }
    if project == Path::new(".") {
        return Path::new(".").join(rel);
    }
    project.join(rel)
}

/// `path` as the kernel resolves it, whether or not it exists yet: its deepest existing
/// ancestor canonical (symlinks resolved), the rest appended as written. Two spellings of one
/// place compare equal, also before it is created.
pub fn canonical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    loop {
        if let Ok(found) = base.canonicalize() {
            return rest.iter().rev().fold(found, |dir, part| dir.join(part));
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                base = parent;
            }
            _ => return absolute,
        }
    }
}

/// Why a file the manifest names could not be read. Displays as the end of a sentence naming
/// the file ("Procfile web/Procfile is a fifo, not a regular file"), except an I/O error, which
/// displays as itself (see [`ReadError::describe`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It does not resolve inside the project.
    #[error(transparent)]
    Outside(#[from] ProjectPathError),
    /// It is not a regular file.
    #[error("is {0}, not a regular file")]
    NotAFile(&'static str),
    /// It has more bytes than the cap.
    #[error("is larger than {}, the most slugplan reads of it", crate::human::size(*cap))]
    TooLarge {
        /// The cap, in bytes.
        cap: u64,
    },
    /// It is not UTF-8 text.
    #[error("is not UTF-8 text")]
    NotUtf8,
    /// It could not be opened or read.
    #[error(transparent)]
    Io(std::io::Error),
}

impl ReadError {
    /// Whether the file is simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(err) if err.kind() == std::io::ErrorKind::NotFound)
    }

    /// "`what` `path` is a fifo, not a regular file" or "cannot read `what` `path`: …", a
    /// sentence for a message.
    pub fn describe(&self, what: &str, path: &Path) -> String {
        let path = super::display_path(path);
        match self {
            ReadError::Io(err) => format!("cannot read {what} {}: {err}", super::shown(&path)),
            why => format!("{what} {} {why}", super::shown(&path)),
        }
    }

    /// A short label for the span naming the file.
    pub fn label(&self) -> String {
        match self {
            ReadError::Outside(outside) => outside.label(),
            ReadError::NotAFile(_) => "not a regular file".to_owned(),
            ReadError::TooLarge { .. } => "too large".to_owned(),
            ReadError::NotUtf8 => "not UTF-8".to_owned(),
            ReadError::Io(_) if self.is_not_found() => "no such file".to_owned(),
            ReadError::Io(_) => "cannot read it".to_owned(),
        }
    }
}

/// Reads the file at `path` as text: only a regular file (checked before opening it, so a fifo
/// is never opened, and again on the open file), at most `cap` bytes.
pub fn read_file(path: &Path, cap: u64) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(crate::file_kind::describe(
            &meta.file_type(),
        )));
    }
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    // Replaced between the two checks: still refused.
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(crate::file_kind::describe(
            &meta.file_type(),
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_that_stay_inside_are_normalised() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        std::fs::create_dir_all(project.join("web")).unwrap();
        for (value, expected) in [
            ("web/Procfile", "web/Procfile"),
            ("./web/./Procfile", "web/Procfile"),
            ("web/../shared/x", "shared/x"),
            (".", ""),
        ] {
            let got = inside_project(project, Path::new(value)).unwrap();
            assert_eq!(got, project.join(expected), "{value}");
        }
        let here = inside_project(Path::new("."), Path::new("./././web")).unwrap();
        assert_eq!(here.display().to_string(), "./web");
    }

    #[test]
    fn absolute_climbing_and_symlinked_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join("web")).unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), project.join("web/Procfile"))
            .unwrap();
        std::os::unix::fs::symlink("..", project.join("up")).unwrap();
        let check = |value: &str| inside_project(&project, Path::new(value));
        assert_eq!(check("/proc/self/environ"), Err(ProjectPathError::Absolute));
        assert_eq!(check("../secret"), Err(ProjectPathError::ClimbsOut));
        assert_eq!(check("web/../../secret"), Err(ProjectPathError::ClimbsOut));
        let outside = ProjectPathError::SymlinkOut {
            target: dir.path().canonicalize().unwrap().join("secret"),
        };
        assert_eq!(check("web/Procfile"), Err(outside.clone()));
        assert_eq!(check("up/secret"), Err(outside));
        // Not there yet: its existing parent is what is checked.
        assert!(check("up/new/file").is_err());
        assert!(check("web/new/file").is_ok());
    }

    #[test]
    fn only_regular_files_are_read_and_only_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Procfile");
        std::fs::write(&file, "web: x\n").unwrap();
        assert_eq!(read_file(&file, 7).unwrap(), "web: x\n");
        assert!(matches!(
            read_file(&file, 6),
            Err(ReadError::TooLarge { cap: 6 })
        ));
        assert!(matches!(
            read_file(Path::new("/dev/zero"), 1 << 20),
            Err(ReadError::NotAFile("a device"))
        ));
        assert!(matches!(
            read_file(dir.path(), 1 << 20),
            Err(ReadError::NotAFile("a directory"))
        ));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Never opened: opening a fifo without a writer would block forever.
        assert!(matches!(
            read_file(&fifo, 1 << 20),
            Err(ReadError::NotAFile("a fifo"))
        ));
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_file(&file, 10), Err(ReadError::NotUtf8)));
        assert!(
            read_file(&dir.path().join("nope"), 10)
                .unwrap_err()
                .is_not_found()
        );
    }
}
