//! The edge of the program: argument parsing, settings, output, and error rendering.
//!
//! Only this module and [`crate::commands`] know about clap, terminals, colour and exit codes.

pub mod args;
pub mod diagnostics;
pub mod printer;
pub mod reporters;
pub mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::commands;

/// How a command ended, as the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command did what was asked (or, for a plan, found no changes).
    Success,
    /// 1: an error: bad input, a failed step, an API error.
    Failure,
    /// 2: `plan --detailed-exitcode` found changes to apply.
    ChangesPending,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::ChangesPending => ExitCode::from(2),
        }
    }
}

/// Sends the library's traces to stderr: `-v` shows slugplan's debug events (API requests
/// with method, URL, status and request id; never a token), `-vv` everything at trace level;
/// `RUST_LOG` overrides both.
fn init_tracing(settings: &settings::GlobalSettings) {
    let default = match settings.verbose {
        0 => "warn",
        1 => "slugplan=debug",
        _ => "slugplan=trace",
    };
    let filter = settings
        .log_filter
        .as_deref()
        .and_then(|filter| tracing_subscriber::EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// Accepts Terraform's single-dash `-out FILE` / `-out=FILE`, which clap would otherwise read
/// as `-o ut` and write the plan to a file named `ut`.
fn terraform_style_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    args.map(|arg| match arg.to_str() {
        Some("-out") => "--out".into(),
        Some(text) if text.starts_with("-out=") => format!("-{text}").into(),
        _ => arg,
    })
    .collect()
}

/// Runs slugplan with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = args::Cli::parse_from(terraform_style_args(std::env::args_os()));
    let env = settings::Env::from_process();
    let settings = settings::GlobalSettings::resolve(&cli.global, &env);
    diagnostics::install(settings.printer.color());
    init_tracing(&settings);
    match commands::run(cli.command, &settings) {
        Ok(status) => status.into(),
        Err(report) => {
            diagnostics::report(&report);
            ExitStatus::Failure.into()
        }
    }
}
