//! `slugplan history`: the audit log of past applies.

use std::fmt::Write;

use crate::cli::ExitStatus;
use crate::cli::args::HistoryArgs;
use crate::cli::settings::GlobalSettings;
use crate::workspace::Workspace;

/// Prints the newest applies and what each step did.
pub fn run(args: &HistoryArgs, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let workspace = Workspace::open(&settings.manifest)?;
    let history = workspace.open_state()?.history(args.limit)?;
    if args.json {
        settings.printer.json(&history);
        return Ok(ExitStatus::Success);
    }
    if history.is_empty() {
        settings.printer.data("No applies recorded yet.");
        return Ok(ExitStatus::Success);
    }
    let mut out = String::new();
    for record in &history {
        let outcome = record.outcome.as_deref().unwrap_or("interrupted");
        let _ = writeln!(
            out,
            "#{} {} {} ({outcome}) on {}",
            record.id, record.started_at, record.command, record.platform
        );
        for event in &record.events {
            let _ = writeln!(
                out,
                "    {} {:<8} {:<8} {}",
                event.at, event.outcome, event.action, event.address
            );
            if !event.detail.is_empty() {
                let _ = writeln!(out, "        {}", event.detail);
            }
        }
    }
    settings.printer.data(out.trim_end());
    Ok(ExitStatus::Success)
}
