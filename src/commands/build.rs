//! `slugplan build`: builds slugs from local sources into the cache.

use crate::cli::ExitStatus;
use crate::cli::args::BuildArgs;
use crate::cli::settings::GlobalSettings;

/// Builds the requested slugs and prints path, size and checksum of each.
pub fn run(args: &BuildArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let loaded = crate::manifest::load(&settings.manifest)?;
    let _ = (args, loaded);
    Err(miette::miette!("slug building lands with the slug module"))
}
