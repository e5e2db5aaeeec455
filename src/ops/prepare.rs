//! Preparing slugs for a plan: fetch their runtimes, then build each one, or find it in the
//! cache by its input key, so the plan knows every checksum exactly.
//!
//! Runtimes are fetched in parallel; slugs are built in parallel on the blocking pool, `jobs`
//! at a time, all compressing on the process's one pool of compression threads. A slug whose
//! input key is in the slug index is not packed again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::apply::ReadySlug;
use crate::build::key::SlugKey;
use crate::build::{BuildError, BuildOptions, CachedSlug};
use crate::cache::Cache;
use crate::manifest::{LoadedManifest, ManifestError};
use crate::own_files::OwnFiles;
use crate::plan::diff::SlugFacts;
use crate::runtime::{FetchOptions, FetchReporter, LockError, Lockfile, RuntimeError};
use crate::slug::PackReporter;
use crate::state::{State, StateError};

/// How to prepare.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Build slugs (false: `--no-build`, slugs not in the cache have unknown checksums).
    pub build: bool,
    /// Slugs built at once.
    pub jobs: usize,
    /// Compression threads, shared by the slugs built at once (0: one per core).
    pub threads: usize,
    /// Download retries and extraction caps.
    pub fetch: FetchOptions,
    /// The files this run writes (`-out`, redirected stdout and stderr), never packed.
    pub written: Arc<OwnFiles>,
}

/// Errors preparing slugs.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PrepareError {
    /// slug.lock could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(Box<LockError>),
    /// A runtime could not be fetched.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runtime(Box<RuntimeError>),
    /// A slug could not be built.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(Box<BuildError>),
    /// A slug's process types could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(Box<ManifestError>),
    /// slugplan's state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
    /// A build task panicked or was cancelled.
    #[error("a build task failed: {0}")]
    Task(String),
}

/// Hands out a packing-progress reporter for each slug that gets packed.
pub trait PackReporters: Send + Sync {
    /// The reporter for slug `slug`.
    fn for_slug(&self, slug: &str) -> Arc<dyn PackReporter + Send>;
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPackProgress;

struct Silent;

impl PackReporter for Silent {}

impl PackReporters for NoPackProgress {
    fn for_slug(&self, _slug: &str) -> Arc<dyn PackReporter + Send> {
        Arc::new(Silent)
    }
}

/// What preparing found or made.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Facts for the diff, by slug.
    pub facts: BTreeMap<String, SlugFacts>,
    /// Archives ready to upload, by slug (those with a known checksum).
    pub ready: BTreeMap<String, ReadySlug>,
    /// Runtimes downloaded now.
    pub fetched: BTreeSet<String>,
}

/// Prepares `slugs` of the manifest.
pub async fn prepare(
    loaded: &LoadedManifest,
    cache: &Cache,
    state: &dyn State,
    slugs: &BTreeSet<String>,
    options: &PrepareOptions,
    reporter: &dyn FetchReporter,
    packing: Arc<dyn PackReporters>,
) -> Result<Prepared, PrepareError> {
    let mut prepared = Prepared::default();
    let runtimes: BTreeSet<String> = slugs
        .iter()
        .filter_map(|s| loaded.manifest.slugs.get(s))
        .flat_map(|spec| spec.runtimes.iter().cloned())
        .collect();
    if options.build && !runtimes.is_empty() {
        let lock = Lockfile::load(loaded).map_err(|e| PrepareError::Lock(Box::new(e)))?;
        let names: Vec<String> = runtimes.into_iter().collect();
        let fetched =
            crate::runtime::fetch_all(loaded, &names, cache, &lock, &options.fetch, reporter)
                .await
                .map_err(|e| PrepareError::Runtime(Box::new(e)))?;
        prepared.fetched = fetched
            .into_iter()
            .filter(|f| f.downloaded > 0)
            .map(|f| f.name)
            .collect();
    }

    let results: Vec<(String, Option<CachedSlug>)> = stream::iter(slugs.iter().cloned())
        .map(|slug| {
            let loaded = loaded.clone();
            let cache = cache.clone();
            let build = options.build;
            let threads = options.threads;
            let written = Arc::clone(&options.written);
            let packing = packing.clone();
            async move {
                let task = tokio::task::spawn_blocking(move || {
                    let progress = packing.for_slug(&slug);
                    let options = BuildOptions {
                        threads,
                        reporter: Some(progress.as_ref()),
                        written: Some(&written),
                    };
                    if build {
                        crate::build::ensure_slug(&loaded, &slug, &cache, &options).map(Some)
                    } else {
                        Ok(crate::build::find_slug(&loaded, &slug, &cache, &written))
                    }
                    .map(|found| (slug, found))
                });
                match task.await {
                    Ok(result) => result.map_err(|e| PrepareError::Build(Box::new(e))),
                    Err(err) => Err(PrepareError::Task(err.to_string())),
                }
            }
        })
        .buffer_unordered(options.jobs.max(1))
        .try_collect()
        .await?;

    // Every slug's recorded key in one lookup; the parts (megabytes for a large app) only for
    // the slugs built now, whose reason names what changed.
    let names: Vec<&str> = results
        .iter()
        .filter(|(_, cached)| cached.is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    let recorded_keys = state.slug_key_hashes(&names).await?;
    for (name, cached) in results {
        let spec = &loaded.manifest.slugs[&name];
        let facts = match &cached {
            Some(CachedSlug {
                archive: slug,
                built_now,
            }) => {
                let recorded_key = recorded_keys.get(&name);
                let same_inputs = recorded_key == Some(&slug.key.key);
                let previous = match recorded_key {
                    Some(_) if *built_now && !same_inputs => state.slug_key(&name).await?,
                    _ => None,
                };
                let reason = match &previous {
                    // Another checkout sharing the state built it (or this cache was pruned).
                    _ if same_inputs => "not in this cache (inputs unchanged)".to_owned(),
                    Some(previous) => slug.key.changes_since(previous),
                    None => "first build".to_owned(),
                };
                let go_changed = !same_inputs
                    && previous
                        .as_ref()
                        .is_none_or(|p: &SlugKey| p.parts.get("go") != slug.key.parts.get("go"));
                drop(previous);
                // A large app's parts are megabytes, and recording them briefly takes as much
                // again in the state: record only a key that changed, once the previous one is
                // dropped (peak RSS of plan and apply).
                if !same_inputs {
                    state.record_slug_key(&name, &slug.key).await?;
                }
                prepared.ready.insert(
                    name.clone(),
                    ReadySlug {
                        path: slug.path.clone(),
                        checksum: slug.checksum.clone(),
                        stack: slug.stack.clone(),
                        process_types: slug.process_types.clone(),
                    },
                );
                SlugFacts {
                    checksum: Some(slug.checksum.clone()),
                    stack: slug.stack.clone(),
                    process_types: slug.process_types.clone(),
                    built_now: *built_now,
                    go_built_now: *built_now && spec.go.is_some() && go_changed,
                    build_reason: reason,
                }
            }
            None => SlugFacts {
                checksum: None,
                stack: spec.stack.clone(),
                process_types: loaded
                    .process_types(&name)
                    .map_err(|e| PrepareError::Manifest(Box::new(e)))?,
                built_now: false,
                go_built_now: false,
                build_reason: "not built (--no-build)".into(),
            },
        };
        prepared.facts.insert(name, facts);
    }
    Ok(prepared)
}
