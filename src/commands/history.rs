//! `slugplan history`: the audit log of past applies.

use std::fmt::Write;

use crate::cli::args::HistoryArgs;
use crate::exit_status::ExitStatus;

use super::{JSON_FORMAT_VERSION, Session};

/// Prints the newest applies and what each step did.
pub async fn run(args: &HistoryArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let history = session.state().await?.history(args.limit).await?;
    if args.json {
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "entries": history,
        }));
        return Ok(ExitStatus::Success);
    }
    if history.is_empty() {
        printer.data("No applies recorded yet.");
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
    printer.data(out.trim_end());
    Ok(ExitStatus::Success)
}
