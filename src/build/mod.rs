//! Building a slug: gather its components (runtime trees, a Go binary, the app's own files) and
//! write them as one archive through [`crate::slug`].
//!
//! [`build_slug`] is synchronous and CPU-bound (it compresses on its own threads); async callers
//! run it with `spawn_blocking`. [`slug_components`] is the first half on its own, for callers
//! that want to hash components or reuse some of their compressed chunks before packing.
//!
//! Builds are incremental: [`key`] computes each component's input key, [`chunks`] caches each
//! component's compressed chunks under it, and [`incremental`] splices the cached chunks of
//! unchanged components, compressing only the rest. The bytes are those of a from-scratch
//! build. [`ensure_slug`] (plan and apply) goes one step further and skips packing when the
//! whole slug's key is in the slug index.

mod checks;
pub mod chunks;
pub mod go;
pub mod incremental;
pub mod key;
pub mod listing;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::manifest::{LoadedManifest, ManifestError};
use crate::runtime::RuntimeError;
use crate::slug::select::{Selection, app_entries};
use crate::slug::tree::walk;
use crate::slug::{
    Component, Entry, EntryKind, PackOptions, PackReporter, PackedComponent, Part, SlugError,
};

/// Errors while building a slug.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    /// The manifest has no slug of that name.
    #[error("no slug `{name}` in the manifest")]
    #[diagnostic(
        code(slugplan::build::unknown_slug),
        help("the manifest's slugs are: {known}")
    )]
    UnknownSlug {
        /// The name asked for.
        name: String,
        /// The names the manifest has, comma-separated.
        known: String,
    },
    /// The manifest could not give what the build needs (e.g. a malformed Procfile).
    #[error("slug `{slug}`: manifest error")]
    Manifest {
        /// The slug.
        slug: String,
        /// The underlying error.
        #[source]
        #[diagnostic_source]
        source: ManifestError,
    },
    /// A binary in the slug cannot run on the slug's stack.
    #[error("slug `{slug}` cannot be built for its stack")]
    Stack {
        /// The slug.
        slug: String,
        /// What is wrong, naming the file.
        #[source]
        #[diagnostic_source]
        source: crate::stack::StackError,
    },
    /// A runtime could not be made available (the runtime's error names it).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runtime(Box<RuntimeError>),
    /// The Go build failed.
    #[error("slug `{slug}`: Go build failed")]
    Go {
        /// The slug.
        slug: String,
        /// The underlying error.
        #[source]
        #[diagnostic_source]
        source: go::GoError,
    },
    /// A runtime `dest` or Go `output` is not a plain relative path inside `./app`.
    #[error("slug `{slug}`: `{value}` is not a path inside ./app")]
    #[diagnostic(
        code(slugplan::build::bad_path),
        help("use a relative path without `..`, e.g. `bin/web` or `vendor/ruby`")
    )]
    BadPath {
        /// The slug.
        slug: String,
        /// The offending value.
        value: String,
    },
    /// Reading the slug's files or writing the archive failed.
    #[error("slug `{slug}` could not be packed")]
    Slug {
        /// The slug.
        slug: String,
        /// The underlying error.
        #[source]
        source: Box<SlugError>,
        /// The underlying error's hint, shown as this error's.
        #[help]
        help: Option<String>,
    },
}

impl BuildError {
    fn slug(slug: &str, source: SlugError) -> Self {
        use miette::Diagnostic;
        BuildError::Slug {
            slug: slug.to_owned(),
            help: source.help().map(|h| h.to_string()),
            source: Box::new(source),
        }
    }
}

/// How to build.
#[derive(Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// Compression threads; 0 means one per core.
    pub threads: usize,
    /// Who hears about packing progress.
    pub reporter: Option<&'a dyn PackReporter>,
}

