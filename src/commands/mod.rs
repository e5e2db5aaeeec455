//! One thin module per subcommand: ask the [`Session`] for what it needs, call the library,
//! print the result.
//!
//! [`session`] opens the workspace, cache, platform, state and apply lock the same way for
//! every command; [`shared`] holds what the commands that change the platform share (the
//! confirmation prompt, the recorded command line, the release timeout) and the one JSON
//! contract of every `--json`: one document, with `format_version`, and on failure an `error`
//! object ([`error_document`]).

mod apply;
mod build;
mod cache;
mod completions;
mod destroy;
mod fetch;
mod graph;
mod history;
mod init;
mod lock;
mod logs;
mod open;
mod plan;
mod promote;
mod ps;
mod releases;
mod rollback;
mod schema;
mod server;
pub mod session;
mod shared;
mod show;
mod state;
mod up;
mod validate;

pub use session::Session;
pub use shared::{JSON_FORMAT_VERSION, error_document};

use crate::cli::args::Command;
use crate::exit_status::ExitStatus;

/// Runs `command` with what `session` opens, on the entry point's async runtime.
pub async fn run(command: Command, session: &Session) -> miette::Result<ExitStatus> {
    match command {
        Command::Init(args) => init::run(&args, session),
        Command::Validate(args) => validate::run(&args, session),
        Command::Schema => schema::run(session),
        Command::Completions(args) => completions::run(&args),
        Command::Build(args) => build::run(&args, session).await,
        Command::Lock(args) => lock::run(&args, session).await,
        Command::Fetch(args) => fetch::run(&args, session).await,
        Command::Graph(args) => graph::run(&args, session),
        Command::History(args) => history::run(&args, session).await,
        Command::Plan(args) => plan::run(&args, session).await,
        Command::Show(args) => show::run(&args, session),
        Command::Apply(args) => apply::run(&args, session).await,
        Command::Promote(args) => promote::run(&args, session).await,
        Command::Rollback(args) => rollback::run(&args, session).await,
        Command::Releases(args) => releases::run(&args, session).await,
        Command::Open(args) => open::run(&args, session).await,
        Command::Destroy(args) => destroy::run(&args, session).await,
        Command::Server(args) => server::run(&args, session).await,
        Command::Up(args) => up::run(&args, session).await,
        Command::Ps(args) => ps::run(&args, session).await,
        Command::Logs(args) => logs::run(&args, session).await,
        Command::Cache(command) => cache::run(&command, session),
        Command::State(command) => state::run(&command, session).await,
    }
}
