//! `slugplan ps`: an app's dynos, like `heroku ps`, on either platform: type, state, port
//! (the local platform's), how long in that state, and the release each runs.

use std::fmt::Write;

use crate::cli::args::PsArgs;
use crate::exit_status::ExitStatus;
use crate::platform::Dyno;

use super::{JSON_FORMAT_VERSION, Session};

/// Lists the dynos of `args.app`, or of every app of the manifest.
pub async fn run(args: &PsArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let connected = session.connected()?;
    let apps: Vec<String> = match &args.app {
        Some(app) => vec![app.clone()],
        None => session.manifest()?.manifest.apps.keys().cloned().collect(),
    };
    let mut all = Vec::new();
    for app in apps {
        let mut dynos = connected.platform.dynos(&app).await?;
        // As `heroku ps` shows them: the current release's by type and number (`web.2` before
        // `web.10`), then the previous release's.
        dynos.sort_by_key(|d| {
            let number: u64 = d
                .name
                .rsplit_once('.')
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0);
            (d.previous_release, d.process_type.clone(), number)
        });
        all.push((app, dynos));
    }
    if args.json {
        let apps: Vec<serde_json::Value> = all
            .iter()
            .map(|(app, dynos)| serde_json::json!({ "app": app, "dynos": dynos }))
            .collect();
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "apps": apps,
        }));
        return Ok(ExitStatus::Success);
    }
    let now = jiff::Timestamp::now();
    let mut out = String::new();
    for (app, dynos) in &all {
        let _ = writeln!(out, "=== {app}");
        if dynos.is_empty() {
            out.push_str("No dynos.\n");
        }
        for dyno in dynos {
            let _ = writeln!(out, "{}", row(dyno, now));
        }
        out.push('\n');
    }
    printer.data(out.trim_end());
    Ok(ExitStatus::Success)
}

/// `web.1  up  port 41234  for 2m  v3  node web.js`, and why when the platform says.
fn row(dyno: &Dyno, now: jiff::Timestamp) -> String {
    let port = dyno.port.map_or_else(String::new, |p| format!("port {p}"));
    let since = dyno
        .updated_at
        .parse::<jiff::Timestamp>()
        .ok()
        .map_or_else(String::new, |at| {
            format!("for {}", age(now.duration_since(at)))
        });
    let release = match (dyno.release_version, dyno.previous_release) {
        (Some(v), true) => format!("v{v} (previous)"),
        (Some(v), false) => format!("v{v}"),
        (None, _) => String::new(),
    };
    let mut line = format!(
        "{:<10} {:<9} {:<10} {:<10} {:<15} {}",
        dyno.name,
        dyno.state.as_str(),
        port,
        since,
        release,
        dyno.command
    );
    if let Some(detail) = &dyno.detail {
        let _ = write!(line, "  ({detail})");
    }
    line.trim_end().to_owned()
}

/// `5s`, `3m`, `2h`, `4d`.
fn age(elapsed: jiff::SignedDuration) -> String {
    let secs = elapsed.as_secs().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}
