//! `slugplan lock`: pins every runtime URL's SHA-256 in slug.lock.

use crate::cli::ExitStatus;
use crate::cli::args::LockArgs;
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::settings::GlobalSettings;
use crate::runtime::{LockChange, Lockfile};

/// Updates slug.lock and says what changed.
pub fn run(args: &LockArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let loaded = crate::manifest::load(&settings.manifest)?;
    let cache = settings.cache()?;
    let reporter = FetchProgress::new(settings.printer, args.json);
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|err| miette::miette!("cannot start the async runtime: {err}"))?;
    let changes = runtime.block_on(crate::runtime::update_lockfile(
        &loaded,
        &cache,
        &settings.fetch_options(),
        &reporter,
    ))?;
    let path = Lockfile::path_for(&loaded);
    if args.json {
        settings.printer.data(serde_json::json!({
            "event": "locked", "lockfile": path, "changes": changes,
        }));
        return Ok(ExitStatus::Success);
    }
    let printer = &settings.printer;
    for change in &changes {
        match change {
            LockChange::Added { name, sha256 } => {
                printer.status("Locked", format_args!("{name} sha256:{sha256}"));
            }
            LockChange::Updated {
                name,
                old_url,
                sha256,
            } => printer.status(
                "Updated",
                format_args!("{name} sha256:{sha256} (stale entry was for {old_url})"),
            ),
            LockChange::Removed { name } => printer.status("Removed", name),
            LockChange::Unchanged { name } => printer.verbose(format_args!("unchanged: {name}")),
        }
    }
    printer.status("Wrote", path.display());
    Ok(ExitStatus::Success)
}
