//! slugplan: declarative deploy manifests for Heroku-style slugs.
//!
//! Data flows one way through the modules:
//!
//! ```text
//! manifest ──▶ desired state ──▶ graph ──▶ diff against observed state ──▶ plan ──▶ apply
//!  (slug.toml,    (runtimes,       (steps,     (platform: each app's        (what      (runs the steps,
//!   slug.lock)     slugs, apps)     deps)       current release)             changes)   in parallel)
//! ```
//!
//! The flow, module by module:
//!
//! - [`manifest`]: `slug.toml` types, parsing with spans, validation, the JSON Schema.
//! - [`desired`]: the manifest resolved: which slug each app ends up running.
//! - [`graph`]: every step of a deploy as a DAG with stable addresses.
//! - [`plan`]: observe each app's running release, diff, render, save.
//! - [`apply`]: run a plan's steps in dependency order, in parallel, resumably; promotions of
//!   one source go out together (one pipeline promotion where the apps share a pipeline).
//!
//! What they stand on:
//!
//! - [`runtime`]: fetching, verifying and safely unpacking runtime archives; `slug.lock`.
//! - [`build`]: a slug's components (runtimes, a Go binary, the app's files), its input key,
//!   and packing it; [`stack`] checks the binaries suit the stack.
//! - [`slug`]: the slug archive: a GNU tar stream in the canonical chunked-deflate encoding.
//! - [`cache`]: the content-addressed local cache and its versioned buckets.
//! - [`platform`]: the `Platform` trait and its two implementations, the embedded local
//!   platform and the Heroku API v3 client; [`server`] serves the local one over HTTP.
//! - [`state`]: slugplan's own records beside the manifest: uploads, releases, the audit log,
//!   the apply lock. [`workspace`] opens a manifest with its state and platform.
//! - [`ops`]: the verbs composed from all of the above: `plan` and `apply`, `promote`,
//!   `rollback` and `releases`.
//! - [`cli`] and [`commands`]: the edge; the only code that knows about clap, terminals and
//!   exit codes. [`env_vars`] names every environment variable read.
//!
//! Nouns (manifest, slug, cache, platform, state) never import verbs (ops, commands).

pub mod apply;
pub mod build;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod env_vars;
pub mod graph;
pub mod manifest;
pub mod ops;
pub mod plan;
pub mod platform;
pub mod runtime;
pub mod server;
pub mod slug;
pub mod stack;
pub mod state;
pub mod workspace;
