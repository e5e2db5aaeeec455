//! The one place that decides what reaches the terminal.
//!
//! Data a user may pipe goes to stdout; everything else (status, progress, warnings) goes to
//! stderr, and `--quiet` silences it. Commands print through a [`Printer`], never with `println!`.

use std::io::{IsTerminal, Write};

use owo_colors::OwoColorize;

/// How chatty the output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Only errors and requested data.
    Quiet,
    /// Status lines.
    Normal,
    /// Status lines and details.
    Verbose,
}

/// Writes status to stderr and data to stdout, honouring verbosity and colour.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    verbosity: Verbosity,
    color: bool,
}

impl Printer {
    /// A printer with the given verbosity; `color` says whether stderr gets ANSI colour.
    pub fn new(verbosity: Verbosity, color: bool) -> Self {
        Printer { verbosity, color }
    }

    /// This printer, or a quiet one when `quiet` (e.g. under `--json`, where stdout carries
    /// one document and progress would only get in the way).
    pub fn quiet_if(self, quiet: bool) -> Printer {
        if quiet {
            Printer::new(Verbosity::Quiet, false)
        } else {
            self
        }
    }

    /// The verbosity.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether colour is on.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Whether progress bars may be drawn: status is on and stderr is a terminal.
    pub fn progress_bars(&self) -> bool {
        self.verbosity >= Verbosity::Normal && std::io::stderr().is_terminal()
    }

    /// A cargo-style status line on stderr: a right-aligned verb, then the message.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity < Verbosity::Normal {
            return;
        }
        let verb = format!("{verb:>12}");
        let verb = if self.color {
            verb.green().bold().to_string()
        } else {
            verb
        };
        let _ = writeln!(std::io::stderr(), "{verb} {message}");
    }

    /// A warning on stderr (shown unless quiet).
    pub fn warn(&self, message: impl std::fmt::Display) {
        if self.verbosity < Verbosity::Normal {
            return;
        }
        let label = if self.color {
            "warning".yellow().bold().to_string()
        } else {
            "warning".to_owned()
        };
        let _ = writeln!(std::io::stderr(), "{label}: {message}");
    }

    /// A detail on stderr, shown only with `-v`.
    pub fn verbose(&self, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Verbose {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    /// Writes data to stdout. A closed pipe (`slugplan … | head`) ends the program quietly.
    pub fn data(&self, text: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        if let Err(err) = writeln!(out, "{text}").and_then(|()| out.flush())
            && err.kind() == std::io::ErrorKind::BrokenPipe
        {
            std::process::exit(0);
        }
    }

    /// Writes `value` to stdout as pretty JSON.
    pub fn json(&self, value: &impl serde::Serialize) {
        let text = serde_json::to_string_pretty(value).expect("JSON output serialises");
        self.data(text);
    }
}
