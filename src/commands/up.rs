//! `slugplan up`: runs the dynos of the manifest's embedded platform in the foreground, as
//! `slugplan server` does but without serving the API, until Ctrl-C or SIGTERM.

use crate::cli::args::UpArgs;
use crate::dynos::Supervisor;
use crate::exit_status::ExitStatus;
use crate::manifest::PlatformKind;
use crate::platform::local;

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
    let supervisor =
        Supervisor::start(&data, supervisor_options(&args.dynos, "slugplan up")?).await?;
    printer.status(
        "Running",
        format!(
            "the dynos of the local platform in {} (Ctrl-C stops them; `slugplan ps` and `slugplan logs` show them)",
            data.display()
        ),
    );
    shutdown.await;
    printer.status(
        "Stopping",
        "every dyno (SIGTERM, then SIGKILL after the grace period)",
    );
    supervisor.shutdown().await;
    printer.status("Stopped", "no dyno runs");
    Ok(ExitStatus::Success)
}
