//! `slug.lock`: the pinned SHA-256 of every runtime archive, committed beside `slug.toml`.
//!
//! Like `Cargo.lock` or `.terraform.lock.hcl`, the lock file lets a manifest name a runtime by
//! URL alone while every build still verifies the exact bytes. `slugplan lock` writes it; the
//! format is TOML, sorted by runtime name, so the same lock always has the same bytes:
//!
//! ```toml
//! # This file is written by `slugplan lock`. Commit it; do not edit it by hand.
//! version = 1
//!
//! [runtimes.node]
//! url = "https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.gz"
//! sha256 = "…64 hex digits…"
//! ```
//!
//! An entry is only trusted for the URL it was made for: when the manifest's URL changes, the
//! entry is reported as stale (never silently replaced) until `slugplan lock` runs again. Every
//! hash in the file is one `slugplan lock` computed from the bytes it read: it reads each
//! runtime every time, and a pin in slug.toml that the bytes do not have is refused, not
//! copied ([`update_lockfile`]).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::{LoadedManifest, ReadError, project_path};

/// The lock file's name, beside the manifest.
pub const LOCK_FILE: &str = "slug.lock";

/// The format version written into every lock file.
pub const LOCK_VERSION: u32 = 1;

const HEADER: &str =
    "# This file is written by `slugplan lock`. Commit it; do not edit it by hand.\n";

/// Errors reading or writing `slug.lock`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    /// The file could not be read or written.
    #[error("cannot access {}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid lock file.
    #[error("invalid lock file {}: {message}", path.display())]
    #[diagnostic(help("delete it and run `slugplan lock` to write it again"))]
    Invalid {
        /// The lock file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
}

/// The contents of `slug.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// The format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// Pinned runtimes by name.
    #[serde(default)]
    pub runtimes: BTreeMap<String, LockedRuntime>,
}

/// One runtime's pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRuntime {
    /// The URL the hash was computed for, exactly as the manifest spells it.
    pub url: String,
    /// The archive's SHA-256 (lowercase hex).
    pub sha256: String,
}

impl Lockfile {
    /// The lock file's path for `loaded`.
    pub fn path_for(loaded: &LoadedManifest) -> PathBuf {
        loaded.dir.join(LOCK_FILE)
    }

    /// Reads the lock file beside `loaded`; a missing file is an empty lock.
    pub fn load(loaded: &LoadedManifest) -> Result<Self, LockError> {
        Self::read(&Self::path_for(loaded))
    }

    /// Reads the lock file at `path`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        // Read as the manifest is: only a regular file, up to a cap (a fifo would hang).
        let text = match project_path::read_file(path, project_path::MAX_MANIFEST_BYTES) {
            Ok(text) => text,
            Err(err) if err.is_not_found() => {
                return Ok(Lockfile {
                    version: LOCK_VERSION,
                    runtimes: BTreeMap::new(),
                });
            }
            Err(ReadError::Io(source)) => {
                return Err(LockError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
            Err(why) => {
                return Err(LockError::Invalid {
                    path: path.to_owned(),
                    message: format!("it {why}"),
                });
            }
        };
        // Located by line and column, not by a snippet: the file may hold URLs with credentials.
        let lock: Lockfile = toml::from_str(&text).map_err(|err| {
            let at = err.span().map_or(0, |span| span.start);
            let line = text[..at].matches('\n').count() + 1;
            let column = at - text[..at].rfind('\n').map_or(0, |nl| nl + 1) + 1;
            LockError::Invalid {
                path: path.to_owned(),
                message: format!("line {line}, column {column}: {}", err.message()),
            }
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "version {} (this slugplan writes version {LOCK_VERSION})",
                    lock.version
                ),
            });
        }
        Ok(lock)
    }

    /// The file's exact text: a header comment, then sorted TOML.
    pub fn render(&self) -> String {
        let body = toml::to_string(self).expect("lock file serialises");
        format!("{HEADER}{body}")
    }

    /// Writes the lock file to `path` (temp file + rename, so a reader never sees half of it),
    /// readable by everyone (0644).
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let io = |source| LockError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{LOCK_FILE}-"))
            .tempfile_in(dir)
            .map_err(io)?;
        std::io::Write::write_all(&mut temp, self.render().as_bytes()).map_err(io)?;
        // The temp file is private (0600); the lock file is committed and read by everyone
        // who checks the project out, as `git` would write it.
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
        temp.persist(path).map_err(|err| io(err.error))?;
        Ok(())
    }
}

