//! `slugplan schema`: the JSON Schema of slug.toml.

use crate::cli::ExitStatus;
use crate::cli::settings::GlobalSettings;

/// Prints the manifest's JSON Schema.
pub fn run(settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let schema = schemars::schema_for!(crate::manifest::Manifest);
    settings.printer.json(&schema);
    Ok(ExitStatus::Success)
}
