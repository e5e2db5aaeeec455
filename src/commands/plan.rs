//! `slugplan plan`: show what apply would change.

use miette::IntoDiagnostic;

use crate::cli::ExitStatus;
use crate::cli::args::PlanArgs;
use crate::cli::reporters::fetch::FetchProgress;
use crate::cli::reporters::pack::PackProgress;
use crate::cli::settings::GlobalSettings;
use crate::ops::deploy::Deploy;
use crate::plan::{render, saved};
use crate::workspace::Workspace;

/// Plans, prints the plan (text or JSON), and optionally saves it.
pub fn run(args: &PlanArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let workspace = Workspace::open(&settings.manifest)?;
    let cache = settings.cache()?;
    let connected = settings.connect(&workspace)?;
    let state = std::sync::Mutex::new(workspace.open_state()?);
    let jobs = settings.jobs(args.planning.jobs);
    let options = settings.prepare_options(!args.no_build, jobs);
    let deploy = Deploy {
        workspace: &workspace,
        connected: &connected,
        state: &state,
        cache: &cache,
    };
    let reporter = FetchProgress::new(settings.printer, false);
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    let planned = runtime.block_on(deploy.plan(
        &args.planning.target,
        &options,
        &reporter,
        std::sync::Arc::new(PackProgress::new(settings.printer)),
    ))?;
    let plan = &planned.plan;
    if args.json {
        settings.printer.json(plan);
    } else {
        settings
            .printer
            .data(render::render(plan, settings.printer.color()).trim_end());
    }
    if let Some(out) = &args.out {
        saved::save(plan, out)?;
        settings.printer.status(
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
