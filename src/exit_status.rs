//! How a command ended, as the process's exit code.
//!
//! A leaf: it imports nothing from the crate, so the entry point, [`crate::cli`] and
//! [`crate::commands`] can all name it without importing each other.

use std::process::ExitCode;

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
