//! Building a slug: gather its components (runtime trees, a Go binary, the app's own files) and
//! write them as one archive through [`crate::slug`].
//!
//! [`build_slug`] is synchronous and CPU-bound (it compresses on the process's compression
//! pool, see [`crate::slug::pool`]); async callers run it with `spawn_blocking`.
//! [`slug_components`] is the first half on its own, for callers that want to hash components
//! or reuse some of their compressed chunks before packing.
//!
//! Builds are incremental: [`key`] computes each component's input key, [`chunks`] caches each
//! component's compressed chunks under it, and [`incremental`] splices the cached chunks of
//! unchanged components, compressing only the rest. The bytes are those of a from-scratch
//! build. [`ensure_slug`] (plan and apply) goes one step further and skips packing when the
//! whole slug's key is in the slug index ([`index`]).
//!
//! The modules, in the order a build uses them: [`components`] (what goes in), [`key`],
//! `checks` (the stack check), [`commands`] (each process type finds its program),
//! [`mod@pack`] (into the cache), [`index`] (found again by key); [`archive`] holds what they
//! give back, [`error`] what can go wrong.

pub mod archive;
mod checks;
pub mod chunks;
pub mod commands;
pub mod components;
pub mod error;
pub mod go;
pub mod incremental;
pub mod index;
pub mod key;
pub mod listing;
pub mod pack;

pub use archive::{BuiltSlug, CachedSlug, SlugArchive};
pub use components::slug_components;
pub use error::BuildError;
pub use index::{ensure_slug, find_slug};
pub use pack::{BuildOptions, build_slug, pack_slug};
