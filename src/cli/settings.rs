//! Resolves raw arguments and the environment into the settings commands run with.
//!
//! Precedence lives here and only here: a flag beats an environment variable, which beats the
//! manifest, which beats the default.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cache::{Cache, CacheError};
use crate::cli::args::{ColorChoice, GlobalArgs};
use crate::cli::printer::{Printer, Verbosity};
use crate::env_vars;

/// What every command runs with.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// The manifest's path.
    pub manifest: PathBuf,
    /// Where output goes and how much of it.
    pub printer: Printer,
    /// An explicit cache directory, if one was given.
    pub cache_dir: Option<PathBuf>,
}

impl GlobalSettings {
    /// Resolves the global flags and the environment.
    pub fn resolve(args: &GlobalArgs) -> Self {
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, _) => Verbosity::Verbose,
        };
        GlobalSettings {
            manifest: args.manifest.clone(),
            printer: Printer::new(verbosity, resolve_color(args.color)),
            cache_dir: args.cache_dir.clone(),
        }
    }

    /// The cache, located from `--cache-dir`, the environment or the defaults, held with a
    /// shared lock for as long as it lives (so `slugplan cache prune` waits for this process).
    pub fn cache(&self) -> Result<Cache, CacheError> {
        Cache::locate(self.cache_dir.as_deref())?.with_shared_lock()
    }

    /// The cache without a lock, for `slugplan cache` itself (which locks as it needs).
    pub fn cache_unlocked(&self) -> Result<Cache, CacheError> {
        Cache::locate(self.cache_dir.as_deref())
    }
}

/// `--color`, then `NO_COLOR`, then `FORCE_COLOR`, then whether stderr is a terminal.
pub fn resolve_color(choice: ColorChoice) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set(env_vars::NO_COLOR) => false,
        ColorChoice::Auto if set(env_vars::FORCE_COLOR) => true,
        ColorChoice::Auto => std::io::stderr().is_terminal(),
    }
}

impl GlobalSettings {
    /// Download retries and extraction caps: the defaults, overridden by `SLUGPLAN_FETCH_*`
    /// and `SLUGPLAN_MAX_*` variables (ignored when they do not parse as numbers).
    pub fn fetch_options(&self) -> crate::runtime::FetchOptions {
        let number = |name: &str| -> Option<u64> { std::env::var(name).ok()?.trim().parse().ok() };
        let mut options = crate::runtime::FetchOptions::default();
        if let Some(retries) = number(env_vars::SLUGPLAN_FETCH_RETRIES) {
            options.retries = u32::try_from(retries).unwrap_or(u32::MAX);
        }
        if let Some(ms) = number(env_vars::SLUGPLAN_FETCH_BACKOFF_MS) {
            options.base_delay = std::time::Duration::from_millis(ms);
            options.max_delay = options.max_delay.max(options.base_delay);
        }
        if let Some(bytes) = number(env_vars::SLUGPLAN_MAX_UNPACKED_BYTES) {
            options.limits.max_unpacked_bytes = bytes;
        }
        if let Some(ratio) = number(env_vars::SLUGPLAN_MAX_COMPRESSION_RATIO) {
            options.limits.max_ratio = ratio;
        }
        options
    }
}

impl GlobalSettings {
    /// Connects to `workspace`'s platform: `SLUGPLAN_API_URL` beats the manifest's `api_url`;
    /// the token comes from `HEROKU_API_KEY` or `$HOME/.netrc`.
    pub fn connect(
        &self,
        workspace: &crate::workspace::Workspace,
    ) -> Result<crate::workspace::Connected, crate::workspace::ConnectError> {
        let api_url = std::env::var(env_vars::SLUGPLAN_API_URL)
            .ok()
            .filter(|v| !v.is_empty());
        let home = std::env::var_os(env_vars::HOME).map(PathBuf::from);
        workspace.connect(api_url.as_deref(), home.as_deref())
    }

    /// Steps at once: `-j N`, else the number of cores.
    pub fn jobs(&self, flag: Option<usize>) -> usize {
        flag.filter(|&n| n > 0).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// How plans prepare slugs: building unless `no_build`, `jobs` at a time.
    pub fn prepare_options(&self, build: bool, jobs: usize) -> crate::ops::prepare::PrepareOptions {
        let threads = std::env::var(env_vars::SLUGPLAN_THREADS)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        crate::ops::prepare::PrepareOptions {
            build,
            jobs,
            threads,
            fetch: self.fetch_options(),
        }
    }
}
