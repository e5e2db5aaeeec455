//! `slugplan state show` and `slugplan state migrate`: what the state is and where, and
//! moving it between the local and the PostgreSQL backend.

use std::fmt::Write;

use serde::Serialize;

use crate::cli::args::{StateBackendArg, StateCommand, StateMigrateArgs, StateShowArgs};
use crate::exit_status::ExitStatus;
use crate::manifest::StateBackend;
use crate::state::{self, Location, StateCounts, StateStatus};

use super::{JSON_FORMAT_VERSION, Session};

/// The `--json` document of `state show`.
#[derive(Debug, Serialize)]
struct ShowOutput<'a> {
    format_version: u32,
    backend: &'static str,
    /// The local state's directory.
    path: Option<String>,
    /// The database URL, its password masked.
    url: Option<&'a str>,
    workspace: Option<&'a str>,
    #[serde(flatten)]
    status: &'a StateStatus,
}

/// The `--json` document of `state migrate`.
#[derive(Debug, Serialize)]
struct MigrateOutput {
    format_version: u32,
    from: String,
    to: String,
    copied: StateCounts,
}

/// Runs `slugplan state …`.
pub async fn run(command: &StateCommand, session: &Session) -> miette::Result<ExitStatus> {
    match command {
        StateCommand::Show(args) => show(args, session).await,
        StateCommand::Migrate(args) => migrate(args, session).await,
    }
}

async fn show(args: &StateShowArgs, session: &Session) -> miette::Result<ExitStatus> {
    let state = session.state().await?;
    let status = state.status().await?;
    let location = state.location();
    let (path, url, workspace) = match location {
        Location::Local { dir } => (Some(dir.display().to_string()), None, None),
        Location::Postgres { url, workspace } => (None, Some(url.masked()), Some(workspace)),
    };
    if args.json {
        session.printer().json(&ShowOutput {
            format_version: JSON_FORMAT_VERSION,
            backend: location.backend(),
            path,
            url,
            workspace: workspace.map(String::as_str),
            status: &status,
        });
        return Ok(ExitStatus::Success);
    }
    let mut out = String::new();
    let _ = writeln!(out, "backend    {}", location.backend());
    if let Some(path) = &path {
        let _ = writeln!(out, "path       {path}");
    }
    if let (Some(url), Some(workspace)) = (url, workspace) {
        let _ = writeln!(out, "url        {url}");
        let _ = writeln!(out, "workspace  {workspace}");
    }
    let _ = writeln!(
        out,
        "schema     version {} (this slugplan knows {})",
        status.schema_version, status.known_version
    );
    match &status.lock {
        Some(holder) => {
            let _ = writeln!(out, "lock       held by {holder}");
        }
        None => {
            let _ = writeln!(out, "lock       free");
        }
    }
    let _ = writeln!(out, "records    {}", status.counts);
    session.printer().data(out.trim_end());
    Ok(ExitStatus::Success)
}

async fn migrate(args: &StateMigrateArgs, session: &Session) -> miette::Result<ExitStatus> {
    let (from, to) = match args.to {
        StateBackendArg::Postgres => (StateBackend::Local, StateBackend::Postgres),
        StateBackendArg::Local => (StateBackend::Postgres, StateBackend::Local),
    };
    let source = session.open_state(from).await?;
    let destination = session.open_state(to).await?;
    let copied = state::migrate(
        source.as_ref(),
        destination.as_ref(),
        &session.lock_holder(),
        args.replace,
    )
    .await?;
    let printer = session.printer();
    if args.json {
        printer.json(&MigrateOutput {
            format_version: JSON_FORMAT_VERSION,
            from: source.location().to_string(),
            to: destination.location().to_string(),
            copied,
        });
    } else {
        printer.data(format_args!(
            "Copied {copied}\n  from {}\n  to   {}",
            source.location(),
            destination.location()
        ));
    }
    if session.state_backend()? != to {
        let backend = destination.location().backend();
        printer.warn(format_args!(
            "slug.toml still uses the {} state: set `[state] backend = \"{backend}\"` to use the copy",
            source.location().backend()
        ));
    }
    Ok(ExitStatus::Success)
}
