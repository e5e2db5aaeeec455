//! Progress of runtime downloads ([`crate::runtime::FetchReporter`]).
//!
//! One [`FetchProgress`] serves every fetch of a command and picks its output once:
//! indicatif bars (bytes, rate, ETA) when stderr is a terminal, plain status lines when it is
//! not (`--json` too: stdout holds its one document), nothing with `--quiet`. URLs arrive
//! redacted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::printer::{Printer, Verbosity};
use crate::runtime::FetchReporter;

/// Reports runtime downloads on the terminal, as lines, or not at all.
pub struct FetchProgress {
    mode: Mode,
    printer: Printer,
}

enum Mode {
    Quiet,
    Lines,
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
}

impl FetchProgress {
    /// Chooses the output from the printer's verbosity and stderr's terminal-ness.
    pub fn new(printer: Printer) -> Self {
        let mode = if printer.verbosity() == Verbosity::Quiet {
            Mode::Quiet
        } else if printer.progress_bars() {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::default(),
            }
        } else {
            Mode::Lines
        };
        FetchProgress { mode, printer }
    }
}

fn bar_style(color: bool) -> ProgressStyle {
    let prefix = if color {
        "{prefix:>12.cyan.bold}"
    } else {
        "{prefix:>12}"
    };
    ProgressStyle::with_template(&format!(
        "{prefix} [{{bar:30}}] {{decimal_bytes}}/{{decimal_total_bytes}} {{decimal_bytes_per_sec}} ETA {{eta}}"
    ))
    .expect("the template is valid")
    .progress_chars("=> ")
}

impl FetchReporter for FetchProgress {
    fn on_start(&self, name: &str, url: &str, total: Option<u64>) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let total = total
                    .map(|t| format!(" ({})", crate::human::size(t)))
                    .unwrap_or_default();
                self.printer
                    .status("Downloading", format_args!("{name} from {url}{total}"));
            }
            Mode::Bars { multi, bars } => {
                let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(bar_style(self.printer.color()));
                bar.set_prefix(name.to_owned());
                if let Some(old) = crate::sync::lock(bars).insert(name.to_owned(), bar) {
                    old.finish_and_clear();
                }
            }
        }
    }

    fn on_progress(&self, name: &str, bytes: u64) {
        match &self.mode {
            Mode::Quiet | Mode::Lines => {}
            Mode::Bars { bars, .. } => {
                if let Some(bar) = crate::sync::lock(bars).get(name) {
                    bar.set_position(bytes);
                }
            }
        }
    }

    fn on_retry(&self, name: &str, attempt: u32, error: &str, delay: Duration) {
        let message = format!(
            "{name}: attempt {attempt} failed ({error}); retrying in {} ms",
            delay.as_millis()
        );
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => self.printer.warn(message),
            Mode::Bars { multi, bars } => {
                if let Some(bar) = crate::sync::lock(bars).remove(name) {
                    bar.finish_and_clear();
                }
                let _ = multi.println(format!("warning: {message}"));
            }
        }
    }

    fn on_finish(&self, name: &str, downloaded: u64) {
        let line = if downloaded == 0 {
            format!("{name} (cached)")
        } else {
            format!("{name} ({})", crate::human::size(downloaded))
        };
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => self.printer.status("Fetched", line),
            Mode::Bars { multi, bars } => {
                if let Some(bar) = crate::sync::lock(bars).remove(name) {
                    bar.finish_and_clear();
                }
                let _ = multi.println(format!("{:>12} {line}", "Fetched"));
            }
        }
    }
}
