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
//! - [`manifest`]: `slug.toml` types, parsing with spans, validation, the JSON Schema.
//! - [`slug`]: the slug archive: a GNU tar stream in the canonical chunked-deflate encoding.
//! - [`cache`]: the content-addressed local cache and its versioned buckets.
//! - [`cli`] and [`commands`]: the edge; the only code that knows about clap, terminals and exit codes.
//!
//! Nouns (manifest, slug, cache, platform) never import verbs (commands, plan, apply).

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
