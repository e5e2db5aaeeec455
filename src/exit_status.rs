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
    /// 1: an error: bad input (usage errors included), a failed step, an API error.
    Failure,
    /// 2: `plan --detailed-exitcode` found changes to apply. Nothing else exits 2.
    ChangesPending,
    /// 130 (128 + SIGINT, as shells report Ctrl-C): stopped by Ctrl-C or `SIGTERM` before it
    /// finished; what was done stays done, and running the command again finishes it.
    Interrupted,
}

impl ExitStatus {
    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::ChangesPending => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
