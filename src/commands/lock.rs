//! `slugplan lock`: reads every runtime URL and pins the SHA-256 of what it read in slug.lock.

use crate::cli::args::LockArgs;
use crate::cli::reporters::fetch::FetchProgress;
use crate::exit_status::ExitStatus;
use crate::runtime::{self, LockChange, Lockfile};

use super::{JSON_FORMAT_VERSION, Session};

/// Updates slug.lock and says what changed.
pub async fn run(args: &LockArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let loaded = session.manifest()?;
    let cache = session.cache()?;
    let reporter = FetchProgress::new(printer);
    let fetch = &session.settings().fetch;
    let changes = runtime::update_lockfile(loaded, cache, fetch, &reporter).await?;
    let path = Lockfile::path_for(loaded);
    if args.json {
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "lockfile": path,
            "changes": changes,
        }));
        return Ok(ExitStatus::Success);
    }
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
            LockChange::Changed {
                name,
                old_sha256,
                sha256,
            } => printer.warn(format_args!(
                "{name}: the archive at its URL changed since it was locked \
                 (slug.lock had sha256:{old_sha256}); pinned sha256:{sha256}, the bytes read now"
            )),
            LockChange::Removed { name } => printer.status("Removed", name),
            LockChange::Unchanged { name } => printer.verbose(format_args!("unchanged: {name}")),
        }
    }
    printer.status("Wrote", path.display());
    Ok(ExitStatus::Success)
}
