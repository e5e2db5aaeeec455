//! `slugplan apply`: plan (or read a saved plan), confirm, and apply under the apply lock.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use miette::IntoDiagnostic;

use crate::apply::ApplyOptions;
use crate::cli::ExitStatus;
use crate::cli::args::ApplyArgs;
use crate::cli::reporters::apply::ApplyProgress;
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::reporters::pack::PackProgress;
use crate::cli::settings::GlobalSettings;
use crate::ops::deploy::Deploy;
use crate::plan::render;
use crate::state::ApplyLock;
use crate::workspace::Workspace;

/// How long a release may stay `pending` before the apply gives up on it.
pub(super) const RELEASE_TIMEOUT: Duration = Duration::from_secs(600);

/// Applies the plan (made now, or saved) and reports what happened.
pub fn run(args: &ApplyArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let workspace = Workspace::open(&settings.manifest)?;
    let command = command_line();
    let _lock = ApplyLock::acquire(
        &workspace.state_dir(),
        &command,
        Duration::from_secs(args.lock_timeout),
    )?;
    let cache = settings.cache()?;
    let connected = settings.connect(&workspace)?;
    let state = std::sync::Mutex::new(workspace.open_state()?);
    let jobs = settings.jobs(args.planning.jobs);
    let options = settings.prepare_options(true, jobs);
    let deploy = Deploy {
        workspace: &workspace,
        connected: &connected,
        state: &state,
        cache: &cache,
    };
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    let fetch_reporter = FetchProgress::new(settings.printer, false);

    let planned = match &args.plan_file {
        Some(path) => runtime.block_on(deploy.load_saved(path, &options))?,
        None => runtime.block_on(deploy.plan(
            &args.planning.target,
            &options,
            &fetch_reporter,
            std::sync::Arc::new(PackProgress::new(settings.printer.quiet_if(args.json))),
        ))?,
    };
    let plan = &planned.plan;
    if !args.json {
        settings
            .printer
            .data(render::render(plan, settings.printer.color()).trim_end());
    }
    if plan.changes().next().is_none() {
        if args.json {
            settings.printer.json(&serde_json::json!({
                "format_version": crate::plan::FORMAT_VERSION,
                "plan": plan,
                "applied": false,
                "steps": [],
            }));
        }
        return Ok(ExitStatus::Success);
    }
    // A saved plan was reviewed when it was saved; applying it never asks.
    if args.plan_file.is_none() && !args.yes && !confirm()? {
        settings.printer.status("Cancelled", "nothing was applied");
        return Ok(ExitStatus::Failure);
    }

    let reporter = ApplyProgress::new(settings.printer, args.json);
    let result = runtime.block_on(deploy.apply(
        &planned,
        &command,
        ApplyOptions {
            jobs,
            allow_downgrade: args.allow_downgrade,
            release_timeout: RELEASE_TIMEOUT,
        },
        &reporter,
    ));
    if args.json {
        settings.printer.json(&serde_json::json!({
            "format_version": crate::plan::FORMAT_VERSION,
            "plan": plan,
            "applied": true,
            "outcome": result.as_ref().ok(),
            "error": result.as_ref().err().map(ToString::to_string),
            "steps": reporter.records(),
        }));
    }
    let summary = result?;
    if !args.json {
        settings.printer.data(summary.line());
    }
    Ok(ExitStatus::Success)
}

/// Asks on the terminal, as Terraform does; refuses to when stdin is not a terminal, so a CI
/// job never hangs on a prompt.
pub(super) fn confirm() -> miette::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(miette::miette!(
            help =
                "pass --yes (or --auto-approve) to apply without a prompt, or apply a saved plan",
            "refusing to prompt for confirmation: stdin is not a terminal"
        ));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(
        stderr,
        "\nDo you want to perform these actions? Only 'yes' will be accepted: "
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .into_diagnostic()?;
    Ok(answer.trim() == "yes")
}

/// The command line, for the lock holder and the audit log (arguments only: no environment,
/// so no token).
pub(super) fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut line = args.join(" ");
    if let Some(first) = args.first()
        && let Some(name) = std::path::Path::new(first).file_name()
    {
        line = line.replacen(first.as_str(), &name.to_string_lossy(), 1);
    }
    line
}
