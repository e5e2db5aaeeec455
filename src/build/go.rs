//! Go builds: reproducible cross-compiles for linux/amd64, cached by an input key.

use std::path::PathBuf;

use crate::cache::Cache;
use crate::manifest::{GoBuild, LoadedManifest};

/// Errors from a Go build.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GoError {
    /// Go builds are not built yet.
    #[error("slug `{slug}`: Go builds are not supported yet")]
    Unsupported {
        /// The slug's name.
        slug: String,
    },
}

/// Builds slug `slug`'s Go program and returns the path of the binary.
pub fn build(
    _loaded: &LoadedManifest,
    slug: &str,
    _spec: &GoBuild,
    _cache: &Cache,
) -> Result<PathBuf, GoError> {
    Err(GoError::Unsupported {
        slug: slug.to_owned(),
    })
}
