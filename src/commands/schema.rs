//! `slugplan schema`: the JSON Schema of slug.toml, generated from the manifest types.

use crate::cli::ExitStatus;
use crate::cli::settings::GlobalSettings;

/// Prints the manifest's JSON Schema (the same document as `schema/slug.schema.json`).
pub fn run(settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    settings.printer.json(&crate::manifest::json_schema());
    Ok(ExitStatus::Success)
}
