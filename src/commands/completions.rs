//! `slugplan completions <shell>`.

use clap::CommandFactory;

use crate::cli::args::{Cli, CompletionsArgs};
use crate::exit_status::ExitStatus;

/// Prints the completion script for the requested shell.
pub fn run(args: &CompletionsArgs) -> miette::Result<ExitStatus> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "slugplan", &mut std::io::stdout());
    Ok(ExitStatus::Success)
}
