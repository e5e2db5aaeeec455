//! `slugplan graph`: the step graph as DOT, or as JSON.

use serde::Serialize;

use crate::cli::args::GraphArgs;
use crate::exit_status::ExitStatus;
use crate::graph::{Address, StepKind};

use super::{JSON_FORMAT_VERSION, Session};

/// `graph --json`: every step in dependency order, with what it waits for.
#[derive(Debug, Serialize)]
struct GraphDocument<'a> {
    format_version: u32,
    steps: Vec<GraphStep<'a>>,
}

#[derive(Debug, Serialize)]
struct GraphStep<'a> {
    address: Address,
    step: &'a StepKind,
    depends_on: Vec<Address>,
}

/// Prints the deploy's step graph in Graphviz DOT, or with `--json` as a document.
pub fn run(args: &GraphArgs, session: &Session) -> miette::Result<ExitStatus> {
    let graph = &session.workspace()?.graph;
    if args.json {
        let steps = graph
            .ordered()
            .into_iter()
            .map(|step| GraphStep {
                address: step.address(),
                depends_on: graph.dependencies(&step.address()),
                step,
            })
            .collect();
        session.printer().json(&GraphDocument {
            format_version: JSON_FORMAT_VERSION,
            steps,
        });
    } else {
        session.printer().data(graph.to_dot().trim_end());
    }
    Ok(ExitStatus::Success)
}
