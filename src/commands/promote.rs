//! `slugplan promote`: the imperative promotion, for CI jobs.

use std::fmt::Write;
use std::time::Duration;

use crate::checksum::short;
use crate::cli::args::PromoteArgs;
use crate::exit_status::ExitStatus;
use crate::ops::promote::{Preview, Report, prepare, run as promote};

use super::shared::{RELEASE_TIMEOUT, confirm};
use super::{JSON_FORMAT_VERSION, Session};

/// Checks the promotion, shows it, confirms, promotes, and reports every target.
pub async fn run(args: &PromoteArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    session.lock_applies(Duration::ZERO).await?;
    let workspace = session.workspace()?;
    let connected = session.connected()?;
    let state = session.state().await?;
    let targets: Vec<String> = if args.to.is_empty() {
        let manifest = &workspace.loaded.manifest;
        manifest
            .promoted_to(&args.source)
            .into_iter()
            .map(str::to_owned)
            .collect()
    } else {
        args.to.clone()
    };
    let platform = connected.platform.as_ref();
    let preview = prepare(
        platform,
        state,
        &connected.id,
        &args.source,
        &targets,
        args.allow_downgrade,
    )
    .await?;
    if !args.json {
        printer.data(preview_text(&preview).trim_end());
    }
    if preview.targets.iter().all(|t| t.action == "no-op") {
        if args.json {
            printer.json(&document(&preview.unchanged(), false, None));
        }
        return Ok(ExitStatus::Success);
    }
    if !args.yes && !confirm()? {
        printer.status("Cancelled", "nothing was promoted");
        return Ok(ExitStatus::Failure);
    }
    let report = promote(
        platform,
        state,
        &connected.id,
        preview,
        RELEASE_TIMEOUT,
        session.command_line(),
        &workspace.manifest_sha256,
    )
    .await?;
    if !args.json {
        printer.data(report_text(&report).trim_end());
    }
    if report.failed > 0 {
        let failed: Vec<&str> = report
            .targets
            .iter()
            .filter(|t| t.status == "failed")
            .map(|t| t.app.as_str())
            .collect();
        let error = miette::miette!(
            help = "the other targets were promoted; fix the cause and run the promotion again",
            "promotion failed for {}",
            failed.join(", ")
        );
        if args.json {
            let document = document(&report, true, Some(&error));
            return Ok(super::shared::failed_with(printer, &document, &error));
        }
        return Err(error);
    }
    if args.json {
        printer.json(&document(&report, true, None));
    }
    Ok(ExitStatus::Success)
}

/// The `--json` document: versioned, the source, one object per target (the same fields
/// whatever happened to it), the counts, and the error when a target failed.
fn document(report: &Report, applied: bool, error: Option<&miette::Report>) -> serde_json::Value {
    serde_json::json!({
        "format_version": JSON_FORMAT_VERSION,
        "source": report.source,
        "targets": report.targets,
        "applied": applied,
        "promoted": report.promoted,
        "unchanged": report.unchanged,
        "failed": report.failed,
        "error": error.map(|e| crate::cli::diagnostics::record(e.as_ref())),
    })
}

fn checksum(c: Option<&str>) -> String {
    c.map_or("no slug".into(), short)
}

fn preview_text(preview: &Preview) -> String {
    let source = &preview.source;
    let mut out = format!(
        "Promote {} v{} ({}, {}):\n",
        source.app,
        source.version,
        checksum(source.checksum.as_deref()),
        source.stack
    );
    for target in &preview.targets {
        let running = target
            .version
            .map_or("no release".into(), |v| format!("v{v}"));
        if target.action == "no-op" {
            let _ = writeln!(out, "    {}  already runs it ({running})", target.app);
            continue;
        }
        let _ = writeln!(
            out,
            "  » {}  {running} ({}) → {}  via {}{}",
            target.app,
            checksum(target.checksum.as_deref()),
            checksum(source.checksum.as_deref()),
            target.via,
            if target.downgrade {
                ", downgrades a newer release"
            } else {
                ""
            }
        );
    }
    out
}

fn report_text(report: &Report) -> String {
    let mut out = String::new();
    for target in &report.targets {
        let line = match (target.status, &target.error) {
            (_, Some(error)) => format!("  ✗ {}  failed: {error}", target.app),
            ("unchanged", _) => format!("    {}  unchanged", target.app),
            _ => format!(
                "  ✓ {}  v{} via {}",
                target.app,
                target.version.unwrap_or(0),
                target.via
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Promote complete! {} promoted, {} unchanged, {} failed.",
        report.promoted, report.unchanged, report.failed
    );
    out
}
