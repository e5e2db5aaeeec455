//! `slugplan init`: a first slug.toml for the project in a directory, from what is there.
//!
//! [`detect`] finds the Procfile, the languages and their versions; [`draft`] writes them as a
//! commented manifest; [`init`] puts it on disk beside `.slugplan/` in `.gitignore`, and checks
//! it loads as `slugplan validate` would.
//!
//! Guarantees: an existing slug.toml is never touched (the manifest is created with
//! `create_new`, so even a file that appears meanwhile is not overwritten); `.gitignore` is
//! created, or appended to once, never rewritten; nothing is fetched.

pub mod detect;
pub mod draft;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::manifest::{self, ManifestError, names};

/// Errors of `slugplan init`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InitError {
    /// The manifest exists already.
    #[error("{} exists already; slugplan init never overwrites it", path.display())]
    #[diagnostic(
        code(slugplan::init::exists),
        help(
            "edit it (`slugplan validate` checks it), or write another with `slugplan -f PATH init`"
        )
    )]
    Exists {
        /// The manifest.
        path: PathBuf,
    },
    /// A file of the project could not be read or written.
    #[error("cannot access {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// package.json is not JSON.
    #[error("{} is not valid JSON", path.display())]
    #[diagnostic(code(slugplan::init::package_json))]
    PackageJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// `engines.node` gives no version to start from.
    #[error("{}'s engines.node (`{range}`) names no lowest Node.js version", path.display())]
    #[diagnostic(
        code(slugplan::init::node_range),
        help("set engines.node to the version you test with, e.g. \"20.11.0\" or \"^20.11\"")
    )]
    NodeRange {
        /// package.json.
        path: PathBuf,
        /// The range.
        range: String,
    },
    /// A Ruby version that is not `X.Y.Z`.
    #[error("{} names Ruby `{version}`, not a version such as 3.3.6", path.display())]
    #[diagnostic(
        code(slugplan::init::ruby_version),
        help("Heroku builds Ruby by full version: write e.g. 3.3.6")
    )]
    RubyVersion {
        /// The file naming it.
        path: PathBuf,
        /// What it says.
        version: String,
    },
    /// The Procfile does not parse.
    #[error("{} is not a valid Procfile", path.display())]
    #[diagnostic(
        code(slugplan::init::procfile),
        help("each line is `name: command`; fix it and run `slugplan init` again")
    )]
    Procfile {
        /// The file.
        path: PathBuf,
    },
    /// go.mod declares no module.
    #[error("{} has no `module` line", path.display())]
    #[diagnostic(code(slugplan::init::go_mod))]
    GoMod {
        /// The file.
        path: PathBuf,
    },
    /// The app name given is not one Heroku accepts.
    #[error("`{name}` is not a valid app name")]
    #[diagnostic(
        code(slugplan::init::app_name),
        help("app names are 3 to 30 of a-z, 0-9 and -, starting with a letter: pass --app NAME")
    )]
    AppName {
        /// The name.
        name: String,
    },
    /// The manifest written does not load (a bug of init, reported as any manifest error).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] ManifestError),
}

/// What `slugplan init` is asked to do.
#[derive(Debug, Clone)]
pub struct InitRequest<'a> {
    /// The manifest to write; the project is its directory.
    pub manifest: &'a Path,
    /// The app's name (None: from the directory's name).
    pub app: Option<&'a str>,
    /// The stack to build for.
    pub stack: &'a str,
}

/// What `slugplan init` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Initialized {
    /// The manifest written.
    pub manifest: PathBuf,
    /// The app it declares.
    pub app: String,
    /// What was found.
    pub found: detect::Found,
    /// The runtimes declared.
    pub runtimes: Vec<&'static str>,
    /// Whether `.slugplan/` was added to `.gitignore` (false: it was there already).
    pub gitignore_updated: bool,
    /// The `.gitignore` file.
    pub gitignore: PathBuf,
}

/// Detects the project in `request.manifest`'s directory, writes the manifest (never over an
/// existing file), adds `.slugplan/` to `.gitignore`, and loads the manifest as `validate`
/// does.
pub fn init(request: &InitRequest<'_>) -> Result<Initialized, InitError> {
    let path = request.manifest;
    if path.exists() {
        return Err(InitError::Exists {
            path: path.to_owned(),
        });
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let app = match request.app {
        Some(name) if names::is_app_name(name) => name.to_owned(),
        Some(name) => {
            return Err(InitError::AppName {
                name: name.to_owned(),
            });
        }
        None => app_name(&dir),
    };
    let found = detect::detect(&dir)?;
    let draft = draft::Draft {
        found: &found,
        app: &app,
        stack: request.stack,
    };
    let text = draft.render();
    let runtimes = draft.runtimes();
    write_new(path, &text)?;
    let gitignore = path.with_file_name(".gitignore");
    let gitignore_updated = ignore_state_dir(&gitignore)?;
    manifest::load(path)?;
    Ok(Initialized {
        manifest: path.to_owned(),
        app,
        found,
        runtimes,
        gitignore_updated,
        gitignore,
    })
}

/// Creates `path` with `text`; an existing file (even one made since the check) is an error.
fn write_new(path: &Path, text: &str) -> Result<(), InitError> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(InitError::Exists {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(InitError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    file.write_all(text.as_bytes())
        .map_err(|source| InitError::Read {
            path: path.to_owned(),
            source,
        })
}

/// The line `.gitignore` gets: slugplan's state and the local platform, beside the manifest.
const IGNORED: &str = ".slugplan/";

/// Adds [`IGNORED`] to `path` (creating it) unless a line ignores it already; returns whether
/// it was added.
fn ignore_state_dir(path: &Path) -> Result<bool, InitError> {
    let io = |source| InitError::Read {
        path: path.to_owned(),
        source,
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(io(source)),
    };
    let ignored = existing.lines().any(|line| {
        matches!(
            line.trim(),
            ".slugplan" | ".slugplan/" | "/.slugplan" | "/.slugplan/" | ".slugplan/*"
        )
    });
    if ignored {
        return Ok(false);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let separator = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    write!(
        file,
        "{separator}# slugplan's state and the local platform (`slugplan init`)\n{IGNORED}\n"
    )
    .map_err(io)?;
    Ok(true)
}

/// A Heroku app name made from the directory's name: lowercase, runs of other characters as
/// one `-`, a letter first, at most 30 characters; `app` when nothing is left.
fn app_name(dir: &Path) -> String {
    let name = std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out
        .trim_start_matches(|c: char| !c.is_ascii_lowercase())
        .to_owned();
    out.truncate(30);
    let out = out.trim_end_matches('-').to_owned();
    if names::is_app_name(&out) {
        out
    } else if names::is_app_name(&format!("{out}-app")) {
        format!("{out}-app")
    } else {
        "app".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_come_from_the_directory() {
        let name = |dir: &str| app_name(Path::new(dir));
        assert_eq!(name("/src/My Shop"), "my-shop");
        assert_eq!(name("/src/2048_game"), "game");
        assert_eq!(name("/src/x"), "x-app");
        assert_eq!(name("/src/___"), "app");
        assert_eq!(name(&format!("/src/{}", "a".repeat(40))).len(), 30);
    }

    #[test]
    fn gitignore_gets_the_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".gitignore");
        std::fs::write(&path, "node_modules").unwrap();
        assert!(ignore_state_dir(&path).unwrap());
        assert!(!ignore_state_dir(&path).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(IGNORED).count(), 1, "{text}");
        assert!(text.starts_with("node_modules\n# "), "{text}");
    }
}
