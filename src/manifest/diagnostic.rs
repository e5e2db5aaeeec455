//! A problem located in a source file (slug.toml, a Procfile, slug.lock), rendered by miette with
//! the offending text underlined and reported as JSON by `--json` commands.
//!
//! [`SourceDiagnostic`] is deliberately one concrete type rather than one per problem: validation
//! collects many of them into a single report, and other modules (the lock file, the step graph)
//! build them through [`crate::manifest::TomlLocator::diagnostic_at`] without new plumbing.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

use super::spans::line_column;

/// One problem in a source file, with zero or more underlined spans and an optional hint.
#[derive(Debug, Clone)]
pub struct SourceDiagnostic {
    code: &'static str,
    message: String,
    file: Option<SourceFile>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

/// A file's name (as shown to the user) and text.
#[derive(Debug, Clone)]
struct SourceFile {
    name: String,
    text: Arc<str>,
    named: NamedSource<Arc<str>>,
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
    pub fn in_file(mut self, name: impl Into<String>, text: Arc<str>) -> Self {
        let name = name.into();
        self.file = Some(SourceFile {
            named: NamedSource::new(&name, Arc::clone(&text)),
            name,
            text,
        });
        self
    }

    /// Underlines the bytes `span` of the file with `label` under them. The first label is the
    /// primary one: its line and column are the diagnostic's location.
    pub fn with_label(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
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

    /// Line and column (1-based) of the primary label.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let file = self.file.as_ref()?;
        let first = self.labels.first()?;
        Some(line_column(&file.text, first.offset()))
    }

    /// The diagnostic as a JSON-ready record, for `--json` output.
    pub fn record(&self) -> DiagnosticRecord {
        let (line, column) = self.line_column().unzip();
        DiagnosticRecord {
            code: self.code.to_owned(),
            message: self.message.clone(),
            file: self.file_name().map(str::to_owned),
            line,
            column,
            labels: self
                .labels
                .iter()
                .filter_map(|l| l.label().map(str::to_owned))
                .collect(),
            help: self.help.clone(),
        }
    }
}

/// A [`SourceDiagnostic`] as `--json` output reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticRecord {
    /// Stable kind of problem, e.g. `slugplan::manifest::unknown-slug`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// The file it is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line of the primary location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column (in characters) of the primary location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The texts under the underlined spans.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
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
        self.file.as_ref().map(|f| &f.named as &dyn SourceCode)
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
        let record = diag.record();
        assert_eq!(record.file.as_deref(), Some("slug.toml"));
        assert_eq!(record.labels, ["here", "and here"]);
    }

    #[test]
    fn without_a_file_there_is_no_location() {
        let diag = SourceDiagnostic::new("slugplan::test", "x").with_label(0..1, "here");
        assert_eq!(diag.line_column(), None);
        assert!(diag.labels().is_none());
    }
}
