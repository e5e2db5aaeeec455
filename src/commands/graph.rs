//! `slugplan graph`: the step graph as DOT.

use crate::cli::ExitStatus;
use crate::cli::settings::GlobalSettings;
use crate::workspace::Workspace;

/// Prints the deploy's step graph in Graphviz DOT.
pub fn run(settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    let workspace = Workspace::open(&settings.manifest)?;
    settings.printer.data(workspace.graph.to_dot().trim_end());
    Ok(ExitStatus::Success)
}
