//! The slug index: a slug's input key → the archive built from it, so an unchanged slug is
//! found in the cache instead of packed again. Plan and apply go through [`ensure_slug`] (pack
//! only what the index lacks) and [`find_slug`] (`--no-build`: never pack).
//!
//! Records live in the cache's `slug-index-v1` bucket, one small JSON file per key, written
//! with a temp file and a rename; a record whose archive is gone or has another size is a miss.

use std::path::PathBuf;

use super::archive::ManifestFacts;
use super::{BuildError, BuildOptions, CachedSlug, key, pack_slug, slug_components};
use crate::cache::{Bucket, Cache, CacheError, CacheKey};
use crate::checksum::Checksum;
use crate::manifest::LoadedManifest;
use crate::own_files::OwnFiles;
use crate::slug::{Component, SlugError};

/// What the slug index remembers of a built slug.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexEntry {
    /// The archive's SHA-256, hex (the record's format: `slug-index-v1`).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The slug index: input key → the archive built from it, in the cache's `slug-index-v1`
/// bucket. An entry whose archive is gone is a miss.
#[derive(Debug, Clone)]
pub struct SlugIndex {
    cache: Cache,
}

impl SlugIndex {
    /// The index of `cache`.
    pub fn new(cache: &Cache) -> Self {
        SlugIndex {
            cache: cache.clone(),
        }
    }

    /// The archive built from `key` (its checksum, size and path), if it is still in the
    /// cache. A record that does not parse is a miss.
    pub fn get(&self, key: &str) -> Option<(Checksum, u64, PathBuf)> {
        let record = self.cache.entry(CacheKey::SlugIndex(key));
        let text = std::fs::read_to_string(record.path()).ok()?;
        let entry: IndexEntry = serde_json::from_str(&text).ok()?;
        let checksum = Checksum::from_hex(&entry.sha256).ok()?;
        let path = self.cache.entry(CacheKey::Slug(checksum.hex())).into_path();
        let size = std::fs::metadata(&path).ok()?.len();
        if size != entry.size {
            return None;
        }
        crate::cache::touch(&path);
        Some((checksum, entry.size, path))
    }

    /// Every record, by input key (unreadable ones left out); reads only.
    pub fn entries(&self) -> Vec<(String, IndexEntry)> {
        let dir = self.cache.root().join(Bucket::SlugIndex.dir_name());
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        read.filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = name.strip_suffix(".json")?.to_owned();
                let text = std::fs::read(e.path()).ok()?;
                Some((key, serde_json::from_slice(&text).ok()?))
            })
            .collect()
    }

    /// Remembers that `key` builds `entry` (temp file + rename: readers never see half; a
    /// record already there is replaced).
    pub fn put(&self, key: &str, entry: &IndexEntry) -> Result<(), CacheError> {
        let record = self.cache.entry(CacheKey::SlugIndex(key));
        let mut temp = self.cache.temp_file(Bucket::SlugIndex)?;
        let io = |source| CacheError::Io {
            path: record.path().to_owned(),
            source,
        };
        let text = serde_json::to_vec(entry).expect("index entries serialise");
        std::io::Write::write_all(&mut temp, &text).map_err(io)?;
        temp.persist(record.path()).map_err(|err| io(err.error))?;
        Ok(())
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
    let components = slug_components(loaded, slug, cache, options.written())?;
    let key = key::slug_key(loaded, &components, cache)
        .map_err(|source| BuildError::slug(slug, source))?;
    let cache_err = |err: crate::cache::CacheError| BuildError::slug(slug, SlugError::from(err));
    let index = SlugIndex::new(cache);
    if let Some(found) = indexed(loaded, slug, &components, &index, &key)? {
        return Ok(found);
    }
    let keys = components
        .iter()
        .map(|c| key::KnownKey::Known(key.parts[&c.name].clone()))
        .collect();
    let built = pack_slug(loaded, slug, &components, keys, Some(key), cache, options)?;
    index
        .put(
            &built.archive.key.key,
            &IndexEntry {
                sha256: built.archive.checksum.hex().to_owned(),
                size: built.archive.size,
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
pub fn find_slug(
    loaded: &LoadedManifest,
    slug: &str,
    cache: &Cache,
    written: &OwnFiles,
) -> Option<CachedSlug> {
    if loaded.slug(slug).ok()?.go.is_some() {
        return None;
    }
    let components = slug_components(loaded, slug, cache, written).ok()?;
    let key = key::slug_key(loaded, &components, cache).ok()?;
    let index = SlugIndex::new(cache);
    indexed(loaded, slug, &components, &index, &key)
        .ok()
        .flatten()
}

/// The archive the index has for `key`, with what the manifest says of slug `slug` now; its
/// commands are checked against `components` again, since process types are not in the key.
fn indexed(
    loaded: &LoadedManifest,
    slug: &str,
    components: &[Component],
    index: &SlugIndex,
    key: &key::SlugKey,
) -> Result<Option<CachedSlug>, BuildError> {
    let Some((checksum, size, path)) = index.get(&key.key) else {
        return Ok(None);
    };
    let facts = ManifestFacts::read(loaded, slug)?;
    facts.check_commands(loaded, slug, components)?;
    Ok(Some(CachedSlug {
        archive: facts.archive(slug, path, size, checksum, key.clone()),
        built_now: false,
    }))
}
