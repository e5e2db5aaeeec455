//! `slugplan server`: serves the local platform over HTTP until SIGTERM or ctrl-c.

use std::time::Duration;

use miette::IntoDiagnostic;

use crate::cli::args::ServerArgs;
use crate::exit_status::ExitStatus;
use crate::platform::local::{self, LocalOptions, LocalPlatform};
use crate::server::{Faults, Server, ServerConfig, Token};

use super::Session;

/// Opens the data directory, binds, prints the base URL on stdout and serves.
pub async fn run(args: &ServerArgs, session: &Session) -> miette::Result<ExitStatus> {
    let printer = session.printer();
    let data = match &args.data {
        Some(dir) => dir.clone(),
        None => local::data_dir_for_manifest(&session.settings().manifest)?,
    };
    let config = ServerConfig {
        token: args.token.clone().filter(|t| !t.is_empty()).map(Token::new),
        blob_url_ttl: Duration::from_secs(args.blob_url_ttl),
        rate_limit: args.rate_limit,
        rate_limit_refill: args.rate_limit_refill,
        request_log: args.request_log.clone(),
        faults: Faults {
            every_429: args.fault_429_every,
            every_5xx: args.fault_5xx_every,
            drop_body_every: args.fault_drop_body_every,
            latency: Duration::from_millis(args.fault_latency_ms),
        },
    };
    let platform = LocalPlatform::open_with(
        &data,
        LocalOptions {
            release_delay: Duration::from_millis(args.release_delay_ms),
            fail_release_every: args.fault_release_fail_every,
        },
    )?;
    let shutdown = shutdown_signal().into_diagnostic()?;
    let open = config.token.is_none();
    let server = Server::bind(args.listen, platform, config).await?;
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
    // The URL alone on stdout, so a script or test can read the port it got.
    printer.data(&url);
    server.run(shutdown).await?;
    printer.status("Stopped", "the server shut down cleanly");
    Ok(ExitStatus::Success)
}

/// A future that completes on ctrl-c or SIGTERM. The handlers are installed now, before the
/// address is printed, so a signal sent as soon as the server is up is never lost.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
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
