//! What the commands share: the confirmation prompts, the command line they record and how
//! long they wait for a release (`apply`, `promote`, `rollback`, `destroy`), and the JSON
//! contract of every `--json`.
//!
//! The JSON contract: a command with `--json` prints exactly one document on stdout, pretty
//! JSON, with `format_version` (bumped when a field changes meaning), full checksums, and when
//! the command fails an `error` object ([`crate::cli::diagnostics::ErrorRecord`]: code,
//! message, causes, help, labels with file, line and column, related errors), the exit code
//! being what it is without `--json`. A document that has something to say besides the error
//! (an apply's steps, a promotion's targets) carries both.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use miette::IntoDiagnostic;

/// The `format_version` of every `--json` document but the plan's (its own
/// [`crate::plan::FORMAT_VERSION`]) and `validate`'s.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// The document a `--json` command prints when it fails with nothing else to say:
/// `{"format_version": 1, "error": {…}}`.
pub fn error_document(report: &miette::Report) -> serde_json::Value {
    serde_json::json!({
        "format_version": JSON_FORMAT_VERSION,
        "error": crate::cli::diagnostics::record(report.as_ref()),
    })
}

/// Ends a `--json` command whose `document` reports a failure (it carries the error already):
/// prints it, renders `report` on stderr as any failure is, and exits 1.
pub fn failed_with(
    printer: crate::cli::printer::Printer,
    document: &impl serde::Serialize,
    report: &miette::Report,
) -> crate::exit_status::ExitStatus {
    printer.json(document);
    crate::cli::diagnostics::report(report);
    crate::exit_status::ExitStatus::Failure
}

/// How long a release may stay `pending` before the command gives up on it.
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(600);

/// Asks on the terminal, as Terraform does; refuses to when stdin is not a terminal, so a CI
/// job never hangs on a prompt.
pub fn confirm() -> miette::Result<bool> {
    let answer = ask(
        "\nDo you want to perform these actions? Only 'yes' will be accepted: ",
        "pass --yes (or --auto-approve) to apply without a prompt, or apply a saved plan",
    )?;
    Ok(answer == "yes")
}

/// Asks `question` on the terminal and returns the answer, trimmed; refuses to ask when stdin
/// is not a terminal, saying `help` (the flag that answers instead).
pub fn ask(question: &str, help: &str) -> miette::Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(miette::miette!(
            help = help.to_owned(),
            "refusing to prompt for confirmation: stdin is not a terminal"
        ));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}");
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .into_diagnostic()?;
    Ok(answer.trim().to_owned())
}

/// The command line, for the lock holder and the audit log (arguments only: no environment,
/// so no token), with the program named by its file name rather than its full path.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut line = args.join(" ");
    if let Some(first) = args.first()
        && let Some(name) = std::path::Path::new(first).file_name()
    {
        line = line.replacen(first.as_str(), &name.to_string_lossy(), 1);
    }
    line
}
