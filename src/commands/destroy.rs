//! `slugplan destroy`: delete an app the manifest no longer declares, after its name is typed
//! back (or given with `--confirm`, for scripts), under the apply lock.

use std::time::Duration;

use crate::cli::args::DestroyArgs;
use crate::exit_status::ExitStatus;
use crate::ops::destroy::{check_confirmation, prepare, run as destroy};

use super::shared::ask;
use super::{JSON_FORMAT_VERSION, Session};

/// Checks the app may go, confirms, deletes it, and says so.
pub async fn run(args: &DestroyArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    session.lock_applies(Duration::ZERO).await?;
    let workspace = session.workspace()?;
    let connected = session.connected()?;
    let state = session.state().await?;
    let platform = connected.platform.as_ref();
    let doomed = prepare(
        platform,
        state,
        &connected.id,
        &workspace.desired,
        &args.app,
    )
    .await?;
    let given = match &args.confirm {
        Some(given) => given.clone(),
        None => {
            let runs = doomed
                .version
                .map_or("no release".to_owned(), |v| format!("release v{v}"));
            ask(
                &format!(
                    "This deletes {} ({}, running {runs}) on {} and everything of it, for good.\n\
                     To proceed, type {} (or re-run with --confirm {}): ",
                    doomed.app, doomed.id, connected.id, doomed.app, doomed.app
                ),
                &format!(
                    "pass --confirm {} to destroy it without a prompt",
                    doomed.app
                ),
            )?
        }
    };
    check_confirmation(&doomed, &given)?;
    destroy(
        platform,
        state,
        &connected.id,
        &doomed,
        session.command_line(),
        &workspace.manifest_sha256,
    )
    .await?;
    if args.json {
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "destroyed": doomed,
        }));
    } else {
        printer.data(format_args!(
            "Destroyed {} ({}) on {}.",
            doomed.app, doomed.id, connected.id
        ));
    }
    Ok(ExitStatus::Success)
}
