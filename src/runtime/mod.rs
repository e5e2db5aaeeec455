//! Runtimes: the trees (Node.js, Ruby, …) a slug contains, fetched, verified and unpacked into
//! the cache, or taken from a local directory.

use std::path::PathBuf;

use crate::cache::Cache;
use crate::manifest::LoadedManifest;

/// Errors while making a runtime's tree available.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RuntimeError {
    /// The runtime's local directory does not exist.
    #[error("runtime `{name}`: directory {} does not exist", path.display())]
    MissingDirectory {
        /// The runtime's name.
        name: String,
        /// The directory.
        path: PathBuf,
    },
    /// Fetching archives is not built yet.
    #[error("runtime `{name}`: fetching {url} is not supported yet")]
    FetchUnsupported {
        /// The runtime's name.
        name: String,
        /// Its URL.
        url: String,
    },
}

/// A runtime's unpacked tree and where it goes inside `./app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeTree {
    /// The runtime's name in the manifest.
    pub name: String,
    /// The directory holding the tree's files.
    pub root: PathBuf,
    /// Path inside `./app` (no leading or trailing `/`; empty for the root of `./app`).
    pub dest: String,
}

/// Makes runtime `name` of the manifest available as a directory tree.
pub fn materialize(
    loaded: &LoadedManifest,
    name: &str,
    _cache: &Cache,
) -> Result<RuntimeTree, RuntimeError> {
    let spec = &loaded.manifest.runtimes[name];
    let dest = spec.dest.clone().unwrap_or_default();
    if let Some(path) = &spec.path {
        let root = loaded.resolve(path);
        if !root.is_dir() {
            return Err(RuntimeError::MissingDirectory {
                name: name.to_owned(),
                path: root,
            });
        }
        return Ok(RuntimeTree {
            name: name.to_owned(),
            root,
            dest,
        });
    }
    Err(RuntimeError::FetchUnsupported {
        name: name.to_owned(),
        url: spec.url.clone().unwrap_or_default(),
    })
}
