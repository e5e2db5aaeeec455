//! `slugplan up`: runs the dynos of the manifest's embedded platform in the foreground, and the
//! router on each app's `web_url`, as `slugplan server` does but without serving the API, until
//! Ctrl-C or SIGTERM, printing every app's new log lines on stdout as they come (as `heroku
//! local` does).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;

use crate::cli::args::UpArgs;
use crate::cli::printer::Printer;
use crate::dynos::Supervisor;
use crate::exit_status::ExitStatus;
use crate::manifest::PlatformKind;
use crate::platform::LogQuery;
use crate::platform::local::{self, AppLogs, LocalPlatform};
use crate::router::{Router, RouterConfig};

use super::Session;
use super::server::{shutdown_signal, supervisor_options};

/// Starts the supervisor on the manifest's data directory and waits for a signal.
pub async fn run(args: &UpArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let manifest = session.manifest()?;
    if manifest.manifest.platform.kind != PlatformKind::Local {
        return Err(miette::miette!(
            help = "`slugplan up` runs the embedded platform's dynos; Heroku runs its own",
            "{} deploys to Heroku, not to the local platform",
            manifest.path.display()
        ));
    }
    let data = local::data_dir(manifest);
    let shutdown = shutdown_signal().map_err(|e| miette::miette!("cannot handle signals: {e}"))?;
    let supervisor = Supervisor::start(
        &data,
        supervisor_options(&args.dynos, "slugplan up", session)?,
    )
    .await?;
    // Its own connection to the database, which the applies of other processes write.
    let router = Router::start(
        LocalPlatform::open(&data)?,
        supervisor.web_dynos(),
        supervisor.logs().clone(),
        RouterConfig::default(),
    )
    .await?;
    printer.status(
        "Running",
        format!(
            "the dynos of the local platform in {} (Ctrl-C stops them; `slugplan ps` and `slugplan logs` show them)",
            data.display()
        ),
    );
    printer.status(
        "Routing",
        "each app on its web_url, http://127.0.0.1:<its port>/ (`slugplan open APP`)",
    );
    let follow = tokio::spawn(follow_logs(data.clone(), printer));
    shutdown.await;
    follow.abort();
    drop(router);
    printer.status(
        "Stopping",
        "every dyno (SIGTERM, then SIGKILL after the grace period)",
    );
    supervisor.shutdown().await;
    printer.status("Stopped", "no dyno runs");
    Ok(ExitStatus::Success)
}

/// How often `up` looks for apps whose log it does not follow yet.
const NEW_APPS: Duration = Duration::from_millis(500);

/// Prints the new lines of every app's log, including apps created meanwhile; runs until
/// aborted.
async fn follow_logs(data: PathBuf, printer: Printer) {
    let Ok(platform) = LocalPlatform::open(&data) else {
        return;
    };
    let logs = AppLogs::open(&data);
    let mut followed = HashSet::new();
    let query = LogQuery {
        lines: 0,
        tail: true,
        dyno: None,
        source: None,
    };
    loop {
        if let Ok(apps) = platform.blocking(|s| s.apps()).await {
            for app in apps {
                if !followed.insert(app.name.clone()) {
                    continue;
                }
                let Ok(mut lines) = logs.stream(&app.name, &query).await else {
                    continue;
                };
                tokio::spawn(async move {
                    while let Some(Ok(line)) = lines.next().await {
                        printer.data(format!("{}: {line}", app.name));
                    }
                });
            }
        }
        tokio::time::sleep(NEW_APPS).await;
    }
}
