//! `slugplan graph`: the step graph as DOT.

use crate::exit_status::ExitStatus;

use super::Session;

/// Prints the deploy's step graph in Graphviz DOT.
pub fn run(session: &Session) -> miette::Result<ExitStatus> {
    let workspace = session.workspace()?;
    session.printer().data(workspace.graph.to_dot().trim_end());
    Ok(ExitStatus::Success)
}
