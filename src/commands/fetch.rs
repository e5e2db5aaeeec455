//! `slugplan fetch`: downloads, verifies and unpacks runtimes into the cache.

use crate::cli::args::FetchArgs;
use crate::cli::reporters::fetch::FetchProgress;
use crate::exit_status::ExitStatus;
use crate::runtime::{self, Lockfile};

use super::{JSON_FORMAT_VERSION, Session};

/// Fetches the requested runtimes in parallel and prints where each tree is.
pub async fn run(args: &FetchArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let loaded = session.manifest()?;
    let cache = session.cache()?;
    let lock = Lockfile::load(loaded)?;
    let names: Vec<String> = if args.runtimes.is_empty() {
        loaded.manifest.runtimes.keys().cloned().collect()
    } else {
        args.runtimes.clone()
    };
    let reporter = FetchProgress::new(printer);
    let fetch = &session.settings().fetch;
    let fetched = runtime::fetch_all(loaded, &names, cache, &lock, fetch, &reporter).await?;
    if args.json {
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "runtimes": fetched,
        }));
    } else {
        for runtime in &fetched {
            printer.data(format_args!("{}\t{}", runtime.name, runtime.tree.display()));
        }
    }
    Ok(ExitStatus::Success)
}
