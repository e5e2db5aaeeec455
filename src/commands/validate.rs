//! `slugplan validate`: load the manifest, report every problem, or summarise it.

use serde::Serialize;

use crate::cli::args::ValidateArgs;
use crate::exit_status::ExitStatus;
use crate::manifest::{DiagnosticRecord, ManifestError};

use super::Session;

/// `slugplan validate --json` output (`format_version` 1).
#[derive(Debug, Serialize)]
pub struct ValidateReport {
    /// Version of this document's shape.
    pub format_version: u32,
    /// Whether the manifest is valid.
    pub valid: bool,
    /// The manifest's path as given.
    pub manifest: String,
    /// Counts of what the manifest declares (valid manifests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Every problem found (invalid manifests only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<DiagnosticRecord>,
}

/// What a valid manifest declares.
#[derive(Debug, Serialize)]
pub struct Counts {
    /// `[runtimes.*]` entries.
    pub runtimes: usize,
    /// `[slugs.*]` entries.
    pub slugs: usize,
    /// `[apps.*]` entries.
    pub apps: usize,
}

/// Loads and checks the manifest; prints a summary, or every problem.
pub fn run(args: &ValidateArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let result = session.manifest();
    if !args.json {
        let loaded = result?;
        let m = &loaded.manifest;
        printer.status(
            "Valid",
            format_args!(
                "{}: {} runtimes, {} slugs, {} apps",
                loaded.path.display(),
                m.runtimes.len(),
                m.slugs.len(),
                m.apps.len()
            ),
        );
        return Ok(ExitStatus::Success);
    }
    let mut report = ValidateReport {
        format_version: 1,
        valid: result.is_ok(),
        manifest: session.settings().manifest.display().to_string(),
        counts: None,
        errors: Vec::new(),
    };
    match &result {
        Ok(loaded) => {
            let m = &loaded.manifest;
            report.counts = Some(Counts {
                runtimes: m.runtimes.len(),
                slugs: m.slugs.len(),
                apps: m.apps.len(),
            });
        }
        Err(err) => report.errors = records(err),
    }
    printer.json(&report);
    Ok(if report.valid {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The error's located problems, or the error itself when it has no location (unreadable file).
fn records(err: &ManifestError) -> Vec<DiagnosticRecord> {
    let located: Vec<DiagnosticRecord> = err.problems().iter().map(|p| p.record()).collect();
    if !located.is_empty() {
        return located;
    }
    let code = miette::Diagnostic::code(err).map_or_else(String::new, |c| c.to_string());
    let cause = std::error::Error::source(err)
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    vec![DiagnosticRecord {
        code,
        message: format!("{err}{cause}"),
        file: err.path().map(|p| p.display().to_string()),
        line: None,
        column: None,
        labels: Vec::new(),
        help: miette::Diagnostic::help(err).map(|h| h.to_string()),
    }]
}
