//! `slugplan releases`: an app's releases, like `heroku releases`, with checksums.

use std::fmt::Write;
use std::sync::Mutex;

use miette::IntoDiagnostic;

use crate::cli::ExitStatus;
use crate::cli::args::ReleasesArgs;
use crate::cli::settings::GlobalSettings;
use crate::ops::releases::list;
use crate::plan::diff::short;
use crate::workspace::Workspace;

/// Lists the newest releases of an app.
pub fn run(args: &ReleasesArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let workspace = Workspace::open(&settings.manifest)?;
    let connected = settings.connect(&workspace)?;
    let state = Mutex::new(workspace.open_state()?);
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    let rows = runtime.block_on(list(
        connected.platform.as_ref(),
        &state,
        &connected.id,
        &args.app,
        args.limit,
    ))?;
    if args.json {
        settings.printer.json(&serde_json::json!({
            "format_version": crate::plan::FORMAT_VERSION,
            "app": args.app,
            "releases": rows,
        }));
        return Ok(ExitStatus::Success);
    }
    let mut out = format!("=== {} Releases\n", args.app);
    if rows.is_empty() {
        out.push_str("No releases yet.\n");
    }
    for row in &rows {
        let checksum = row.checksum.as_deref().map_or("no checksum".into(), short);
        let status = format!("{:?}", row.status).to_lowercase();
        let _ = writeln!(
            out,
            "v{:<4} {checksum:<27} {:<10} {:<8} {:<9} {}  {}",
            row.version,
            status,
            if row.current { "current" } else { "" },
            if row.by_slugplan { "slugplan" } else { "" },
            row.created_at,
            row.description,
        );
    }
    settings.printer.data(out.trim_end());
    Ok(ExitStatus::Success)
}
