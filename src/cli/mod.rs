//! The edge of the program: argument parsing, settings, output, and error rendering.
//!
//! Only this module and [`crate::commands`] know about clap, terminals, colour and exit codes.
//! Nothing here knows the commands: [`crate::run`] resolves the settings with this module, then
//! hands them to [`crate::commands`].

pub mod args;
pub mod diagnostics;
pub mod printer;
pub mod reporters;
pub mod settings;
pub mod signals;

use settings::GlobalSettings;

/// Sends the library's traces to stderr: `-v` shows slugplan's debug events (API requests
/// with method, URL, status and request id; never a token), `-vv` everything at trace level;
/// `RUST_LOG` overrides both.
pub fn init_tracing(settings: &GlobalSettings) {
    let default = match settings.verbose {
        0 => "warn",
        1 => "slugplan=debug",
        _ => "slugplan=trace",
    };
    let filter = settings
        .log_filter
        .as_deref()
        .and_then(|filter| tracing_subscriber::EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .try_init();
}
