//! `slugplan logs`: an app's log, like `heroku logs`, on either platform: the newest lines,
//! then with `--tail` each new one until interrupted.

use futures_util::StreamExt;

use crate::cli::args::LogsArgs;
use crate::exit_status::ExitStatus;
use crate::platform::LogQuery;

use super::Session;

/// Prints the lines of `args.app`'s log that `args` asks for.
pub async fn run(args: &LogsArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let connected = session.connected()?;
    let query = LogQuery {
        lines: args.num,
        tail: args.tail,
        dyno: args.dyno.clone(),
        source: args.source.clone(),
    };
    let mut lines = connected.platform.logs(&args.app, &query).await?;
    while let Some(line) = lines.next().await {
        printer.data(line?);
    }
    Ok(ExitStatus::Success)
}
