//! `slugplan rollback`: re-release the slug of an earlier release.

use std::sync::Mutex;
use std::time::Duration;

use miette::IntoDiagnostic;

use crate::cli::ExitStatus;
use crate::cli::args::RollbackArgs;
use crate::cli::settings::GlobalSettings;
use crate::ops::releases::rollback;
use crate::plan::diff::short;
use crate::state::ApplyLock;
use crate::workspace::Workspace;

/// Rolls the app back and says what it runs now.
pub fn run(args: &RollbackArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let workspace = Workspace::open(&settings.manifest)?;
    let command = super::apply::command_line();
    let _lock = ApplyLock::acquire(&workspace.state_dir(), &command, Duration::ZERO)?;
    let connected = settings.connect(&workspace)?;
    let state = Mutex::new(workspace.open_state()?);
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    let report = runtime.block_on(rollback(
        connected.platform.as_ref(),
        &state,
        &connected.id,
        &args.app,
        args.to.as_deref(),
        super::apply::RELEASE_TIMEOUT,
    ))?;
    if args.json {
        settings.printer.json(&serde_json::json!({
            "format_version": crate::plan::FORMAT_VERSION,
            "rollback": report,
        }));
    } else {
        let checksum = report
            .checksum
            .as_deref()
            .map_or("no checksum".into(), short);
        settings.printer.data(format_args!(
            "Rolled back {} to v{}: v{} runs slug {} ({checksum}).",
            report.app, report.to_version, report.version, report.slug_id
        ));
    }
    Ok(ExitStatus::Success)
}
