//! `slugplan init`: write a first slug.toml for the project in the manifest's directory.

use crate::cli::args::InitArgs;
use crate::exit_status::ExitStatus;
use crate::ops::init::{InitRequest, init};

use super::{JSON_FORMAT_VERSION, Session};

/// Writes the manifest, says what it found and what to run next.
pub fn run(args: &InitArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let manifest = &session.settings().manifest;
    let done = init(&InitRequest {
        manifest,
        app: args.app.as_deref(),
        stack: &args.stack,
    })?;
    if args.json {
        printer.json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "init": done,
        }));
        return Ok(ExitStatus::Success);
    }
    let runtimes = if done.runtimes.is_empty() {
        "no runtime".to_owned()
    } else {
        format!("runtimes {}", done.runtimes.join(", "))
    };
    let go = if done.found.go.is_some() {
        ", a Go build"
    } else {
        ""
    };
    printer.status(
        "Wrote",
        format_args!(
            "{} for app {} ({runtimes}{go})",
            done.manifest.display(),
            done.app
        ),
    );
    if done.gitignore_updated {
        printer.status(
            "Ignored",
            format_args!(".slugplan/ in {}", done.gitignore.display()),
        );
    }
    for note in &done.found.notes {
        printer.warn(note);
    }
    // `-f` is repeated in the next commands when the manifest is not the default one.
    let file = if manifest.as_os_str() == "slug.toml" {
        String::new()
    } else {
        format!(" -f {}", manifest.display())
    };
    printer.data(format_args!(
        "Next:\n  slugplan{file} lock    # pin each runtime's sha256 in slug.lock (commit it)\n  slugplan{file} plan    # what `slugplan{file} apply` would do"
    ));
    Ok(ExitStatus::Success)
}
