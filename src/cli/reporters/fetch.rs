//! Progress of runtime downloads ([`crate::runtime::FetchReporter`]).
//!
//! One [`FetchProgress`] serves every fetch of a command and picks its output once:
//! indicatif bars (bytes, rate, ETA) when stderr is a terminal, plain status lines when it is
//! not, nothing with `--quiet`, and with `--json` one JSON object per line on stdout
//! (`{"event":"start"|"progress"|"retry"|"finish", "runtime": …}`). URLs arrive redacted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::printer::{Printer, Verbosity};
use crate::runtime::FetchReporter;

/// JSON progress events are sent at most once per this many bytes.
const JSON_PROGRESS_STEP: u64 = 4 << 20;

/// Reports runtime downloads on the terminal, as lines, as JSON, or not at all.
pub struct FetchProgress {
    mode: Mode,
    printer: Printer,
}

enum Mode {
    Quiet,
    Lines,
    Json(Mutex<HashMap<String, u64>>),
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
}

impl FetchProgress {
    /// Chooses the output from the printer's verbosity, stderr's terminal-ness and `--json`.
    pub fn new(printer: Printer, json: bool) -> Self {
        let mode = if json {
            Mode::Json(Mutex::default())
        } else if printer.verbosity() == Verbosity::Quiet {
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

    fn json(&self, value: serde_json::Value) {
        self.printer.data(value);
    }
}

fn bar_style(color: bool) -> ProgressStyle {
    let prefix = if color {
        "{prefix:>12.cyan.bold}"
    } else {
        "{prefix:>12}"
    };
    ProgressStyle::with_template(&format!(
        "{prefix} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}"
    ))
    .expect("the template is valid")
    .progress_chars("=> ")
}

fn size(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

impl FetchReporter for FetchProgress {
    fn on_start(&self, name: &str, url: &str, total: Option<u64>) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let total = total.map(|t| format!(" ({})", size(t))).unwrap_or_default();
                self.printer
                    .status("Downloading", format_args!("{name} from {url}{total}"));
            }
            Mode::Json(last) => {
                crate::sync::lock(last).insert(name.to_owned(), 0);
                self.json(serde_json::json!({
                    "event": "start", "runtime": name, "url": url, "total": total,
                }));
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
            Mode::Json(last) => {
                let mut last = crate::sync::lock(last);
                let sent = last.entry(name.to_owned()).or_default();
                if bytes >= *sent + JSON_PROGRESS_STEP {
                    *sent = bytes;
                    drop(last);
                    self.json(serde_json::json!({
                        "event": "progress", "runtime": name, "bytes": bytes,
                    }));
                }
            }
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
            Mode::Json(_) => self.json(serde_json::json!({
                "event": "retry", "runtime": name, "attempt": attempt, "error": error,
                "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            })),
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
            format!("{name} ({})", size(downloaded))
        };
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => self.printer.status("Fetched", line),
            Mode::Json(_) => self.json(serde_json::json!({
                "event": "finish", "runtime": name, "downloaded": downloaded,
            })),
            Mode::Bars { multi, bars } => {
                if let Some(bar) = crate::sync::lock(bars).remove(name) {
                    bar.finish_and_clear();
                }
                let _ = multi.println(format!("{:>12} {line}", "Fetched"));
            }
        }
    }
}
