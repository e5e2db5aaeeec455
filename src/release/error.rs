//! How making a release or a promotion fails: one variant per way, each naming the app,
//! release or promotion it concerns, with the platform's error as its cause (never repeated in
//! its own message).

use std::time::Duration;

use crate::error_chain::Shared;
use crate::platform::{PlatformError, ReleaseStatus};

/// Why a release or a promotion to one app did not end up running.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReleaseError {
    /// The platform refused or failed to create the release.
    #[error("releasing slug {slug_id} to {app}")]
    Create {
        /// The app.
        app: String,
        /// The slug released.
        slug_id: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// Reading the release while waiting for it failed.
    #[error("polling release v{version} of {app}")]
    Poll {
        /// The app.
        app: String,
        /// The release's version.
        version: u64,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// The release did not leave `pending` in time.
    #[error("release v{version} of {app} is still pending after {timeout:?}")]
    #[diagnostic(help(
        "it may still finish: run again to wait for it (a pending release of the same slug is resumed, not made twice)"
    ))]
    Pending {
        /// The app.
        app: String,
        /// The release's version.
        version: u64,
        /// How long it was waited for.
        timeout: Duration,
    },
    /// The release ended `failed` or `expired`.
    #[error("release v{version} of {app} {}", status.as_str())]
    Settled {
        /// The app.
        app: String,
        /// The release's version.
        version: u64,
        /// How it ended.
        status: ReleaseStatus,
    },
    /// The target could not be read to see whether an earlier promotion reached it.
    #[error("reading {app}'s newest release before promoting to it")]
    ReadTarget {
        /// The target.
        app: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// The pipeline promotion holding this target could not be created.
    #[error("creating the pipeline promotion of {source_app} to {app}")]
    CreatePromotion {
        /// The target.
        app: String,
        /// The source.
        source_app: String,
        /// The cause, shared by every target of the promotion.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// The pipeline promotion's targets could not be read while waiting for them.
    #[error("polling pipeline promotion {promotion} for {app}")]
    PollPromotion {
        /// The target.
        app: String,
        /// The promotion's id.
        promotion: String,
        /// The cause, shared by every target of the promotion.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// The platform's promotion does not list this target.
    #[error("pipeline promotion {promotion} has no target {app}")]
    MissingTarget {
        /// The target.
        app: String,
        /// The promotion's id.
        promotion: String,
    },
    /// The promotion succeeded on this target but named no release.
    #[error("pipeline promotion {promotion} succeeded on {app} without naming its release")]
    NoPromotedRelease {
        /// The target.
        app: String,
        /// The promotion's id.
        promotion: String,
    },
    /// The release the promotion made could not be read.
    #[error("reading release {release_id}, made on {app} by pipeline promotion {promotion}")]
    ReadPromoted {
        /// The target.
        app: String,
        /// The promotion's id.
        promotion: String,
        /// The release it made.
        release_id: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: Shared<PlatformError>,
    },
    /// The platform reports the promotion to this target as failed.
    #[error("promotion to {app} failed: {reason}")]
    PromotionFailed {
        /// The target.
        app: String,
        /// The promotion's id.
        promotion: String,
        /// The platform's `error_message`.
        reason: String,
    },
    /// The promotion to this target did not finish in time.
    #[error("pipeline promotion {promotion} to {app} is still pending after {timeout:?}")]
    #[diagnostic(help(
        "it may still finish: `slugplan plan` shows whether the target runs the slug now"
    ))]
    PromotionPending {
        /// The target.
        app: String,
        /// The promotion's id.
        promotion: String,
        /// How long it was waited for.
        timeout: Duration,
    },
}
