//! A problem located in a source file (slug.toml, a Procfile, slug.lock), rendered by miette with
//! the offending text underlined (and, through miette's `Diagnostic`, as JSON by `--json`
//! commands: `cli::diagnostics::record`).
//!
//! [`SourceDiagnostic`] is deliberately one concrete type rather than one per problem: validation
//! collects many of them into a single report, and other modules (the lock file, the step graph)
//! build them through [`crate::manifest::TomlLocator::diagnostic_at`] without new plumbing.
//!
//! What a diagnostic quotes is bounded, whatever the file holds: a line longer than
//! [`MAX_QUOTED_LINE`] characters is cut (a 10 MB app name gives a one-screen diagnostic), a
//! value named in a message is cut by [`shown`], and a file slugplan reads for the manifest but
//! that is not the manifest (a Procfile) is quoted by the offending line only, never the lines
//! around it ([`SourceDiagnostic::offending_line_only`]).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{
    Diagnostic, LabeledSpan, MietteError, NamedSource, SourceCode, SourceSpan, SpanContents,
};

use super::spans::line_column;

/// The most characters of one line a diagnostic quotes; the rest of the line shows as `…`.
pub const MAX_QUOTED_LINE: usize = 160;

/// The most characters of a value (a name, a path, a URL) a message quotes.
pub const MAX_SHOWN_VALUE: usize = 64;

/// What stands for the cut part of a line or value.
const ELLIPSIS: &str = "…";

/// `value` as a message quotes it: control characters escaped (a name cannot move the cursor
/// or hide text), and cut after [`MAX_SHOWN_VALUE`] characters with its length in bytes.
pub fn shown(value: &str) -> String {
    let escaped: String = value.escape_debug().take(MAX_SHOWN_VALUE + 1).collect();
    if escaped.chars().count() <= MAX_SHOWN_VALUE {
        return escaped;
    }
    let kept: String = escaped.chars().take(MAX_SHOWN_VALUE).collect();
    format!("{kept}{ELLIPSIS} ({} bytes)", value.len())
}

/// A file's text and the view of it diagnostics quote: every line longer than
/// [`MAX_QUOTED_LINE`] characters cut there and ended with `…`. Spans into the text are mapped
/// into the view ([`QuotedText::map`]); line numbers do not change. Built once per file and
/// shared by its diagnostics.
#[derive(Debug)]
pub struct QuotedText {
    text: Arc<str>,
    view: Arc<str>,
    cuts: Vec<Cut>,
}

/// One cut line, in offsets of the text: its part `kept_end..end` became `…` in the view.
#[derive(Debug)]
struct Cut {
    start: usize,
    kept_end: usize,
    end: usize,
    /// Where `…` starts in the view.
    view_at: usize,
    /// How many bytes shorter the view is than the text after this cut.
    shift_after: usize,
}

impl QuotedText {
    /// The view of `text`.
    pub fn new(text: Arc<str>) -> Self {
        let mut cuts = Vec::new();
        let mut view = String::new();
        let mut shift = 0;
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches('\n');
            // A line only just over the limit is shown whole: `…` would not be shorter than
            // what it stands for (and the view must never be longer than the text).
            let cut = body
                .char_indices()
                .nth(MAX_QUOTED_LINE)
                .filter(|&(kept, _)| body.len() - kept > ELLIPSIS.len());
            match cut {
                Some((kept, _)) => {
                    if cuts.is_empty() {
                        view.push_str(&text[..start]);
                    }
                    view.push_str(&body[..kept]);
                    let view_at = view.len();
                    view.push_str(ELLIPSIS);
                    view.push_str(&line[body.len()..]);
                    shift += body.len() - kept - ELLIPSIS.len();
                    cuts.push(Cut {
                        start,
                        kept_end: start + kept,
                        end: start + body.len(),
                        view_at,
                        shift_after: shift,
                    });
                }
                None if !cuts.is_empty() => view.push_str(line),
                None => {}
            }
            start += line.len();
        }
        let view = if cuts.is_empty() {
            Arc::clone(&text)
        } else {
            Arc::from(view)
        };
        QuotedText { text, view, cuts }
    }

    /// The whole text.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// The view diagnostics quote.
    pub fn view(&self) -> &Arc<str> {
        &self.view
    }

    /// `span` of the text as a span of the view: inside a cut part it becomes the `…`.
    pub fn map(&self, span: Range<usize>) -> Range<usize> {
        let start = self.map_offset(span.start, false);
        let end = self.map_offset(span.end, true).max(start);
        start..end
    }

    fn map_offset(&self, offset: usize, end: bool) -> usize {
        let index = self.cuts.partition_point(|cut| cut.start <= offset);
        let shift_before = |i: usize| i.checked_sub(1).map_or(0, |i| self.cuts[i].shift_after);
        let Some(cut) = index.checked_sub(1).map(|i| &self.cuts[i]) else {
            return offset;
        };
        if offset <= cut.kept_end {
            offset - shift_before(index - 1)
        } else if offset <= cut.end {
            cut.view_at + if end { ELLIPSIS.len() } else { 0 }
        } else {
            offset - cut.shift_after
        }
    }
}

