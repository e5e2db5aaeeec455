//! `slugplan apply`: plan (or read a saved plan), confirm, and apply under the apply lock.
//!
//! Ctrl-C and `SIGTERM` are handled ([`Signals`]): before applying, they end the command at
//! once; while applying, the first lets the running steps finish and reports what was done and
//! what was not (exit 130), the second exits at once.

use std::sync::Arc;
use std::time::Duration;

use miette::IntoDiagnostic;

use crate::apply::{ApplyError, ApplyOptions, ApplySummary, StepOutcome};
use crate::cli::args::ApplyArgs;
use crate::cli::printer::Verbosity;
use crate::cli::reporters::apply::{ApplyProgress, StepRecord};
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::reporters::pack::PackProgress;
use crate::cli::signals::Signals;
use crate::exit_status::ExitStatus;
use crate::manifest::PlatformKind;
use crate::ops::deploy::DeployError;
use crate::ops::web::{self, AppWeb};
use crate::plan::{Plan, render};
use crate::platform::local;

use super::Session;
use super::shared::{RELEASE_TIMEOUT, confirm};

/// How long an apply on the local platform waits for the apps it released to come up: the
/// supervisor's boot timeout (60 s, as Heroku's R10), and a little more.
const WEB_WAIT: Duration = Duration::from_secs(75);

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
            printer.json(&document(plan, false, None, &[], &[], None));
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
    let web = match &result {
        Ok(_) => came_up(session, &reporter.records()).await?,
        Err(_) => Vec::new(),
    };
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
                printer.json(&document(plan, true, None, &steps, &[], Some(&report)));
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
            &web,
            None,
        ));
    } else {
        printer.data(summary.line());
        for app in &web {
            printer.data(app.line());
        }
    }
    Ok(ExitStatus::Success)
}

/// The `--json` document: the plan, whether it was applied, the outcome (the counts) or the
/// error, every step's outcome in the order they ended, and (on the local platform) whether
/// each released app came up. The same fields in every case.
fn document(
    plan: &Plan,
    applied: bool,
    outcome: Option<&ApplySummary>,
    steps: &[StepRecord],
    web: &[AppWeb],
    error: Option<&miette::Report>,
) -> serde_json::Value {
    serde_json::json!({
        "format_version": crate::plan::FORMAT_VERSION,
        "plan": plan,
        "applied": applied,
        "outcome": outcome,
        "error": error.map(|e| crate::cli::diagnostics::record(e.as_ref())),
        "steps": steps,
        "web": web,
    })
}

/// On the local platform, each app this apply released, its URL and whether it came up
/// (waiting for the dynos where `slugplan up` or `slugplan server` runs them); elsewhere,
/// nothing.
async fn came_up(session: &Session, records: &[StepRecord]) -> miette::Result<Vec<AppWeb>> {
    let workspace = session.workspace()?;
    if workspace.loaded.manifest.platform.kind != PlatformKind::Local {
        return Ok(Vec::new());
    }
    let mut apps: Vec<String> = records
        .iter()
        .filter(|r| r.outcome == StepOutcome::Done)
        .filter_map(|r| {
            let address = r.address.0.as_str();
            ["release.", "promote.", "config."]
                .iter()
                .find_map(|kind| address.strip_prefix(kind))
        })
        .map(str::to_owned)
        .collect();
    apps.sort();
    apps.dedup();
    if apps.is_empty() {
        return Ok(Vec::new());
    }
    let supervised = local::running_supervisor(&local::data_dir(&workspace.loaded)).is_some();
    let connected = session.connected()?;
    let deadline = tokio::time::Instant::now() + WEB_WAIT;
    Ok(web::came_up(connected.platform.as_ref(), &apps, supervised, deadline).await)
}

/// Step addresses as one comma-separated line, or `none`.
fn list(addresses: &[crate::graph::Address]) -> String {
    if addresses.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = addresses.iter().map(|a| a.0.as_str()).collect();
    names.join(", ")
}
