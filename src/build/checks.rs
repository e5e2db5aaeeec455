//! The stack check: slugplan refuses to pack a runtime or Go binary the slug's stack cannot
//! run, and remembers (by component key, which fixes the bytes) what already passed, so an
//! incremental build does not open every file of a 200 MB runtime again.

use super::BuildError;
use crate::cache::{Bucket, Cache, CacheEntry, CacheKey};
use crate::manifest::LoadedManifest;
use crate::slug::{Component, EntryKind};

/// Refuses to pack binaries the stack cannot run: every ELF file slugplan put in the slug (the
/// runtimes' and the Go binary; the app's own files are the user's business) must be x86-64
/// and need no newer glibc than the stack has. A component whose key (`keys`, when known)
/// already passed for this stack is not read again: the key fixes its bytes.
pub(super) fn check_stack(
    loaded: &LoadedManifest,
    slug: &str,
    stack: &str,
    components: &[Component],
    keys: &[Option<String>],
    cache: &Cache,
) -> Result<(), BuildError> {
    for (component, key) in components.iter().zip(keys) {
        if !checks_stack(component) {
            continue;
        }
        let memo = key.as_deref().map(|key| stack_check(cache, key, stack));
        if memo.as_ref().is_some_and(|m| m.path().is_file()) {
            continue;
        }
        for entry in &component.entries {
            if let EntryKind::File { source, .. } = &entry.kind {
                crate::stack::check_file(source, stack)
                    .map_err(|source| BuildError::stack(loaded, slug, source))?;
            }
        }
        if let Some(key) = key {
            record_stack_check(cache, key, stack);
        }
    }
    Ok(())
}

/// Whether `component` holds binaries slugplan put there (and so is checked against the stack).
pub(super) fn checks_stack(component: &Component) -> bool {
    component.name.starts_with("runtime.") || component.name == "go"
}

/// Where a passed stack check of the component with key `key` is remembered.
fn stack_check(cache: &Cache, key: &str, stack: &str) -> CacheEntry {
    cache.entry(CacheKey::StackCheck { key, stack })
}

/// Remembers that the component with key `key` passed the check for `stack` (best effort).
pub(super) fn record_stack_check(cache: &Cache, key: &str, stack: &str) {
    if cache.bucket(Bucket::TreeHashes).is_ok() {
        let _ = std::fs::write(stack_check(cache, key, stack), b"ok\n");
    }
}
