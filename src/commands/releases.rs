//! `slugplan releases`: an app's releases, like `heroku releases`, with checksums.

use std::fmt::Write;

use crate::checksum::short;
use crate::cli::args::ReleasesArgs;
use crate::exit_status::ExitStatus;
use crate::ops::releases::list;

use super::{JSON_FORMAT_VERSION, Session};

/// Lists the newest releases of an app.
pub async fn run(args: &ReleasesArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let connected = session.connected()?;
    let state = session.state().await?;
    let platform = connected.platform.as_ref();
    let rows = list(platform, state, &connected.id, &args.app, args.limit).await?;
    if args.json {
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
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
    printer.data(out.trim_end());
    Ok(ExitStatus::Success)
}
