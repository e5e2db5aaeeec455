//! `slugplan server`: serves the local platform over HTTP, runs its apps' dynos, and routes
//! each app's `web_url` to its web dynos, until SIGTERM or ctrl-c.

use std::sync::Arc;
use std::time::Duration;

use miette::IntoDiagnostic;

use crate::cli::args::{DynoArgs, ServerArgs};
use crate::dynos::{AppLogs, NoDynos, Supervisor, SupervisorOptions, WebDynos};
use crate::exit_status::ExitStatus;
use crate::platform::local::{self, LocalOptions, LocalPlatform, SupervisorInfo};
use crate::router::{Router, RouterConfig};
use crate::server::{DEFAULT_MAX_BLOB_BYTES, Faults, Server, ServerConfig, Token};

use super::Session;

/// Opens the data directory, starts the router, binds, prints the base URL on stdout and
/// serves.
pub async fn run(args: &ServerArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let data = match &args.data {
        Some(dir) => dir.clone(),
        None => local::data_dir_for_manifest(&session.settings().manifest)?,
    };
    let mut config = ServerConfig {
        token: args.token.clone().filter(|t| !t.is_empty()).map(Token::new),
        blob_url_ttl: Duration::from_secs(args.blob_url_ttl),
        max_blob_bytes: args.max_blob_size.unwrap_or(DEFAULT_MAX_BLOB_BYTES),
        rate_limit: args.rate_limit,
        rate_limit_refill: args.rate_limit_refill,
        request_log: args.request_log.clone(),
        faults: Faults {
            every_429: args.fault_429_every,
            every_5xx: args.fault_5xx_every,
            drop_body_every: args.fault_drop_body_every,
            latency: Duration::from_millis(args.fault_latency_ms),
        },
        apps_changed: None,
    };
    let platform = LocalPlatform::open_with(
        &data,
        LocalOptions {
            release_delay: Duration::from_millis(args.release_delay_ms),
            fail_release_every: args.fault_release_fail_every,
        },
    )?;
    let apps_changed = Arc::new(tokio::sync::Notify::new());
    config.apps_changed = Some(Arc::clone(&apps_changed));
    let shutdown = shutdown_signal().into_diagnostic()?;
    let open = config.token.is_none();
    let server = Server::bind(args.listen, platform.clone(), config).await?;
    let supervisor = if args.dynos.no_dynos {
        None
    } else {
        let options = supervisor_options(&args.dynos, "slugplan server", session)?;
        Some(Supervisor::start(&data, options).await?)
    };
    let (dynos, logs): (Arc<dyn WebDynos>, AppLogs) = match &supervisor {
        Some(supervisor) => (supervisor.web_dynos(), supervisor.logs().clone()),
        None => (Arc::new(NoDynos), AppLogs::open(&data)),
    };
    let router =
        Router::start_with(platform, dynos, logs, RouterConfig::default(), apps_changed).await?;
    let url = format!("http://{}", server.local_addr());
    printer.status(
        "Serving",
        format!(
            "the local platform in {} at {url}{}",
            data.display(),
            if open {
                " (no token: open to loopback clients)"
            } else {
                ""
            }
        ),
    );
    printer.status(
        "Routing",
        "each app on its web_url, http://127.0.0.1:<its port>/ (`slugplan open APP`)",
    );
    // The URL alone on stdout, so a script or test can read the port it got.
    printer.data(&url);
    server.run(shutdown).await?;
    drop(router);
    if let Some(supervisor) = supervisor {
        supervisor.shutdown().await;
    }
    printer.status("Stopped", "the server shut down cleanly");
    Ok(ExitStatus::Success)
}

/// The supervisor's options from the command line, for `command` (`slugplan server`).
pub(super) fn supervisor_options(
    args: &DynoArgs,
    command: &str,
    session: &Session,
) -> miette::Result<SupervisorOptions> {
    let launcher = std::env::current_exe()
        .into_diagnostic()
        .map_err(|e| e.wrap_err("cannot find the slugplan binary to start dynos with"))?;
    let holder = SupervisorInfo {
        pid: std::process::id(),
        command: command.to_owned(),
        started_at: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    };
    let mut options = SupervisorOptions::new(launcher, holder);
    options.boot_timeout = Duration::from_secs(args.boot_timeout);
    options.stop_grace = Duration::from_secs(args.stop_timeout);
    // No cache location (no HOME) only means every file of a slug is written.
    options.cache = session
        .settings()
        .cache_root()
        .ok()
        .and_then(|root| std::path::absolute(root).ok());
    Ok(options)
}

/// A future that completes on ctrl-c or SIGTERM. The handlers are installed now, before the
/// address is printed, so a signal sent as soon as the server is up is never lost.
pub(super) fn shutdown_signal()
-> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
