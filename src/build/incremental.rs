//! Incremental packing: splice the cached chunks of unchanged components, compress only the
//! components that changed, and remember the new chunks for next time.
//!
//! The result is byte-identical to packing every component from scratch: the encoding
//! compresses each component's chunks on their own (see [`crate::slug::encoding`]), and a
//! component's cache key covers everything its tar bytes depend on (see [`super::key`]).
//! Cached chunks that turn out missing, short or corrupted while being copied
//! ([`SlugError::ReusedChunks`]) are evicted and their component compressed again, so a
//! damaged chunk cache costs time, never a wrong slug.

use super::chunks::ChunkStore;
use crate::cache::Cache;
use crate::slug::{
    Component, ComponentInput, CompressedSpan, PackOptions, SlugError, SlugFile, write_to_cache,
};

/// A slug packed by [`assemble`].
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The archive in the cache and its component table.
    pub file: SlugFile,
    /// The components whose chunks came from the chunk cache (the rest were compressed now).
    pub reused: Vec<String>,
    /// Every component's key: the one given, or the content hash computed while packing.
    pub keys: Vec<String>,
}

/// Packs `components` into the cache's slug bucket, reusing the cached chunks of every
/// component whose key (`keys`, in the same order) is in the chunk cache, and caching the
/// chunks of the components compressed now. Every component compressed now is hashed in the
/// same pass ([`PackOptions::hash_fresh`]): without a key, its content hash is its key; with
/// one that is a content hash (`content_keyed[i]`: anything but a pinned archive's key), the
/// bytes packed must hash to it. When they do not, a file changed between hashing and packing
/// (rewritten in place, or replaced by a rename): the build fails with
/// [`SlugError::InputChanged`] and nothing is cached, since chunks of other bytes under that
/// key would be spliced into every later build of the unchanged files.
pub fn assemble(
    components: &[Component],
    keys: &[Option<String>],
    content_keyed: &[bool],
    cache: &Cache,
    mut options: PackOptions<'_>,
) -> Result<Assembled, SlugError> {
    let store = ChunkStore::open(cache)?;
    let mut spans: Vec<Option<CompressedSpan>> = components
        .iter()
        .zip(keys)
        .map(|(c, key)| store.get(key.as_deref()?, &c.name))
        .collect();
    options.hash_fresh = true;
    let file = loop {
        let inputs: Vec<ComponentInput<'_>> = components
            .iter()
            .zip(&spans)
            .map(|(component, span)| match span {
                Some(span) => ComponentInput::Reused {
                    name: &component.name,
                    span,
                },
                None => ComponentInput::Fresh(component),
            })
            .collect();
        match write_to_cache(&inputs, cache, options) {
            Err(SlugError::ReusedChunks { path, reason }) => {
                // Drop the bad entry and pack again; every retry has one reused span fewer,
                // so this ends (at worst with everything compressed now).
                let bad = spans
                    .iter()
                    .position(|s| s.as_ref().is_some_and(|s| s.path == path))
                    .ok_or_else(|| SlugError::ReusedChunks {
                        path: path.clone(),
                        reason: reason.clone(),
                    })?;
                tracing::warn!(
                    "cached chunks {} are unusable ({reason}); compressing `{}` again",
                    path.display(),
                    components[bad].name
                );
                let _ = std::fs::remove_file(&path);
                spans[bad] = None;
            }
            result => break result?,
        }
    };
    check_packed(components, keys, content_keyed, &spans, &file)?;
    let mut reused = Vec::new();
    let mut all_keys = Vec::with_capacity(components.len());
    for (i, component) in components.iter().enumerate() {
        let key = keys[i]
            .clone()
            .or_else(|| file.packed.content_hashes[i].clone())
            .expect("fresh components without a key are hashed while packing");
        if spans[i].is_some() {
            reused.push(component.name.clone());
        } else if let Err(err) = store.put(&key, &file.packed.components[i], &file.path) {
            // A chunk cache that cannot be written makes the next build slower, not this one
            // wrong: warn and go on.
            tracing::warn!("cannot cache the chunks of `{}`: {err}", component.name);
        }
        all_keys.push(key);
    }
    Ok(Assembled {
        file,
        reused,
        keys: all_keys,
    })
}

/// Refuses a slug in which a component compressed now does not hash to the content key it was
/// given (see [`assemble`]).
fn check_packed(
    components: &[Component],
    keys: &[Option<String>],
    content_keyed: &[bool],
    spans: &[Option<CompressedSpan>],
    file: &SlugFile,
) -> Result<(), SlugError> {
    for (i, component) in components.iter().enumerate() {
        let fresh = spans[i].is_none();
        let (Some(expected), Some(packed)) = (&keys[i], &file.packed.content_hashes[i]) else {
            continue;
        };
        if fresh && content_keyed.get(i).copied().unwrap_or(true) && expected != packed {
            tracing::debug!(
                component = %component.name,
                expected = %expected,
                packed = %packed,
                "packed bytes differ from the hashed ones"
            );
            return Err(SlugError::InputChanged {
                component: component.name.clone(),
            });
        }
    }
    Ok(())
}
