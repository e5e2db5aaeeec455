//! `slugplan validate`: load the manifest, report every problem, or summarise it.

use serde::Serialize;

use crate::cli::args::ValidateArgs;
use crate::cli::diagnostics::{self, ErrorRecord};
use crate::exit_status::ExitStatus;
use crate::human::count;

use super::Session;

/// `slugplan validate --json` output (`format_version` 2: each problem is an error record,
/// labels with their file, line and column).
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
    /// Every problem found (invalid manifests only), one record each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorRecord>,
    /// The error the command fails with (invalid manifests only): `errors` are its parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
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
                "{}: {}, {}, {}",
                loaded.path.display(),
                count(m.runtimes.len(), "runtime", "runtimes"),
                count(m.slugs.len(), "slug", "slugs"),
                count(m.apps.len(), "app", "apps")
            ),
        );
        return Ok(ExitStatus::Success);
    }
    let mut report = ValidateReport {
        format_version: 2,
        valid: result.is_ok(),
        manifest: session.settings().manifest.display().to_string(),
        counts: None,
        errors: Vec::new(),
        error: None,
    };
    match result {
        Ok(loaded) => {
            let m = &loaded.manifest;
            report.counts = Some(Counts {
                runtimes: m.runtimes.len(),
                slugs: m.slugs.len(),
                apps: m.apps.len(),
            });
            printer.json(&report);
            Ok(ExitStatus::Success)
        }
        Err(err) => {
            let mut record = diagnostics::record(&err);
            // An unreadable manifest has no location, but it is about the file all the same.
            if record.file.is_none() {
                record.file = err.path().map(|p| p.display().to_string());
            }
            // One problem is the error itself; several are its parts.
            report.errors = if record.related.is_empty() {
                vec![record.clone()]
            } else {
                record.related.clone()
            };
            report.error = Some(record);
            let report_err = miette::Report::new(err);
            Ok(super::shared::failed_with(printer, &report, &report_err))
        }
    }
}
