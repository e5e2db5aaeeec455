//! Packing a slug into the cache: always writing the archive, splicing the cached chunks of
//! unchanged components and compressing the rest (see [`super::incremental`]).

use super::archive::ManifestFacts;
use super::{BuildError, BuiltSlug, checks, chunks, incremental, key, slug_components};
use crate::cache::{Bucket, Cache};
use crate::manifest::LoadedManifest;
use crate::own_files::OwnFiles;
use crate::slug::{Component, EntryKind, PackOptions, PackReporter, SlugError};

/// How to build.
#[derive(Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// Compression threads of the process, shared by the slugs packed at the same time (see
    /// [`crate::slug::pool`]); 0 means one per core.
    pub threads: usize,
    /// Who hears about packing progress.
    pub reporter: Option<&'a dyn PackReporter>,
    /// The files this run writes, never packed (None: none).
    pub written: Option<&'a OwnFiles>,
}

impl BuildOptions<'_> {
    /// The files this run writes.
    pub(super) fn written(&self) -> &OwnFiles {
        self.written.unwrap_or(&crate::own_files::NONE)
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
    let components = slug_components(loaded, slug, cache, options.written())?;
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
    let facts = ManifestFacts::read(loaded, slug)?;
    facts.check_commands(loaded, slug, components)?;
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
    checks::check_stack(loaded, slug, facts.stack(), components, &known, cache)?;
    let content_keyed: Vec<bool> = components
        .iter()
        .map(|c| key::is_content_key(loaded, c))
        .collect();
    let slug_err = |source| BuildError::slug(slug, source);
    let assembled = incremental::assemble(components, &known, &content_keyed, cache, pack_options);
    if let Err(SlugError::InputChanged { component }) = &assembled {
        components
            .iter()
            .filter(|c| &c.name == component)
            .for_each(|c| key::forget_memo(c, cache));
    }
    let incremental::Assembled { file, reused, keys } = assembled.map_err(slug_err)?;
    for (i, (memo, key)) in memos.iter().zip(&keys).enumerate() {
        if let Some(memo) = memo {
            memo.record(cache, key);
        }
        // Checked above, before its key was known.
        if known[i].is_none() && checks::checks_stack(&components[i]) {
            checks::record_stack_check(cache, key, facts.stack());
        }
    }
    let key = match slug_key {
        Some(key) => key,
        None => key::compose(components, &keys, None, cache).map_err(slug_err)?,
    };
    let about = crate::cache::about::About {
        name: slug.to_owned(),
        url: None,
        stack: Some(facts.stack().to_owned()),
    };
    crate::cache::about::record(cache, Bucket::Slugs, file.packed.checksum.hex(), &about);
    let files = components
        .iter()
        .flat_map(|c| &c.entries)
        .filter_map(|entry| match &entry.kind {
            EntryKind::File { source, .. } => Some((entry.rel.as_slice(), source.as_path())),
            _ => None,
        });
    crate::cache::slug_sources::record(cache, file.packed.checksum.hex(), files);
    Ok(BuiltSlug {
        archive: facts.archive(slug, file.path, file.packed.size, file.packed.checksum, key),
        components: file.packed.components,
        reused,
    })
}