/// One problem in a source file, with zero or more underlined spans and an optional hint.
#[derive(Debug, Clone)]
pub struct SourceDiagnostic {
    code: &'static str,
    message: String,
    file: Option<SourceFile>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

/// A file's name (as shown to the user) and text, and how much of it may be quoted.
#[derive(Debug, Clone)]
struct SourceFile {
    name: String,
    quoted: Arc<QuotedText>,
    source: Quoting,
}

/// The view of a file as miette reads it: with the lines around a label, or the labelled
/// lines alone.
#[derive(Debug, Clone)]
struct Quoting {
    named: NamedSource<Arc<str>>,
    offending_line_only: bool,
}

impl SourceCode for Quoting {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        if self.offending_line_only {
            self.named.read_span(span, 0, 0)
        } else {
            self.named
                .read_span(span, context_lines_before, context_lines_after)
        }
    }
}

impl SourceDiagnostic {
    /// A problem with a stable `code` (e.g. `slugplan::manifest::unknown-slug`) and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SourceDiagnostic {
            code,
            message: message.into(),
            file: None,
            labels: Vec::new(),
            help: None,
        }
    }

    /// Says which file the labels point into: `name` as the user should read it, and its text.
    pub fn in_file(self, name: impl Into<String>, text: Arc<str>) -> Self {
        self.in_quoted_file(name, Arc::new(QuotedText::new(text)))
    }

    /// [`SourceDiagnostic::in_file`] with the file's [`QuotedText`] already built (shared by
    /// every diagnostic in the file).
    pub fn in_quoted_file(mut self, name: impl Into<String>, quoted: Arc<QuotedText>) -> Self {
        let name = name.into();
        self.file = Some(SourceFile {
            source: Quoting {
                named: NamedSource::new(&name, Arc::clone(quoted.view())),
                offending_line_only: false,
            },
            name,
            quoted,
        });
        self
    }

    /// Quotes only the lines the labels are on, not the lines around them: for a file slugplan
    /// reads because the manifest names it (a Procfile), whose other lines are none of the
    /// diagnostic's business.
    pub fn offending_line_only(mut self) -> Self {
        if let Some(file) = &mut self.file {
            file.source.offending_line_only = true;
        }
        self
    }

    /// Underlines the bytes `span` of the file with `label` under them. The first label is the
    /// primary one: its line and column are the diagnostic's location.
    pub fn with_label(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        let span = match &self.file {
            Some(file) => file.quoted.map(span),
            None => span,
        };
        let span = (span.start, span.end.saturating_sub(span.start));
        let labeled = if self.labels.is_empty() {
            LabeledSpan::new_primary_with_span(Some(label.into()), span)
        } else {
            LabeledSpan::new_with_span(Some(label.into()), span)
        };
        self.labels.push(labeled);
        self
    }

    /// Adds a hint saying how to fix the problem.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The stable code naming the kind of problem.
    pub fn code_name(&self) -> &'static str {
        self.code
    }

    /// The message, without location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The file the problem is in, as shown to the user.
    pub fn file_name(&self) -> Option<&str> {
        self.file.as_ref().map(|f| f.name.as_str())
    }

    /// Line and column (1-based) of the primary label, in the quoted view (the same line; a
    /// column past a cut is the cut's).
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let file = self.file.as_ref()?;
        let first = self.labels.first()?;
        Some(line_column(file.quoted.view(), first.offset()))
    }
}

