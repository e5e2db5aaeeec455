//! The reliability campaign's figures (issue 16), printed in one stable format so CI logs and the
//! README's Reliability section agree:
//!
//! ```text
//! reliability: kill -9 during apply with promotions: rounds 14, kills 14, converged 14, duplicates 0
//! ```
//!
//! Any test that tries hostile inputs or injects faults prints its line once, after its checks
//! passed (so a figure such as `duplicates 0` is a checked one). The line is written straight to
//! the process's stderr, past the test harness's capture, so it shows in every `cargo test` log.

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
