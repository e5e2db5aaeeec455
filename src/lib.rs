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
//! - [`manifest`]: `slug.toml` types, parsing with spans, validation, the JSON Schema, and
//!   `${VAR}` expansion against an environment snapshot (`manifest::interpolate`, its one home);
//!   the rules the builder shares with validation (a path inside `./app`, an unknown slug).
//! - [`desired`]: the manifest resolved: which slug each app ends up running, its config vars
//!   (expanded only when a plan asks, `desired::config`) and its formation.
//! - [`graph`]: every step of a deploy as a DAG with stable addresses; an app's config before
//!   its release, its formation after.
//! - [`plan`]: observe each app's running release (and the config and formation of the apps
//!   that declare them), diff, render, save.
//! - [`apply`]: run a plan's steps in dependency order, in parallel, resumably; promotions of
//!   one source go out together (one pipeline promotion where the apps share a pipeline), and
//!   the formation steps of one app (one batch update); an [`interrupt`] (the edge's Ctrl-C)
//!   stops it scheduling steps, never mid-step.
//!
//! Releases and promotions have one home below `apply` and `ops`:
//!
//! - [`release`]: create a release or resume the pending one an interrupted apply left, wait
//!   for it to settle; read a promotion's source and targets, the verdict on each target, and
//!   promote (one pipeline promotion, or the slug id released directly).
//!
//! What they stand on:
//!
//! - [`runtime`]: fetching, verifying and safely unpacking runtime archives; `slug.lock`.
//! - [`build`]: a slug's components (runtimes, a Go binary, the app's files), its input key,
//!   and packing it; [`stack`] checks the binaries suit the stack; [`dyno`] holds Heroku's
//!   dyno sizes per generation and its first-release scaling rule.
//! - [`slug`]: the slug archive: a GNU tar stream in the canonical chunked-deflate encoding,
//!   compressed on the process's one pool of compression threads.
//! - [`cache`]: the content-addressed local cache, its versioned buckets and typed entries;
//!   [`checksum`] is a slug's `SHA256:<hex>`, checked once where it enters.
//! - [`platform`]: the `Platform` trait and its two implementations, the embedded local
//!   platform and the Heroku API v3 client; [`server`] serves the local one over HTTP.
//! - [`dynos`]: the supervisor that runs the local platform's current releases (in `slugplan
//!   server` and `slugplan up`), each dyno a process group that dies with it, each slug
//!   unpacked once (linking the files the build cache holds, `cache::slug_sources`), and what the
//!   router asks of it ([`dynos::WebDynos`]); the apps' logs are the local platform's
//!   (`platform::local::AppLogs`).
//! - [`router`]: answers on each app's `web_url` and forwards to its web dynos, as Heroku's
//!   router does.
//! - [`state`]: slugplan's own records (uploads, releases, the config keys it manages, slug
//!   keys, the audit log) and the apply lock, behind one async trait, [`state::State`], shared
//!   as `&dyn State`: SQLite and a file lock beside the manifest (the default), or a PostgreSQL
//!   database a team shares, with an advisory lock per workspace. [`sensitive`]: config values
//!   that are never shown, and the keyed hashes that stand in for them wherever they must not
//!   be written.
//!   [`workspace`] opens a manifest with its state and platform.
//! - [`own_files`]: slugplan's own files (`.slugplan/`, saved plans, what a run writes), told
//!   apart from the app's wherever they are, so no slug ever holds one.
//! - [`sqlite`]: how both SQLite databases (the local state, the local platform) are opened
//!   and migrated: WAL, a busy timeout, an append-only migration list, a newer schema refused
//!   (the PostgreSQL state keeps the same rule with its own migrations).
//! - [`error_chain`]: an error and its causes on one line (audit log, `--json`), and one error
//!   shared by several steps; mutexes share one poison policy (`sync`); [`human`] says sizes,
//!   durations and counts in one way (decimal units, `1 step`, `2 steps`).
//! - [`ops`]: the verbs composed from all of the above: `plan` and `apply`, `promote`,
//!   `rollback` and `releases` (the last three on [`release`], as `apply` is), and `destroy`.
//! - [`cli`] and [`commands`]: the edge; the only code that knows about clap, terminals and
//!   exit codes. [`cli::settings`] reads the environment once and resolves every setting;
//!   [`commands::Session`] opens what a command needs from them; [`run`] builds the one async
//!   runtime and dispatches. [`env_vars`] names every environment variable read,
//!   [`environment`] holds the one snapshot of it that is passed down, and [`exit_status`] the
//!   codes the process ends with; [`file_kind`] says what a special file is, in one set of
//!   words.
//! - [`fuzzing`]: the entry points of the `cargo fuzz` targets in `fuzz/` (the manifest loader,
//!   the Procfile parser, the archive extractor, the server's `Range` parser), also run over
//!   the committed corpora by `cargo test`.
//!
//! Nouns (manifest, slug, cache, platform, state) never import verbs (ops, commands), and
//! below the edge nothing reads the environment: settings pass their values down.
//! [`release`] imports neither `apply` nor `ops`: they both stand on it.

pub mod apply;
pub mod build;
pub mod cache;
pub mod checksum;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod dyno;
pub mod dynos;
pub mod env_vars;
pub mod environment;
pub mod error_chain;
pub mod exit_status;
pub mod file_kind;
pub mod fuzzing;
pub mod graph;
pub mod human;
pub mod interrupt;
pub mod manifest;
pub mod ops;
pub mod own_files;
pub mod plan;
pub mod platform;
pub mod release;
pub mod router;
pub mod runtime;
pub mod sensitive;
pub mod server;
pub mod slug;
pub mod sqlite;
pub mod stack;
pub mod state;
mod sync;
pub mod workspace;

use cli::settings::{Env, GlobalSettings};
use commands::Session;
use exit_status::ExitStatus;

/// Runs slugplan on parsed arguments: resolves the settings (reading the environment, once),
/// builds the one async runtime, and runs the command on it with a [`Session`] that opens
/// what the command asks for. Errors are rendered here, on stderr.
pub fn run(cli: cli::args::Cli) -> ExitStatus {
    let settings = GlobalSettings::resolve(&cli.global, &Env::from_process());
    cli::diagnostics::install(settings.printer.color());
    cli::init_tracing(&settings);
    let json = cli.command.json();
    let printer = settings.printer;
    let session = Session::new(settings);
    let result = match tokio::runtime::Runtime::new() {
        // The runtime drops at the end of this arm, waiting for blocking tasks still running
        // (a build an error cut short); then the session closes the state and releases the
        // locks; only then is an error printed.
        Ok(runtime) => runtime.block_on(async {
            let result = commands::run(cli.command, &session).await;
            session.close().await;
            result
        }),
        Err(err) => Err(miette::miette!("cannot start the async runtime: {err}")),
    };
    drop(session);
    result.unwrap_or_else(|report| {
        // A script reading `--json` gets the failure as the one document too; the exit code
        // and stderr are what they are without it.
        if json {
            printer.json(&commands::error_document(&report));
        }
        cli::diagnostics::report(&report);
        ExitStatus::Failure
    })
}