impl fmt::Display for SourceDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SourceDiagnostic {}

impl Diagnostic for SourceDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.file.as_ref().map(|f| &f.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.file.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_the_first_labels_start() {
        let text: Arc<str> = Arc::from("[apps.web]\nslug = \"nope\"\n");
        let diag = SourceDiagnostic::new("slugplan::test", "no such slug")
            .in_file("slug.toml", text)
            .with_label(18..24, "here")
            .with_label(1..5, "and here");
        assert_eq!(diag.line_column(), Some((2, 8)));
        assert_eq!(diag.file_name(), Some("slug.toml"));
    }

    #[test]
    fn long_lines_are_cut_and_spans_follow() {
        let long = "x".repeat(10_000);
        let text: Arc<str> = Arc::from(format!("a = 1\n[apps.{long}]\nslug = \"web\"\n"));
        let quoted = QuotedText::new(Arc::clone(&text));
        let view = quoted.view();
        assert!(view.len() < 300, "{view}");
        assert!(view.contains(&format!("[apps.{}…\nslug", &long[..MAX_QUOTED_LINE - 6])));
        // A span after the cut line moves with it; one inside the cut part becomes the `…`.
        let slug = text.find("slug").unwrap();
        assert_eq!(&view[quoted.map(slug..slug + 4)], "slug");
        assert_eq!(&view[quoted.map(6..7)], "[");
        assert_eq!(&view[quoted.map(3000..4000)], "…");
        let key = text.find('x').unwrap();
        assert!(view[quoted.map(key..key + long.len())].ends_with("x…"));
        // Short lines are quoted as they are.
        let short: Arc<str> = Arc::from("a = 1\n");
        assert_eq!(&**QuotedText::new(Arc::clone(&short)).view(), &*short);
    }

    #[test]
    fn a_line_just_over_the_limit_is_quoted_whole() {
        // Found by the manifest fuzz target: cutting one character off a line made the view
        // longer than the text, and the offsets' arithmetic overflowed.
        for over in 1..=ELLIPSIS.len() {
            let text: Arc<str> =
                Arc::from(format!("{}\nb = 2\n", "a".repeat(MAX_QUOTED_LINE + over)));
            let quoted = QuotedText::new(Arc::clone(&text));
            assert_eq!(&**quoted.view(), &*text, "{over} over");
            let b = text.find('b').unwrap();
            assert_eq!(&quoted.view()[quoted.map(b..b + 1)], "b");
        }
        let text = format!("{}\n", "a".repeat(MAX_QUOTED_LINE + ELLIPSIS.len() + 1));
        let quoted = QuotedText::new(Arc::from(text.as_str()));
        assert!(quoted.view().ends_with("a…\n"), "{}", quoted.view());
        assert!(quoted.view().len() < text.len());
    }

    #[test]
    fn a_shown_value_is_escaped_and_cut() {
        assert_eq!(shown("web"), "web");
        assert_eq!(shown("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        let long = shown(&"n".repeat(10 << 20));
        assert_eq!(
            long,
            format!("{}… (10485760 bytes)", "n".repeat(MAX_SHOWN_VALUE))
        );
    }

    #[test]
    fn an_offending_line_only_diagnostic_quotes_no_other_line() {
        let text: Arc<str> = Arc::from("SECRET=1\nweb worker: x\nTOKEN=2\n");
        let diag = SourceDiagnostic::new("slugplan::test", "bad")
            .in_file("Procfile", text)
            .offending_line_only()
            .with_label(9..19, "invalid process type");
        let mut shown = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_context_lines(1)
            .render_report(&mut shown, &diag)
            .unwrap();
        assert!(shown.contains("web worker"), "{shown}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("TOKEN"),
            "{shown}"
        );
        assert_eq!(diag.line_column(), Some((2, 1)));
    }

    #[test]
    fn without_a_file_there_is_no_location() {
        let diag = SourceDiagnostic::new("slugplan::test", "x").with_label(0..1, "here");
        assert_eq!(diag.line_column(), None);
        assert!(diag.labels().is_none());
    }
}
