//! The only error renderer: `error:`, the chain of causes, the source snippet and `help:`.
//!
//! Colour follows the resolved `--color` / `NO_COLOR` / TTY decision; without colour the output
//! is plain text (no ANSI escapes, no terminal hyperlinks) and has a fixed width, so it reads the
//! same in a CI log, a pipe and a test snapshot. Messages, causes and help are not wrapped: a
//! URL, a path, an id or a time is never cut at a hyphen or a slash, or anywhere else (the
//! width is the source snippets'; miette's wrapping splits words at hyphens and after slashes).

use miette::{GraphicalReportHandler, GraphicalTheme};

/// How wide rendered diagnostics are, so that output does not depend on the terminal.
const WIDTH: usize = 100;

/// The handler slugplan renders reports with.
pub fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_context_lines(1)
        .with_width(WIDTH)
        // Messages are not wrapped: one line each, whatever its length, so that a URL, a
        // path with its hash or a time is never cut (a terminal wraps long lines itself).
        .with_wrap_lines(false)
}

/// Installs [`handler`] as miette's renderer, with or without colour.
pub fn install(color: bool) {
    // A hook installed twice (tests calling this again) keeps the first one: same settings.
    let _ = miette::set_hook(Box::new(move |_| Box::new(handler(color))));
}

/// Renders `diagnostic` to a string, as [`report`] would print it.
pub fn render(diagnostic: &dyn miette::Diagnostic, color: bool) -> String {
    let mut out = String::new();
    handler(color)
        .render_report(&mut out, diagnostic)
        .expect("rendering into a String cannot fail");
    out
}

/// Prints `report` to stderr.
pub fn report(report: &miette::Report) {
    #[expect(clippy::print_stderr, reason = "this is the error renderer")]
    {
        eprintln!("{report:?}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::manifest::SourceDiagnostic;

    fn sample() -> SourceDiagnostic {
        let text: Arc<str> = Arc::from("[apps.web]\nslug = \"nope\"\n");
        SourceDiagnostic::new(
            "slugplan::manifest::unknown_slug",
            "app `web` runs slug `nope`",
        )
        .in_file("slug.toml", text)
        .with_label(18..24, "no such slug")
        .with_help("defined slugs: api")
    }

    #[test]
    fn plain_rendering_has_no_escapes_and_shows_the_location() {
        let text = render(&sample(), false);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("[slug.toml:2:8]"), "{text}");
        assert!(text.contains("no such slug"), "{text}");
        assert!(text.contains("help: defined slugs: api"), "{text}");
    }

    #[test]
    fn coloured_rendering_uses_escapes() {
        assert!(render(&sample(), true).contains('\u{1b}'));
    }
}
