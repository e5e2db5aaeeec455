//! Gathering a slug's components: its runtimes' trees (made available first), its Go binary
//! (built first), and the app's own files, each placed where the manifest says inside `./app`.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{BuildError, go, listing};
use crate::cache::Cache;
use crate::manifest::{AppPath, LoadedManifest};
use crate::runtime::Lockfile;
use crate::slug::select::{Selection, app_entries};
use crate::slug::tree::walk;
use crate::slug::{Component, Entry, EntryKind, Part, SlugError};

/// The components of slug `slug`, in archive order (see [`crate::slug`]): runtimes are made
/// available and the Go program is built, but nothing is compressed.
pub fn slug_components(
    loaded: &LoadedManifest,
    slug: &str,
    cache: &Cache,
) -> Result<Vec<Component>, BuildError> {
    let spec = loaded.slug(slug)?;
    let slug_err = |source| BuildError::slug(slug, source);
    let bad_path = |value: &str| {
        let (slug, value) = (slug.to_owned(), value.to_owned());
        move |reason| BuildError::BadPath {
            slug,
            value,
            reason,
        }
    };

    let mut runtimes = spec.runtimes.clone();
    runtimes.sort();
    runtimes.dedup();
    let mut parts = Vec::new();
    for name in &runtimes {
        let tree = crate::runtime::materialize(loaded, name, cache)
            .map_err(|source| BuildError::Runtime(Box::new(source)))?;
        let dest = AppPath::dir(&tree.dest).map_err(bad_path(&tree.dest))?;
        let dest = dest.as_str().as_bytes();
        let entries = match &tree.tree_key {
            Some(key) => listing::runtime_entries(cache, key, &tree.root, dest),
            None => walk(&tree.root, dest, |_, _| false),
        }
        .map_err(slug_err)?;
        parts.push(Part::tree(format!("runtime.{name}"), dest, entries));
    }

    if let Some(go) = &spec.go {
        let output = AppPath::file(&go.output).map_err(bad_path(&go.output))?;
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
                rel: output.as_str().as_bytes().to_vec(),
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

/// slugplan's own files that may sit inside the app source: the manifest, its lock file and the
/// local platform's data directory. They describe deploys, not the app, and including them
/// would change every slug whenever the deploy manifest changes.
fn own_files(loaded: &LoadedManifest, source: &Path) -> Vec<Vec<u8>> {
    let source = canonical(source);
    let mut own = vec![loaded.path.clone(), Lockfile::path_for(loaded)];
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
