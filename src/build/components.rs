//! Gathering a slug's components: its runtimes' trees (made available first), its Go binary
//! (built first), and the app's own files, each placed where the manifest says inside `./app`.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{BuildError, go, listing};
use crate::cache::Cache;
use crate::manifest::project_path::canonical;
use crate::manifest::{AppPath, LoadedManifest};
use crate::own_files::OwnFiles;
use crate::runtime::Lockfile;
use crate::slug::select::{Selection, app_entries};
use crate::slug::tree::walk;
use crate::slug::{Component, Entry, EntryKind, Part, SlugError};

/// The components of slug `slug`, in archive order (see [`crate::slug`]): runtimes are made
/// available and the Go program is built, but nothing is compressed. None of slugplan's own
/// files is among the app's, `written` (what this run writes) included.
pub fn slug_components(
    loaded: &LoadedManifest,
    slug: &str,
    cache: &Cache,
    written: &OwnFiles,
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
        skip: own_paths(loaded, &source, cache, written),
        written: Some(written),
    };
    parts.push(Part::app(
        app_entries(&source, &selection).map_err(slug_err)?,
    ));
    crate::slug::lay_out(parts).map_err(slug_err)
}

/// slugplan's own paths that may sit inside the app source: the manifest, its lock file, the
/// local platform's data directory, the cache, and the files this run writes by path (`plan
/// -out FILE`). They describe deploys, not the app: including them would change every slug
/// whenever a deploy is planned (`.slugplan/` and saved plans are left out by
/// [`crate::slug::select`] wherever they are).
fn own_paths(
    loaded: &LoadedManifest,
    source: &Path,
    cache: &Cache,
    written: &OwnFiles,
) -> Vec<Vec<u8>> {
    let source = canonical(source);
    let mut own = vec![
        loaded.path.clone(),
        Lockfile::path_for(loaded),
        cache.root().to_owned(),
    ];
    if let Some(data_dir) = &loaded.manifest.platform.data_dir {
        own.push(loaded.resolve(data_dir));
    }
    own.extend(written.paths().iter().cloned());
    own.iter()
        .filter_map(|path| {
            let path = canonical(path);
            let rel = path.strip_prefix(&source).ok()?;
            Some(rel.as_os_str().as_bytes().to_vec()).filter(|r| !r.is_empty())
        })
        .collect()
}
