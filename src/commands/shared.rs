//! What the commands that change the platform (`apply`, `promote`, `rollback`, `destroy`) share:
//! the confirmation prompts, the command line they record, and how long they wait for a release.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use miette::IntoDiagnostic;

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
