//! `slugplan fetch`: downloads, verifies and unpacks runtimes into the cache.

use crate::cli::ExitStatus;
use crate::cli::args::FetchArgs;
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::settings::GlobalSettings;
use crate::runtime::Lockfile;

/// Fetches the requested runtimes in parallel and prints where each tree is.
pub fn run(args: &FetchArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let loaded = crate::manifest::load(&settings.manifest)?;
    let cache = settings.cache()?;
    let lock = Lockfile::load(&loaded)?;
    let names: Vec<String> = if args.runtimes.is_empty() {
        loaded.manifest.runtimes.keys().cloned().collect()
    } else {
        args.runtimes.clone()
    };
    let reporter = FetchProgress::new(settings.printer, args.json);
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|err| miette::miette!("cannot start the async runtime: {err}"))?;
    let fetched = runtime.block_on(crate::runtime::fetch_all(
        &loaded,
        &names,
        &cache,
        &lock,
        &settings.fetch_options(),
        &reporter,
    ))?;
    for runtime in &fetched {
        if args.json {
            settings.printer.data(serde_json::json!({
                "event": "fetched", "runtime": runtime.name, "sha256": runtime.sha256,
                "tree": runtime.tree, "downloaded": runtime.downloaded,
            }));
        } else {
            settings
                .printer
                .data(format_args!("{}\t{}", runtime.name, runtime.tree.display()));
        }
    }
    Ok(ExitStatus::Success)
}
