//! `slugplan rollback`: re-release the slug of an earlier release.

use std::time::Duration;

use crate::checksum::short;
use crate::cli::args::RollbackArgs;
use crate::exit_status::ExitStatus;
use crate::ops::releases::{RollbackRequest, rollback};

use super::shared::RELEASE_TIMEOUT;
use super::{JSON_FORMAT_VERSION, Session};

/// Rolls the app back under the apply lock, records it in the audit log, and says what the app
/// runs now.
pub async fn run(args: &RollbackArgs, session: &Session) -> miette::Result<ExitStatus> {
    session.lock_applies(Duration::ZERO).await?;
    let workspace = session.workspace()?;
    let connected = session.connected()?;
    let state = session.state().await?;
    let request = RollbackRequest {
        app: &args.app,
        to: args.to.as_deref(),
        timeout: RELEASE_TIMEOUT,
        command: session.command_line(),
        manifest_sha256: &workspace.manifest_sha256,
    };
    let report = rollback(connected.platform.as_ref(), state, &connected.id, request).await?;
    if args.json {
        session.printer().json(&serde_json::json!({
            "format_version": JSON_FORMAT_VERSION,
            "rollback": report,
        }));
    } else {
        let checksum = report
            .checksum
            .as_deref()
            .map_or("no checksum".into(), short);
        session.printer().data(format_args!(
            "Rolled back {} to v{}: v{} runs slug {} ({checksum}).",
            report.app, report.to_version, report.version, report.slug_id
        ));
    }
    Ok(ExitStatus::Success)
}
