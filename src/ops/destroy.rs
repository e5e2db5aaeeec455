//! `slugplan destroy`: delete an app slugplan no longer declares, on the platform, for good.
//!
//! It is the one way an app leaves the platform through slugplan: a plan never deletes (it
//! lists the apps slugplan deployed that slug.toml no longer declares and leaves them running).
//! Like an apply it runs under the apply lock (the caller holds it) and is an entry of the audit
//! log; once the platform has deleted the app, slugplan's state forgets it (its releases and the
//! uploads made through it), so plans stop listing it and never reuse a slug id that went with
//! it. Two phases, so the caller can confirm in between: [`prepare`] checks and reads, [`run`]
//! deletes.

use serde::Serialize;

use crate::desired::DesiredState;
use crate::platform::{Platform, PlatformError};
use crate::state::{State, StateError};

/// Errors of `slugplan destroy`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DestroyError {
    /// The manifest still declares the app: the next apply would create it again.
    #[error("app `{app}` is declared in slug.toml")]
    #[diagnostic(
        code(slugplan::destroy::declared),
        help(
            "remove [apps.{app}] from slug.toml first (the next apply would create it again), then destroy it"
        )
    )]
    Declared {
        /// The app.
        app: String,
    },
    /// The app could not be read (it does not exist, or the platform failed).
    #[error("reading app {app}")]
    Read {
        /// The app.
        app: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
    /// The confirmation names another app.
    #[error("the confirmation `{given}` is not the app's name `{app}`")]
    #[diagnostic(
        code(slugplan::destroy::confirm),
        help("nothing was deleted; confirm with the app's exact name: --confirm {app}")
    )]
    Mismatch {
        /// The app.
        app: String,
        /// What was typed or passed.
        given: String,
    },
    /// The platform did not delete the app.
    #[error("deleting app {app}")]
    Delete {
        /// The app.
        app: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
    /// The local state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}

/// The app about to be deleted, as read from the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doomed {
    /// The app's name.
    pub app: String,
    /// Its id.
    pub id: String,
    /// The version of its running release, if any.
    pub version: Option<u64>,
    /// Whether slugplan released to it before (it is in slugplan's state).
    pub deployed_by_slugplan: bool,
}

/// Refuses an app the manifest declares, and reads the app and what it runs.
pub async fn prepare(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    desired: &DesiredState,
    app: &str,
) -> Result<Doomed, DestroyError> {
    if desired.apps.contains_key(app) {
        return Err(DestroyError::Declared {
            app: app.to_owned(),
        });
    }
    let read = |source| DestroyError::Read {
        app: app.to_owned(),
        source,
    };
    let record = platform.app(app).await.map_err(read)?;
    let running = platform.current_release(app).await.map_err(read)?;
    Ok(Doomed {
        app: app.to_owned(),
        id: record.id,
        version: running.map(|r| r.version),
        deployed_by_slugplan: state.deployed_apps(platform_id).await?.contains(app),
    })
}

/// Checks that `given` (typed, or passed as `--confirm`) is the app's name.
pub fn check_confirmation(doomed: &Doomed, given: &str) -> Result<(), DestroyError> {
    if given.trim() == doomed.app {
        Ok(())
    } else {
        Err(DestroyError::Mismatch {
            app: doomed.app.clone(),
            given: given.trim().to_owned(),
        })
    }
}

/// Deletes the app on the platform, forgets it in the state, and records the deletion in the
/// audit log as `command` (one event at `app.<name>`, failed or not).
pub async fn run(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    doomed: &Doomed,
    command: &str,
    manifest_sha256: &str,
) -> Result<(), DestroyError> {
    let apply_id = state
        .begin_apply(command, platform_id, manifest_sha256)
        .await?;
    let result = platform
        .delete_app(&doomed.id)
        .await
        .map_err(|source| DestroyError::Delete {
            app: doomed.app.clone(),
            source,
        });
    if result.is_ok() {
        state.forget_app(platform_id, &doomed.app).await?;
    }
    let (outcome, detail) = match &result {
        Ok(()) => ("done", format!("deleted {}", doomed.id)),
        Err(err) => ("failed", crate::error_chain::one_line(err)),
    };
    let address = format!("app.{}", doomed.app);
    state
        .record_event(apply_id, &address, "destroy", outcome, &detail)
        .await?;
    let finished = match &result {
        Ok(()) => "succeeded".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    state.finish_apply(apply_id, &finished).await?;
    result
}