/// A slug archive in the cache: what both building and finding a slug give.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlugArchive {
    /// The slug's name in the manifest.
    pub name: String,
    /// The archive: `<cache>/slugs-v1/<sha256>.tgz`.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// The stack it is built for.
    pub stack: String,
    /// Its process types.
    pub process_types: BTreeMap<String, String>,
    /// Its input key.
    pub key: key::SlugKey,
}

impl SlugArchive {
    /// The checksum as the platform reports it: `SHA256:<lowercase hex>`.
    pub fn checksum(&self) -> String {
        crate::slug::checksum(&self.sha256)
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

impl std::ops::Deref for BuiltSlug {
    type Target = SlugArchive;
    fn deref(&self) -> &SlugArchive {
        &self.archive
    }
}

/// Builds slug `slug` of the manifest into `cache`, always writing the archive (but reusing
/// the cached chunks of unchanged components). Components whose key is not known without
/// reading them are hashed while they are compressed, so a cold build reads each file once.
pub fn build_slug(
    loaded: &LoadedManifest,
    slug: &str,
    cache: &Cache,
    options: &BuildOptions<'_>,
) -> Result<BuiltSlug, BuildError> {
    let components = slug_components(loaded, slug, cache)?;
    let chunks = chunks::ChunkStore::open(cache)
        .map_err(|source| BuildError::slug(slug, SlugError::from(source)))?;
    let keys = components
        .iter()
        .map(|c| {
            let known = key::known_key(loaded, c, cache);
            // Same names and sizes as a component whose chunks are cached: most likely only
            // touched or copied, so hash it first, hoping to splice instead of compress.
            // Otherwise it changed: compress it, hashing it in the same pass.
            let likely_cached = matches!(&known, key::KnownKey::Unknown(Some(memo))
                if memo.hint.as_ref().is_some_and(|hint| chunks.contains(hint, &c.name)));
            if likely_cached {
                known.resolve(c, cache).map(key::KnownKey::Known)
            } else {
                Ok(known)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|source| BuildError::slug(slug, source))?;
    pack_slug(loaded, slug, &components, keys, None, cache, options)
}

/// Packs `components` (from [`slug_components`], with what is known of their keys, and the
/// slug's key when already computed) as slug `slug` into `cache`: components whose chunks are
/// cached under their key are spliced, the others compressed (see [`incremental`]); keys
/// computed while packing are memoised.
pub fn pack_slug(
    loaded: &LoadedManifest,
    slug: &str,
    components: &[Component],
    keys: Vec<key::KnownKey>,
    slug_key: Option<key::SlugKey>,
    cache: &Cache,
    options: &BuildOptions<'_>,
) -> Result<BuiltSlug, BuildError> {
    let spec = spec(loaded, slug)?;
    let process_types = loaded
        .process_types(slug)
        .map_err(|source| BuildError::Manifest {
            slug: slug.to_owned(),
            source,
        })?;
    let pack_options = PackOptions {
        threads: options.threads,
        reporter: options.reporter,
        hash_fresh: false,
    };
    let (known, memos): (Vec<_>, Vec<_>) = keys
        .into_iter()
        .map(|k| match k {
            key::KnownKey::Known(key) => (Some(key), None),
            key::KnownKey::Unknown(memo) => (None, memo),
        })
        .unzip();
    checks::check_stack(slug, &spec.stack, components, &known, cache)?;
    let slug_err = |source| BuildError::slug(slug, source);
    let incremental::Assembled { file, reused, keys } =
        incremental::assemble(components, &known, cache, pack_options).map_err(slug_err)?;
    for (i, (memo, key)) in memos.iter().zip(&keys).enumerate() {
        if let Some(memo) = memo {
            memo.record(cache, key);
        }
        // Checked above, before its key was known.
        if known[i].is_none() && checks::checks_stack(&components[i]) {
            checks::record_stack_check(cache, key, &spec.stack);
        }
    }
    let key = match slug_key {
        Some(key) => key,
        None => key::compose(components, &keys, None).map_err(slug_err)?,
    };
    Ok(BuiltSlug {
        archive: SlugArchive {
            name: slug.to_owned(),
            path: file.path,
            size: file.packed.size,
            sha256: file.packed.sha256,
            stack: spec.stack.clone(),
            process_types,
            key,
        },
        components: file.packed.components,
        reused,
    })
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

impl std::ops::Deref for CachedSlug {
    type Target = SlugArchive;
    fn deref(&self) -> &SlugArchive {
        &self.archive
    }
}

/// Makes slug `slug` available in the cache: computes its input key (which makes runtimes
/// available and runs the Go build, itself cached) and packs it only when the slug index has
/// no archive for that key.
pub fn ensure_slug(
    loaded: &LoadedManifest,
    slug: &str,
    cache: &Cache,
    options: &BuildOptions<'_>,
) -> Result<CachedSlug, BuildError> {
    let components = slug_components(loaded, slug, cache)?;
    let key = key::slug_key(loaded, &components, cache)
        .map_err(|source| BuildError::slug(slug, source))?;
    let cache_err = |err: crate::cache::CacheError| BuildError::slug(slug, SlugError::from(err));
    let index = key::SlugIndex::open(cache).map_err(cache_err)?;
    if let Some(found) = indexed(loaded, slug, &index, &key)? {
        return Ok(found);
    }
    let keys = components
        .iter()
        .map(|c| key::KnownKey::Known(key.parts[&c.name].clone()))
        .collect();
    let built = pack_slug(loaded, slug, &components, keys, Some(key), cache, options)?;
    index
        .put(
            &built.key.key,
            &key::IndexEntry {
                sha256: built.sha256.clone(),
                size: built.size,
            },
        )
        .map_err(cache_err)?;
    Ok(CachedSlug {
        archive: built.archive,
        built_now: true,
    })
}

/// Finds slug `slug` in the cache without fetching, compiling or packing anything: None when
/// a runtime is not fetched, the slug has a Go build (only a build can say whether its
/// sources changed), or no archive was built from its current inputs.
pub fn find_slug(loaded: &LoadedManifest, slug: &str, cache: &Cache) -> Option<CachedSlug> {
    if spec(loaded, slug).ok()?.go.is_some() {
        return None;
    }
    let components = slug_components(loaded, slug, cache).ok()?;
    let key = key::slug_key(loaded, &components, cache).ok()?;
    let index = key::SlugIndex::open(cache).ok()?;
    indexed(loaded, slug, &index, &key).ok().flatten()
}

fn indexed(
    loaded: &LoadedManifest,
    slug: &str,
    index: &key::SlugIndex,
    key: &key::SlugKey,
) -> Result<Option<CachedSlug>, BuildError> {
    let Some((entry, path)) = index.get(&key.key) else {
        return Ok(None);
    };
    let spec = spec(loaded, slug)?;
    let process_types = loaded
        .process_types(slug)
        .map_err(|source| BuildError::Manifest {
            slug: slug.to_owned(),
            source,
        })?;
    Ok(Some(CachedSlug {
        archive: SlugArchive {
            name: slug.to_owned(),
            path,
            size: entry.size,
            sha256: entry.sha256,
            stack: spec.stack.clone(),
            process_types,
            key: key.clone(),
        },
        built_now: false,
    }))
}

/// The components of slug `slug`, in archive order (see [`crate::slug`]): runtimes are made
/// available and the Go program is built, but nothing is compressed.
pub fn slug_components(
    loaded: &LoadedManifest,
    slug: &str,
    cache: &Cache,
) -> Result<Vec<Component>, BuildError> {
    let spec = spec(loaded, slug)?;
    let slug_err = |source| BuildError::slug(slug, source);
    let bad_path = |value: &str| BuildError::BadPath {
        slug: slug.to_owned(),
        value: value.to_owned(),
    };

    let mut runtimes = spec.runtimes.clone();
    runtimes.sort();
    runtimes.dedup();
    let mut parts = Vec::new();
    for name in &runtimes {
        let tree = crate::runtime::materialize(loaded, name, cache)
            .map_err(|source| BuildError::Runtime(Box::new(source)))?;
        let dest = inside_app(&tree.dest, true).ok_or_else(|| bad_path(&tree.dest))?;
        let entries = match &tree.tree_key {
            Some(key) => listing::runtime_entries(cache, key, &tree.root, &dest),
            None => walk(&tree.root, &dest, |_, _| false),
        }
        .map_err(slug_err)?;
        parts.push(Part::tree(format!("runtime.{name}"), &dest, entries));
    }

    if let Some(go) = &spec.go {
        let output = inside_app(&go.output, false).ok_or_else(|| bad_path(&go.output))?;
        let binary = go::build(loaded, slug, go, cache).map_err(|source| BuildError::Go {
            slug: slug.to_owned(),
            source,
        })?;
        let meta = std::fs::metadata(&binary).map_err(|source| {
            slug_err(SlugError::Read {
                path: binary.clone(),
                source,
            })
        })?;
        parts.push(Part::single(
            "go",
            Entry {
                rel: output,
                kind: EntryKind::File {
                    source: binary,
                    size: meta.len(),
                    executable: true,
                },
            },
        ));
    }

    let source = loaded.resolve(&spec.source);
    let selection = Selection {
        include: &spec.include,
        exclude: &spec.exclude,
        skip: own_files(loaded, &source),
    };
    parts.push(Part::app(
        app_entries(&source, &selection).map_err(slug_err)?,
    ));
    crate::slug::lay_out(parts).map_err(slug_err)
}

fn spec<'a>(
    loaded: &'a LoadedManifest,
    slug: &str,
) -> Result<&'a crate::manifest::SlugSpec, BuildError> {
    loaded
        .manifest
        .slugs
        .get(slug)
        .ok_or_else(|| BuildError::UnknownSlug {
            name: slug.to_owned(),
            known: loaded
                .manifest
                .slugs
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// `value` as a clean path relative to `./app` (no `.`/`..`/empty parts), or `None`. An empty
/// value (the root of `./app`) is allowed only where `allow_root` says so.
fn inside_app(value: &str, allow_root: bool) -> Option<Vec<u8>> {
    let trimmed = value.trim_matches('/');
    let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
    if trimmed.is_empty() || trimmed == "." {
        return allow_root.then(Vec::new);
    }
    if value.starts_with('/')
        || trimmed
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return None;
    }
    Some(trimmed.as_bytes().to_vec())
}

/// slugplan's own files that may sit inside the app source: the manifest, its lock file and the
/// local platform's data directory. They describe deploys, not the app, and including them
/// would change every slug whenever the deploy manifest changes.
fn own_files(loaded: &LoadedManifest, source: &Path) -> Vec<Vec<u8>> {
    let source = canonical(source);
    let mut own = vec![loaded.path.clone(), loaded.dir.join("slug.lock")];
    if let Some(data_dir) = &loaded.manifest.platform.data_dir {
        own.push(loaded.resolve(data_dir));
    }
    own.iter()
        .filter_map(|path| {
            let path = canonical(path);
            let rel = path.strip_prefix(&source).ok()?;
            Some(rel.as_os_str().as_bytes().to_vec()).filter(|r| !r.is_empty())
        })
        .collect()
}

/// The canonical form of `path` when it exists, else the path made absolute as it is.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| std::path::absolute(path).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::inside_app;

    #[test]
    fn destinations_must_stay_inside_app() {
        assert_eq!(
            inside_app("vendor/ruby/", true),
            Some(b"vendor/ruby".to_vec())
        );
        assert_eq!(inside_app("./bin/web", false), Some(b"bin/web".to_vec()));
        assert_eq!(inside_app("", true), Some(Vec::new()));
        assert_eq!(inside_app("", false), None);
        for bad in ["../x", "a/../../b", "/etc", "a//b", "a/./b"] {
            assert_eq!(inside_app(bad, true), None, "{bad}");
        }
    }
}
