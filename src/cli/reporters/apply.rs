//! Progress of an apply: a live display on a terminal, plain lines otherwise, nothing when
//! quiet, and a record of every step's outcome for `--json`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::apply::{ApplyReporter, StepOutcome};
use crate::cli::printer::{Printer, Verbosity};
use crate::graph::Address;
use crate::plan::Action;
use crate::platform::{NoProgress, UploadProgress};

/// One step's outcome, as `apply --json` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    /// The step.
    pub address: Address,
    /// How it ended.
    pub outcome: StepOutcome,
    /// What it did.
    pub detail: String,
}

/// Shows an apply's progress.
pub struct ApplyProgress {
    printer: Printer,
    multi: Option<MultiProgress>,
    bars: Mutex<Vec<(Address, ProgressBar)>>,
    records: Mutex<Vec<StepRecord>>,
}

impl ApplyProgress {
    /// Progress for `printer`; `json` turns the display off (the caller prints a document).
    pub fn new(printer: Printer, json: bool) -> Self {
        let live = !json && printer.progress_bars();
        ApplyProgress {
            printer: if json {
                Printer::new(Verbosity::Quiet, false)
            } else {
                printer
            },
            multi: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(Vec::new()),
            records: Mutex::new(Vec::new()),
        }
    }

    /// Every step's outcome so far, in the order they ended.
    pub fn records(&self) -> Vec<StepRecord> {
        crate::sync::lock(&self.records).clone()
    }

    fn take_bar(&self, address: &Address) -> Option<ProgressBar> {
        let mut bars = crate::sync::lock(&self.bars);
        let index = bars.iter().position(|(a, _)| a == address)?;
        Some(bars.remove(index).1)
    }
}

fn gerund(action: Action) -> &'static str {
    match action {
        Action::Create => "Creating",
        Action::Upload => "Uploading",
        Action::Release => "Releasing",
        Action::Promote => "Promoting",
        Action::Couple => "Coupling",
        Action::Config => "Configuring",
        Action::Scale => "Scaling",
        Action::Fetch => "Fetching",
        Action::Build => "Building",
        Action::NoOp => "Checking",
    }
}

impl ApplyReporter for ApplyProgress {
    fn started(&self, address: &Address, action: Action) {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.green} {msg} {elapsed:.dim}")
                        .expect("valid template"),
                );
                bar.set_message(format!("{} {address}", gerund(action)));
                bar.enable_steady_tick(Duration::from_millis(100));
                crate::sync::lock(&self.bars).push((address.clone(), bar));
            }
            None => self.printer.status(gerund(action), address),
        }
    }

    fn finished(&self, address: &Address, outcome: StepOutcome, detail: &str) {
        crate::sync::lock(&self.records).push(StepRecord {
            address: address.clone(),
            outcome,
            detail: detail.to_owned(),
        });
        let mark = match outcome {
            StepOutcome::Done => "done",
            StepOutcome::Skipped => "skipped",
            StepOutcome::Failed => "FAILED",
            StepOutcome::NotRun => "not run",
        };
        match self.take_bar(address) {
            Some(bar) => {
                bar.set_style(ProgressStyle::with_template("  {msg}").expect("valid template"));
                bar.finish_with_message(format!("{mark:>7} {address}: {detail}"));
            }
            None => {
                let verb = match outcome {
                    StepOutcome::Done => "Done",
                    StepOutcome::Skipped => "Skipped",
                    StepOutcome::Failed => "Failed",
                    StepOutcome::NotRun => "Not run",
                };
                self.printer
                    .status(verb, format_args!("{address}: {detail}"));
            }
        }
    }

    fn upload(&self, address: &Address, size: u64) -> Box<dyn UploadProgress> {
        let Some(multi) = &self.multi else {
            return Box::new(NoProgress);
        };
        let bar = multi.add(ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template(
                "  {msg} [{bar:30.cyan/blue}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(format!("{address}"));
        Box::new(BarProgress(bar))
    }
}

struct BarProgress(ProgressBar);

impl UploadProgress for BarProgress {
    fn advance(&self, sent: u64) {
        self.0.inc(sent);
        if self.0.position() >= self.0.length().unwrap_or(0) {
            self.0.finish_and_clear();
        }
    }
}
