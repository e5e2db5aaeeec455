//! Error chains: an error with its causes on one line, and one error reported in several places.
//!
//! [`one_line`] is for the places that keep a failure as a single string: the apply's step
//! details, the audit log, `--json` reports and the local server's error bodies. Terminal output
//! goes through the renderer in `cli::diagnostics` instead, which prints each cause on its own
//! line. Both walk the same `source()` chain, so an error that keeps its cause out of its own
//! message (as every error in slugplan does) reads the same in both, each cause said once.
//!
//! [`Shared`] is a cause kept behind a pointer: cheap to clone, so one error can be reported by
//! several steps or targets (every target of a pipeline promotion that could not be created),
//! and small to move, so an error enum holding a large cause stays small. It keeps the message,
//! causes and help of the error it wraps.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// `error: cause: its cause …`, each message once.
pub fn one_line(error: &dyn Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// An error behind a pointer: cheap to clone (one error reported by several steps or targets)
/// and small to move. Its message, causes and diagnostic (help, code) are the wrapped error's.
#[derive(Debug)]
pub struct Shared<E>(Arc<E>);

impl<E> Shared<E> {
    /// Wraps `error` for sharing.
    pub fn new(error: E) -> Self {
        Shared(Arc::new(error))
    }

    /// The wrapped error.
    pub fn get(&self) -> &E {
        &self.0
    }
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<E: fmt::Display> fmt::Display for Shared<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// Transparent: the wrapped error's causes, not the wrapped error itself (its message is this one).
impl<E: Error> Error for Shared<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

impl<E: miette::Diagnostic> miette::Diagnostic for Shared<E> {
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

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.0.related()
    }

    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        self.0.diagnostic_source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the release of web")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_follows_once() {
        let err = Outer(std::io::Error::other("connection reset"));
        assert_eq!(
            one_line(&err),
            "reading the release of web: connection reset"
        );
        assert_eq!(one_line(&std::io::Error::other("alone")), "alone");
    }

    #[test]
    fn a_shared_error_reads_as_the_error_itself() {
        let err = Outer(std::io::Error::other("connection reset"));
        let shared = Shared::new(err);
        let copy = shared.clone();
        assert_eq!(
            one_line(&copy),
            "reading the release of web: connection reset"
        );
        assert_eq!(copy.get().0.to_string(), "connection reset");
    }
}
