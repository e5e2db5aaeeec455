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

    /// The cache, located from `--cache-dir`, the environment or the defaults.
    pub fn cache(&self) -> Result<Cache, CacheError> {
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
