//! `slugplan schema`: the JSON Schema of slug.toml, generated from the manifest types.

use crate::exit_status::ExitStatus;

use super::Session;

/// Prints the manifest's JSON Schema (the same document as `schema/slug.schema.json`).
pub fn run(session: &Session) -> miette::Result<ExitStatus> {
    session.printer().json(&crate::manifest::json_schema());
    Ok(ExitStatus::Success)
}
