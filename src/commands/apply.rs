//! `slugplan apply`: plan (or read a saved plan), confirm, and apply under the apply lock.
//!
//! Ctrl-C and `SIGTERM` are handled ([`Signals`]): before applying, they end the command at
//! once; while applying, the first lets the running steps finish and reports what was done and
//! what was not (exit 130), the second exits at once.

use std::sync::Arc;
use std::time::Duration;

use miette::IntoDiagnostic;

use crate::apply::{ApplyError, ApplyOptions, ApplySummary};
use crate::cli::args::ApplyArgs;
use crate::cli::printer::Verbosity;
use crate::cli::reporters::apply::{ApplyProgress, StepRecord};
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::reporters::pack::PackProgress;
use crate::cli::signals::Signals;
use crate::exit_status::ExitStatus;
use crate::ops::deploy::DeployError;
use crate::plan::{Plan, render};

use super::Session;
use super::shared::{RELEASE_TIMEOUT, confirm};

/// Applies the plan (made now, or saved) and reports what happened.
pub async fn run(args: &ApplyArgs, session: &Session) -> miette::Result<ExitStatus> {
    let settings = session.settings();
    let printer = session.printer();
    let signals = Signals::listen(printer).into_diagnostic()?;
    session
        .lock_applies(Duration::from_secs(args.lock_timeout))
        .await?;
    let deploy = session.deploy().await?;
    let jobs = settings.jobs(args.planning.jobs);
    let options = settings.prepare_options(true, jobs);
    let fetch_reporter = FetchProgress::new(printer);

    let planned = match &args.plan_file {
        Some(path) => deploy.load_saved(path, &options).await?,
        None => {
            let packing = Arc::new(PackProgress::new(printer.quiet_if(args.json)));
            deploy
                .plan(&args.planning.target, &options, &fetch_reporter, packing)
                .await?
        }
    };
    let plan = &planned.plan;
    if let Some(warning) = render::targeting_warning(plan) {
        printer.warn(warning);
    }
    // With -q, only the closing line (or the plan's, when there is nothing to do) is shown.
    let quiet = printer.verbosity() == Verbosity::Quiet;
    if !args.json && !quiet {
        printer.data(render::render(plan, printer.color()).trim_end());
    }
    if plan.changes().next().is_none() {
        if args.json {
            printer.json(&document(plan, false, None, &[], None));
        } else if quiet {
            printer.data(render::headline(plan));
        }
        return Ok(ExitStatus::Success);
    }
    // A saved plan was reviewed when it was saved; applying it never asks.
    if args.plan_file.is_none() && !args.yes && !confirm()? {
        printer.status("Cancelled", "nothing was applied");
        return Ok(ExitStatus::Failure);
    }

    let reporter = ApplyProgress::new(printer, args.json);
    let options = ApplyOptions {
        jobs,
        allow_downgrade: args.allow_downgrade,
        release_timeout: RELEASE_TIMEOUT,
        interrupt: signals.interrupt(),
    };
    signals.applying();
    let result = deploy
        .apply(&planned, session.command_line(), options, &reporter)
        .await;
    let summary = match result {
        Ok(summary) => summary,
        Err(err) => {
            let interrupted = matches!(err, DeployError::Apply(ApplyError::Interrupted { .. }));
            if let DeployError::Apply(ApplyError::Interrupted {
                finished, not_run, ..
            }) = &err
            {
                printer.status("Finished", list(finished));
                printer.status("Not run", list(not_run));
            }
            let report = miette::Report::new(err);
            if args.json {
                let steps = reporter.records();
                printer.json(&document(plan, true, None, &steps, Some(&report)));
            }
            crate::cli::diagnostics::report(&report);
            return Ok(if interrupted {
                ExitStatus::Interrupted
            } else {
                ExitStatus::Failure
            });
        }
    };
    if args.json {
        printer.json(&document(
            plan,
            true,
            Some(&summary),
            &reporter.records(),
            None,
        ));
    } else {
        printer.data(summary.line());
    }
    Ok(ExitStatus::Success)
}

/// The `--json` document: the plan, whether it was applied, the outcome (the counts) or the
/// error, and every step's outcome in the order they ended. The same fields in every case.
fn document(
    plan: &Plan,
    applied: bool,
    outcome: Option<&ApplySummary>,
    steps: &[StepRecord],
    error: Option<&miette::Report>,
) -> serde_json::Value {
    serde_json::json!({
        "format_version": crate::plan::FORMAT_VERSION,
        "plan": plan,
        "applied": applied,
        "outcome": outcome,
        "error": error.map(|e| crate::cli::diagnostics::record(e.as_ref())),
        "steps": steps,
    })
}

/// Step addresses as one comma-separated line, or `none`.
fn list(addresses: &[crate::graph::Address]) -> String {
    if addresses.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = addresses.iter().map(|a| a.0.as_str()).collect();
    names.join(", ")
}
