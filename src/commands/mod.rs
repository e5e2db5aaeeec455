//! One thin module per subcommand: read settings, call the library, print the result.

mod apply;
mod build;
mod cache;
mod completions;
mod fetch;
mod graph;
mod history;
mod lock;
mod plan;
mod promote;
mod releases;
mod rollback;
mod schema;
mod server;
mod validate;

use crate::cli::ExitStatus;
use crate::cli::args::Command;
use crate::cli::settings::GlobalSettings;

/// Runs `command`.
pub fn run(command: Command, settings: &GlobalSettings) -> miette::Result<ExitStatus> {
    match command {
        Command::Validate(args) => validate::run(&args, settings),
        Command::Schema => schema::run(settings),
        Command::Completions(args) => completions::run(&args),
        Command::Build(args) => build::run(&args, settings),
        Command::Lock(args) => lock::run(&args, settings),
        Command::Fetch(args) => fetch::run(&args, settings),
        Command::Graph => graph::run(settings),
        Command::History(args) => history::run(&args, settings),
        Command::Plan(args) => plan::run(&args, settings),
        Command::Apply(args) => apply::run(&args, settings),
        Command::Promote(args) => promote::run(&args, settings),
        Command::Rollback(args) => rollback::run(&args, settings),
        Command::Releases(args) => releases::run(&args, settings),
        Command::Server(args) => server::run(&args, settings),
        Command::Cache(command) => cache::run(&command, settings),
    }
}
