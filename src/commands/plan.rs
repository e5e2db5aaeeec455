//! `slugplan plan`: show what apply would change.

use std::sync::Arc;

use crate::cli::args::{PlanArgs, PlanFormat, plan_format};
use crate::cli::printer::{Printer, Verbosity};
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::reporters::pack::PackProgress;
use crate::exit_status::ExitStatus;
use crate::plan::{Plan, markdown, render, saved};

use super::Session;

/// Plans, prints the plan (text, JSON or Markdown), and optionally saves it.
pub async fn run(args: &PlanArgs, session: &Session) -> miette::Result<ExitStatus> {
    let settings = session.settings();
    let printer = session.printer();
    let format = plan_format(args.json, args.format);
    let deploy = session.deploy().await?;
    let jobs = settings.jobs(args.planning.jobs);
    let mut options = settings.prepare_options(!args.no_build, jobs);
    if let Some(out) = &args.out {
        // Written after the build, but never into a slug: the next plan must not find it.
        options.written = Arc::new(settings.written.clone().with_path(out));
    }
    let reporter = FetchProgress::new(printer);
    let packing = Arc::new(PackProgress::new(printer));
    let planned = deploy
        .plan(&args.planning.target, &options, &reporter, packing)
        .await?;
    let plan = &planned.plan;
    print(plan, format, printer);
    if let Some(out) = &args.out {
        saved::save(plan, out)?;
        printer.status(
            "Saved",
            format_args!(
                "the plan to {}; apply exactly it with `slugplan apply {}`",
                out.display(),
                out.display()
            ),
        );
    }
    let changes = !plan.summary.is_empty() || plan.changes().next().is_some();
    Ok(if args.detailed_exitcode && changes {
        ExitStatus::ChangesPending
    } else {
        ExitStatus::Success
    })
}

/// Prints `plan` as `format` asks: the text rendering (only its summary line with `-q`), the
/// JSON document, or the Markdown of a pull request comment (which holds the targeting
/// warning too); the targeting warning goes to stderr in every format.
pub fn print(plan: &Plan, format: PlanFormat, printer: Printer) {
    if let Some(warning) = render::targeting_warning(plan) {
        printer.warn(warning);
    }
    match format {
        PlanFormat::Text => {
            if printer.verbosity() == Verbosity::Quiet {
                printer.data(render::headline(plan));
            } else {
                printer.data(render::render(plan, printer.color()).trim_end());
            }
        }
        PlanFormat::Json => printer.json(plan),
        PlanFormat::Markdown => printer.data(markdown::render(plan).trim_end()),
    }
}
