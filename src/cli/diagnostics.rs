//! The only error renderer: `error:`, the chain of causes, the source snippet and `help:`.
//!
//! Colour follows the resolved `--color` / `NO_COLOR` / TTY decision; without colour the output
//! is plain text (no ANSI escapes, no terminal hyperlinks) and has a fixed width, so it reads the
//! same in a CI log, a pipe and a test snapshot. Messages, causes and help are not wrapped: a
//! URL, a path, an id or a time is never cut at a hyphen or a slash, or anywhere else (the
//! width is the source snippets'; miette's wrapping split words at hyphens and after slashes,
//! and textwrap's never-break-words mode loses a cause chain's `│`).
//!
//! An error made of several (a manifest's problems, an apply's failed steps) is rendered as the
//! error, then each of its parts as an error of its own, a blank line apart: miette's own
//! rendering of related errors puts a bare `Error:` line before each, which reads as a second,
//! unexplained failure.

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};

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

/// Installs the renderer as miette's hook, with or without colour, so that a `Report`'s
/// `Debug` renders as [`render`] does.
pub fn install(color: bool) {
    // A hook installed twice (tests calling this again) keeps the first one: same settings.
    let _ = miette::set_hook(Box::new(move |_| Box::new(Renderer { color })));
}

/// miette's hook: [`render`] behind miette's handler trait.
struct Renderer {
    color: bool,
}

impl miette::ReportHandler for Renderer {
    fn debug(&self, diagnostic: &dyn Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(render(diagnostic, self.color).trim_end())
    }
}

/// Renders `diagnostic` to a string, as [`report`] prints it: the error, then each related
/// error on its own.
pub fn render(diagnostic: &dyn Diagnostic, color: bool) -> String {
    let handler = handler(color);
    let mut out = String::new();
    render_into(&handler, &mut out, diagnostic);
    out
}

fn render_into(handler: &GraphicalReportHandler, out: &mut String, diagnostic: &dyn Diagnostic) {
    handler
        .render_report(out, &Alone(diagnostic))
        .expect("rendering into a String cannot fail");
    for related in diagnostic.related().into_iter().flatten() {
        out.push('\n');
        render_into(handler, out, related);
    }
}

/// Prints `report` to stderr, through the hook [`install`] set.
pub fn report(report: &miette::Report) {
    #[expect(clippy::print_stderr, reason = "this is the error renderer")]
    {
        eprintln!("{report:?}");
    }
}

/// An error as `--json` reports it: the same code, message, causes, help and located labels
/// the terminal rendering shows, and the errors it is made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorRecord {
    /// The stable kind of error, e.g. `slugplan::manifest::unknown_slug` (None: not given).
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// Its causes, outermost first.
    pub causes: Vec<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// The file of the first label (the error's location), as shown to the user.
    pub file: Option<String>,
    /// 1-based line of the first label.
    pub line: Option<usize>,
    /// 1-based column, in characters, of the first label.
    pub column: Option<usize>,
    /// Every underlined span: its text and where it is.
    pub labels: Vec<LabelRecord>,
    /// The errors this one is made of (a manifest's problems, an apply's failed steps).
    pub related: Vec<ErrorRecord>,
}

/// One underlined span of an [`ErrorRecord`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LabelRecord {
    /// The text under the span (None: a bare underline).
    pub label: Option<String>,
    /// The file, as shown to the user.
    pub file: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// `diagnostic` as `--json` reports it.
pub fn record(diagnostic: &dyn Diagnostic) -> ErrorRecord {
    let source = diagnostic.source_code();
    let labels: Vec<LabelRecord> = match (source, diagnostic.labels()) {
        (Some(source), Some(labels)) => labels.filter_map(|l| locate(source, &l)).collect(),
        _ => Vec::new(),
    };
    let mut causes = Vec::new();
    let mut cause = diagnostic.source();
    while let Some(err) = cause {
        causes.push(err.to_string());
        cause = err.source();
    }
    let first = labels.first();
    ErrorRecord {
        code: diagnostic.code().map(|c| c.to_string()),
        message: diagnostic.to_string(),
        causes,
        help: diagnostic.help().map(|h| h.to_string()),
        file: first.and_then(|l| l.file.clone()),
        line: first.map(|l| l.line),
        column: first.map(|l| l.column),
        related: diagnostic
            .related()
            .into_iter()
            .flatten()
            .map(record)
            .collect(),
        labels,
    }
}

/// Where `label` is in `source`: miette's line, and the column counted in characters (miette
/// counts bytes).
fn locate(source: &dyn SourceCode, label: &LabeledSpan) -> Option<LabelRecord> {
    let contents = source.read_span(label.inner(), 0, 0).ok()?;
    let bytes = contents.column();
    let before = source
        .read_span(&(label.offset() - bytes, bytes).into(), 0, 0)
        .ok()?;
    let before = &before.data()[..bytes.min(before.data().len())];
    Some(LabelRecord {
        label: label.label().map(str::to_owned),
        file: contents.name().map(str::to_owned),
        line: contents.line() + 1,
        column: String::from_utf8_lossy(before).chars().count() + 1,
    })
}

/// A diagnostic without its related errors (they are rendered after it, each on its own).
struct Alone<'a>(&'a dyn Diagnostic);

impl fmt::Debug for Alone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Alone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)
    }
}

impl std::error::Error for Alone<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Diagnostic for Alone<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.labels()
    }
    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.0.diagnostic_source()
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
    fn a_record_has_the_location_in_characters() {
        let text: Arc<str> = Arc::from("[apps.wéb]\nslug = \"nope\"\n");
        let diagnostic = SourceDiagnostic::new("slugplan::test", "no such slug")
            .in_file("slug.toml", text)
            .with_label(19..25, "no such slug");
        let record = record(&diagnostic);
        assert_eq!(record.code.as_deref(), Some("slugplan::test"));
        assert_eq!(
            (record.file.as_deref(), record.line, record.column),
            (Some("slug.toml"), Some(2), Some(8))
        );
        assert_eq!(record.labels[0].label.as_deref(), Some("no such slug"));
    }

    #[test]
    fn wrapping_never_cuts_a_url_or_a_time_at_a_hyphen_or_slash() {
        // Placed so that the line is full in the middle of each: miette's default splits at
        // the hyphens of `heroku-buildpack-ruby` and of the date, and after a `/`.
        let url = "https://heroku-buildpack-ruby.s3.us-east-1.amazonaws.com/heroku-24/amd64/ruby-3.3.6.tgz";
        let time = "2026-03-21T12:34:56Z";
        for pad in 0..60 {
            let message = format!("{} {url} at {time} failed", "x".repeat(pad));
            let diagnostic = SourceDiagnostic::new("slugplan::test", message);
            let text = render(&diagnostic, false);
            assert!(text.contains(url), "{text}");
            assert!(text.contains(time), "{text}");
        }
    }

    #[test]
    fn related_errors_render_without_a_bare_error_line() {
        #[derive(Debug, thiserror::Error, miette::Diagnostic)]
        #[error("2 steps failed")]
        struct Many {
            #[related]
            parts: Vec<SourceDiagnostic>,
        }
        let many = Many {
            parts: vec![sample(), sample()],
        };
        let text = render(&many, false);
        assert!(!text.contains("Error:"), "{text}");
        assert_eq!(
            text.matches("slugplan::manifest::unknown_slug").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn coloured_rendering_uses_escapes() {
        assert!(render(&sample(), true).contains('\u{1b}'));
    }
}
