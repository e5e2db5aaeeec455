//! Retries of platform API calls, one status line each at normal verbosity, so a platform that is
//! down or rate-limiting is never a silent wait:
//!
//! ```text
//!     Retrying GET https://api.heroku.com/apps/web: Connection refused (os error 111) (attempt 1 of 7 failed, next in 0.5s)
//!     Checking POST https://api.heroku.com/apps/web/releases: platform error 503 … (attempt 1 of 7 failed; it may have taken effect: reading it back in 0.5s before sending it again)
//!    Giving up GET https://api.heroku.com/apps/web: Connection refused (os error 111) (attempt 7 of 7 failed in 31.8s)
//! ```

use std::time::Duration;

use crate::cli::printer::Printer;
use crate::platform::heroku::{NextStep, RetryEvent, RetryReporter};

/// Prints each failed attempt on stderr (nothing when quiet).
#[derive(Debug, Clone, Copy)]
pub struct RetryLines {
    printer: Printer,
}

impl RetryLines {
    /// Lines for `printer`.
    pub fn new(printer: Printer) -> Self {
        RetryLines { printer }
    }
}

/// `0.5s`, `12s`: tenths below a minute's worth of detail, as the snapshot filters expect.
fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

impl RetryReporter for RetryLines {
    fn failed_attempt(&self, event: &RetryEvent<'_>) {
        let RetryEvent {
            what,
            why,
            attempt,
            attempts,
            elapsed,
            next,
        } = event;
        let failed = format!("attempt {attempt} of {attempts} failed");
        let (verb, then) = match next {
            NextStep::Retry(wait) => ("Retrying", format!("{failed}, next in {}", seconds(*wait))),
            NextStep::Reconcile(wait) => (
                "Checking",
                format!(
                    "{failed}; it may have taken effect: reading it back in {} before sending it again",
                    seconds(*wait)
                ),
            ),
            NextStep::Unknown => (
                "Checking",
                format!("{failed}; it may have taken effect: reading back what it did"),
            ),
            NextStep::GiveUp => ("Giving up", format!("{failed} in {}", seconds(*elapsed))),
        };
        self.printer
            .status(verb, format_args!("{what}: {why} ({then})"));
    }
}
