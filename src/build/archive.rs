//! What building or finding a slug gives: the archive in the cache and what the plan needs to
//! know about it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{BuildError, key};
use crate::checksum::Checksum;
use crate::manifest::LoadedManifest;
use crate::slug::{Component, PackedComponent};

/// A slug archive in the cache: what both building and finding a slug give.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlugArchive {
    /// The slug's name in the manifest.
    pub name: String,
    /// The archive: `<cache>/slugs-v1/<sha256>.tgz`.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its checksum.
    pub checksum: Checksum,
    /// The stack it is built for.
    pub stack: String,
    /// Its process types.
    pub process_types: BTreeMap<String, String>,
    /// Its input key.
    pub key: key::SlugKey,
}

/// The manifest's side of a slug archive: its stack and process types. Read before packing,
/// so that a malformed Procfile fails a build before anything is compressed.
pub(super) struct ManifestFacts {
    stack: String,
    process_types: BTreeMap<String, String>,
}

impl ManifestFacts {
    /// What the manifest says of slug `slug` now.
    pub(super) fn read(loaded: &LoadedManifest, slug: &str) -> Result<Self, BuildError> {
        let stack = loaded.slug(slug)?.stack.clone();
        let process_types = loaded
            .process_types(slug)
            .map_err(|source| BuildError::Manifest {
                slug: slug.to_owned(),
                source,
            })?;
        Ok(ManifestFacts {
            stack,
            process_types,
        })
    }

    /// The stack the slug is built for.
    pub(super) fn stack(&self) -> &str {
        &self.stack
    }

    /// Checks that each process type's command finds its program in `components`, the slug's
    /// ([`super::commands`]).
    pub(super) fn check_commands(
        &self,
        loaded: &LoadedManifest,
        slug: &str,
        components: &[Component],
    ) -> Result<(), BuildError> {
        super::commands::check(loaded, slug, &self.process_types, components)
    }

    /// The archive at `path` (`size` bytes) with `checksum`, built from `key` as slug `slug`.
    pub(super) fn archive(
        self,
        slug: &str,
        path: PathBuf,
        size: u64,
        checksum: Checksum,
        key: key::SlugKey,
    ) -> SlugArchive {
        SlugArchive {
            name: slug.to_owned(),
            path,
            size,
            checksum,
            stack: self.stack,
            process_types: self.process_types,
            key,
        }
    }
}

/// A slug just packed into the cache, with where its components' chunks are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuiltSlug {
    /// The archive.
    #[serde(flatten)]
    pub archive: SlugArchive,
    /// Where each component's compressed chunks are in the archive.
    pub components: Vec<PackedComponent>,
    /// The components whose compressed chunks came from the chunk cache.
    pub reused: Vec<String>,
}

/// A slug in the cache, packed now or found by its input key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CachedSlug {
    /// The archive.
    #[serde(flatten)]
    pub archive: SlugArchive,
    /// Whether it was packed now (false: the key was in the slug index).
    pub built_now: bool,
}
