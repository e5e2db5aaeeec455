//! The verbs: what `plan` and `apply` do, composed from the nouns.
//!
//! cargo's split: `commands/` parse and print; `ops/` does the work and returns data; the
//! library modules underneath (manifest, runtime, build, platform, plan, release, apply, state)
//! know nothing of each other's callers. As uv's `pip/operations.rs` holds steps shared by
//! several commands, [`crate::release`] holds what `apply`, [`promote`] and [`releases`]'s
//! rollback share: making a release, waiting for it, and promoting.
//!
//! - [`prepare`]: fetch runtimes and build (or find by input key) every slug a plan needs.
//! - [`deploy`]: make a plan (prepare, observe, diff) and apply it under the apply lock,
//!   recording it in the audit log.
//! - [`promote`]: `slugplan promote`, checked then promoted, nothing built or uploaded.
//! - [`releases`]: an app's release history with checksums, and rollback.
//! - [`destroy`]: delete an app the manifest no longer declares.
//! - [`cache`]: what each cache entry is, from the cache's own records (`cache ls`).
//! - [`init`]: a first, commented slug.toml for a project, from what its directory holds.
//! - [`web`]: whether the apps an apply released came up on their web URL.

pub mod cache;
pub mod deploy;
pub mod destroy;
pub mod init;
pub mod prepare;
pub mod promote;
pub mod releases;
pub mod web;
