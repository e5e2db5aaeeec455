//! Packing progress: a bar of tar bytes per slug on a terminal, a `Packing` line otherwise,
//! nothing when quiet. A slug found in the cache by its input key is never packed, so it
//! shows nothing.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::printer::Printer;
use crate::slug::PackReporter;

/// Hands out a reporter for each slug packed.
#[derive(Debug, Clone, Copy)]
pub struct PackProgress {
    printer: Printer,
}

impl PackProgress {
    /// Packing progress through `printer`.
    pub fn new(printer: Printer) -> Self {
        PackProgress { printer }
    }

    /// The reporter for packing slug `slug`.
    pub fn for_slug(&self, slug: &str) -> SlugBar {
        SlugBar {
            printer: self.printer,
            slug: slug.to_owned(),
            bar: self.printer.progress_bars().then(|| {
                ProgressBar::new(0).with_style(
                    ProgressStyle::with_template(
                        "{msg:>12.green.bold} [{bar:30.cyan/blue}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                )
            }),
        }
    }
}

impl crate::ops::prepare::PackReporters for PackProgress {
    fn for_slug(&self, slug: &str) -> Arc<dyn PackReporter + Send> {
        Arc::new(PackProgress::for_slug(self, slug))
    }
}

/// Progress of packing one slug.
#[derive(Debug)]
pub struct SlugBar {
    printer: Printer,
    slug: String,
    bar: Option<ProgressBar>,
}

impl PackReporter for SlugBar {
    fn start(&self, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("Packing {}", self.slug));
                bar.set_length(total);
            }
            None => self.printer.status(
                "Packing",
                format_args!("{} ({} of tar)", self.slug, crate::human::size(total)),
            ),
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }
}

impl Drop for SlugBar {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