/// What `slugplan lock` did to one runtime's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum LockChange {
    /// A new entry.
    Added {
        /// The runtime.
        name: String,
        /// Its hash.
        sha256: String,
    },
    /// A stale entry rewritten because the manifest's URL changed.
    Updated {
        /// The runtime.
        name: String,
        /// The URL the old entry was for (redacted).
        old_url: String,
        /// The new hash.
        sha256: String,
    },
    /// An entry for the same URL whose archive now has other bytes (changed upstream, or the
    /// entry was edited by hand): pinned again to what the URL serves now.
    Changed {
        /// The runtime.
        name: String,
        /// The hash the old entry pinned.
        old_sha256: String,
        /// The hash of the bytes read now.
        sha256: String,
    },
    /// An entry dropped because the manifest no longer fetches that runtime.
    Removed {
        /// The runtime.
        name: String,
    },
    /// An entry kept as it was: same URL, same bytes.
    Unchanged {
        /// The runtime.
        name: String,
    },
}

/// Brings `slug.lock` in line with the manifest. Every URL runtime is read (downloaded, or a
/// `file:` archive opened) and pinned to the SHA-256 of the bytes read, never to a hash that
/// was not computed from them: a `sha256` in slug.toml that differs from those bytes is an
/// error naming both ([`RuntimeError::ChecksumMismatch`]), and nothing is written. Entries for
/// runtimes that are gone are dropped. The archives read go into the cache, so the fetch that
/// follows does not read them again. Writes the file (mode 0644: it is committed) only when
/// its bytes change. Returns what changed, by name.
///
/// [`RuntimeError::ChecksumMismatch`]: super::RuntimeError::ChecksumMismatch
pub async fn update_lockfile(
    loaded: &LoadedManifest,
    cache: &crate::cache::Cache,
    options: &super::FetchOptions,
    reporter: &dyn super::FetchReporter,
) -> Result<Vec<LockChange>, super::RuntimeError> {
    let path = Lockfile::path_for(loaded);
    let old = Lockfile::read(&path)?;
    let urls = loaded
        .manifest
        .runtimes
        .iter()
        .filter_map(|(name, spec)| Some((name, spec.url.as_ref()?)));
    // Read every runtime, in parallel, before deciding anything.
    let read = futures_util::future::try_join_all(urls.map(|(name, url)| async move {
        let absolute = super::absolute_url(loaded, url);
        let sha = super::hash_url(name, &absolute, cache, options, reporter)
            .await
            .map_err(|err| err.located(loaded))?;
        Ok::<_, super::RuntimeError>((name, url, sha))
    }))
    .await?;
    let mut new = Lockfile {
        version: LOCK_VERSION,
        runtimes: BTreeMap::new(),
    };
    let mut changes = Vec::new();
    for (name, url, sha256) in read {
        if let Some(pinned) = &loaded.manifest.runtimes[name].sha256
            && *pinned != sha256
        {
            return Err(super::checksum_mismatch(loaded, name, url, pinned, &sha256));
        }
        let name = name.clone();
        changes.push(match old.runtimes.get(&name) {
            None => LockChange::Added {
                name: name.clone(),
                sha256: sha256.clone(),
            },
            Some(entry) if entry.url != *url => LockChange::Updated {
                name: name.clone(),
                old_url: super::redact_url(&entry.url),
                sha256: sha256.clone(),
            },
            Some(entry) if entry.sha256 != sha256 => LockChange::Changed {
                name: name.clone(),
                old_sha256: entry.sha256.clone(),
                sha256: sha256.clone(),
            },
            Some(_) => LockChange::Unchanged { name: name.clone() },
        });
        new.runtimes.insert(
            name,
            LockedRuntime {
                url: url.clone(),
                sha256,
            },
        );
    }
    for name in old.runtimes.keys() {
        if !new.runtimes.contains_key(name) {
            changes.push(LockChange::Removed { name: name.clone() });
        }
    }
    let current = std::fs::read_to_string(&path).ok();
    if current.as_deref() != Some(new.render().as_str()) {
        new.write(&path)?;
    }
    Ok(changes)
}
