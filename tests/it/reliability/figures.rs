//! The campaign's figures, printed in one stable format so CI logs and the README agree:
//!
//! ```text
//! reliability: kill-9 during apply: kills 12, converged 12, duplicates 0
//! ```
//!
//! The line is written straight to the process's stderr, past the test harness's capture, so it
//! shows in every `cargo test` log, passing or not.

use std::io::Write;

/// Prints `reliability: <campaign>: <name> <value>, …`.
pub fn print(campaign: &str, figures: &[(&str, u64)]) {
    let figures: Vec<String> = figures
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    let line = format!("reliability: {campaign}: {}\n", figures.join(", "));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
