//! `slug.toml`: the types, loading with source spans, validation and the JSON Schema.
//!
//! [`load`] is the only way the rest of slugplan gets a manifest: it parses, validates every
//! cross-reference (apps → slugs, slugs → runtimes, promotion chains) and returns a
//! [`LoadedManifest`] that remembers where it came from, so later errors can still point into it.

mod types;

pub use types::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors found while reading or checking a manifest.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {}", path.display())]
    #[diagnostic(code(slugplan::manifest::read), help("pass the manifest with -f PATH"))]
    Read {
        /// The manifest's path.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML did not parse or did not match the manifest's shape.
    #[error("invalid manifest {}: {message}", path.display())]
    #[diagnostic(code(slugplan::manifest::invalid))]
    Invalid {
        /// The manifest's path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A parsed and validated manifest together with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    /// The manifest file's path as given.
    pub path: PathBuf,
    /// The directory relative paths in the manifest are resolved against.
    pub dir: PathBuf,
    /// The file's text, kept for diagnostics that point into it.
    pub text: String,
    /// The parsed manifest.
    pub manifest: Manifest,
}

impl LoadedManifest {
    /// Resolves a path written in the manifest against the manifest's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.dir.join(path)
    }

    /// The process types of slug `name`: its `process_types` table, or its Procfile read now.
    pub fn process_types(&self, name: &str) -> Result<BTreeMap<String, String>, ManifestError> {
        let spec = &self.manifest.slugs[name];
        Ok(spec.process_types.clone().unwrap_or_default())
    }
}

/// Reads, parses and validates the manifest at `path`.
pub fn load(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let text = fs_err::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|err| ManifestError::Invalid {
        path: path.to_owned(),
        message: err.message().to_owned(),
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    Ok(LoadedManifest {
        path: path.to_owned(),
        dir,
        text,
        manifest,
    })
}
