//! An app's release history (`slugplan releases`) and going back in it (`slugplan rollback`).
//!
//! Listing reads the releases and each distinct slug once, so every row carries the checksum of
//! what that release ran, and says whether slugplan made it (recorded in its state, or
//! described with the `(slugplan)` marker by another machine's slugplan).
//!
//! A rollback is the platform's own rollback call: a new release of an earlier release's slug.
//! Nothing is rebuilt or uploaded; the slug is already on the platform. It is an apply-like
//! operation: the caller holds the apply lock, it is an entry of the audit log (`slugplan
//! history`), and its release is recorded as slugplan's with the release it went back to, so
//! `releases` and the next plan agree that slugplan made it and the plan can say plainly that the
//! app runs an older release than declared.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use crate::platform::{Platform, PlatformError, Release, ReleaseStatus};
use crate::release::{self, ReleaseError};
use crate::state::{RecordedRollback, StartedRelease, State, StateError};

/// Releases considered when looking for the one before the current (Heroku keeps the history;
/// a rollback target further back is named with `--to`).
const ROLLBACK_WINDOW: usize = 100;

/// Errors of `releases` and `rollback`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReleasesError {
    /// The platform failed.
    #[error("{doing} of {app}")]
    Platform {
        /// The app.
        app: String,
        /// What was being done.
        doing: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
    /// `--to` is not a version.
    #[error("`{given}` is not a release version")]
    #[diagnostic(help(
        "name the release as vN or N, e.g. --to v3 (see `slugplan releases {app}`)"
    ))]
    BadVersion {
        /// The app.
        app: String,
        /// What was given.
        given: String,
    },
    /// There is nothing earlier to go back to.
    #[error("{app} has no successful release before v{current} to roll back to")]
    #[diagnostic(help("name one with --to vN (see `slugplan releases {app}`)"))]
    NoPrevious {
        /// The app.
        app: String,
        /// Its running version.
        current: u64,
    },
    /// The app runs nothing, so "the previous release" means nothing.
    #[error("{app} has no running release")]
    #[diagnostic(help("name the release with --to vN (see `slugplan releases {app}`)"))]
    NothingRunning {
        /// The app.
        app: String,
    },
    /// The release asked for never ran.
    #[error(
        "release v{version} of {app} is {status}: only a succeeded release with a slug can be rolled back to"
    )]
    #[diagnostic(help("pick another with --to vN (see `slugplan releases {app}`)"))]
    NotRunnable {
        /// The app.
        app: String,
        /// The version.
        version: u64,
        /// Its status, or `without a slug`.
        status: String,
    },
    /// The rollback release failed or did not settle.
    #[error("rolling back {app}")]
    Failed {
        /// The app.
        app: String,
        /// What happened.
        #[source]
        #[diagnostic_source]
        source: ReleaseError,
    },
    /// slugplan's state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}

/// One release, as `slugplan releases` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseRow {
    /// The version (v1, v2, …).
    pub version: u64,
    /// The release's id.
    pub id: String,
    /// `pending`, `succeeded`, `failed` or `expired`.
    pub status: ReleaseStatus,
    /// Whether it is the app's current release.
    pub current: bool,
    /// Its description.
    pub description: String,
    /// When it was made.
    pub created_at: String,
    /// The slug it runs.
    pub slug_id: Option<String>,
    /// That slug's checksum.
    pub checksum: Option<String>,
    /// Whether slugplan made it.
    pub by_slugplan: bool,
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackReport {
    /// The app.
    pub app: String,
    /// The version that ran before.
    pub from_version: Option<u64>,
    /// The version rolled back to.
    pub to_version: u64,
    /// The new release's version.
    pub version: u64,
    /// The new release's id.
    pub release_id: String,
    /// The slug it runs.
    pub slug_id: String,
    /// That slug's checksum.
    pub checksum: Option<String>,
}

fn platform_err(app: &str, doing: &str) -> impl Fn(PlatformError) -> ReleasesError + use<> {
    let (app, doing) = (app.to_owned(), doing.to_owned());
    move |source| ReleasesError::Platform {
        app: app.clone(),
        doing: doing.clone(),
        source,
    }
}

/// The newest `limit` releases of `app`, newest first, with checksums and who made them.
pub async fn list(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    app: &str,
    limit: usize,
) -> Result<Vec<ReleaseRow>, ReleasesError> {
    let releases = platform
        .releases(app, limit)
        .await
        .map_err(platform_err(app, "listing the releases"))?;
    let mut slug_ids: Vec<&str> = releases
        .iter()
        .filter_map(|r| r.slug_id.as_deref())
        .collect();
    slug_ids.sort_unstable();
    slug_ids.dedup();
    let read = join_all(slug_ids.iter().map(|id| platform.slug(app, id))).await;
    let mut checksums = BTreeMap::new();
    for (id, slug) in slug_ids.iter().zip(read) {
        let slug = slug.map_err(platform_err(app, &format!("reading slug {id}")))?;
        checksums.insert(*id, slug.checksum);
    }
    let ids: Vec<&str> = releases.iter().map(|r| r.id.as_str()).collect();
    let made = state.made_releases(platform_id, &ids).await?;
    let mut rows = Vec::with_capacity(releases.len());
    for release in &releases {
        let by_slugplan =
            release.description.ends_with("(slugplan)") || made.contains_key(&release.id);
        rows.push(ReleaseRow {
            version: release.version,
            id: release.id.clone(),
            status: release.status,
            current: release.current,
            description: release.description.clone(),
            created_at: release.created_at.clone(),
            checksum: release
                .slug_id
                .as_deref()
                .and_then(|id| checksums.get(id).cloned().flatten()),
            slug_id: release.slug_id.clone(),
            by_slugplan,
        });
    }
    Ok(rows)
}

/// What a rollback goes back to and how it is recorded.
#[derive(Debug, Clone, Copy)]
pub struct RollbackRequest<'a> {
    /// The app.
    pub app: &'a str,
    /// The release to go back to (`vN` or `N`); None: the newest succeeded release before the
    /// running one.
    pub to: Option<&'a str>,
    /// How long the new release may stay pending.
    pub timeout: Duration,
    /// The command line, for the audit log.
    pub command: &'a str,
    /// The manifest's SHA-256, for the audit log.
    pub manifest_sha256: &'a str,
}

/// Rolls `request.app` back, waits for the new release to settle, records it as slugplan's
/// (with the release it went back to), and records the rollback in the audit log as
/// `request.command`, one event at `release.<app>`, failed or not.
pub async fn rollback(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    request: RollbackRequest<'_>,
) -> Result<RollbackReport, ReleasesError> {
    let app = request.app;
    let apply_id = state
        .begin_apply(request.command, platform_id, request.manifest_sha256)
        .await?;
    let result = roll_back(
        platform,
        state,
        platform_id,
        app,
        request.to,
        request.timeout,
    )
    .await;
    let (outcome, detail) = match &result {
        Ok(report) => (
            "done",
            format!(
                "v{} runs slug {} (rollback to v{})",
                report.version, report.slug_id, report.to_version
            ),
        ),
        Err(err) => ("failed", crate::error_chain::one_line(err)),
    };
    state
        .record_event(
            apply_id,
            &format!("release.{app}"),
            "rollback",
            outcome,
            &detail,
        )
        .await?;
    let finished = match &result {
        Ok(_) => "succeeded".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    state.finish_apply(apply_id, &finished).await?;
    result
}

/// The rollback itself: resolve the release to go back to, roll back, wait, record the release.
async fn roll_back(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    app: &str,
    to: Option<&str>,
    timeout: Duration,
) -> Result<RollbackReport, ReleasesError> {
    let running = platform
        .current_release(app)
        .await
        .map_err(platform_err(app, "reading the current release"))?
        .filter(Release::is_running);
    let target = match to {
        Some(given) => {
            let version = given
                .strip_prefix('v')
                .unwrap_or(given)
                .parse::<u64>()
                .map_err(|_| ReleasesError::BadVersion {
                    app: app.to_owned(),
                    given: given.to_owned(),
                })?;
            // The API's rollback wants the release's id: resolve the version first.
            platform
                .release(app, &version.to_string())
                .await
                .map_err(platform_err(app, &format!("reading release v{version}")))?
        }
        None => previous(platform, app, running.as_ref()).await?,
    };
    let Some(slug_id) = target
        .slug_id
        .clone()
        .filter(|_| target.status == ReleaseStatus::Succeeded)
    else {
        let status = match target.status {
            ReleaseStatus::Succeeded => "without a slug",
            other => other.as_str(),
        };
        return Err(ReleasesError::NotRunnable {
            app: app.to_owned(),
            version: target.version,
            status: status.to_owned(),
        });
    };
    // Known as slugplan's even if it dies before recording it: not drift on the next plan.
    state
        .record_started_releases(
            platform_id,
            &[StartedRelease {
                app: app.to_owned(),
                slug_id: slug_id.clone(),
                description: crate::platform::rollback_description(target.version),
            }],
        )
        .await?;
    let made = platform
        .rollback(app, &target.id)
        .await
        .map_err(platform_err(
            app,
            &format!("rolling back to v{}", target.version),
        ))?;
    let made = release::wait(platform, app, made, timeout)
        .await
        .map_err(|source| ReleasesError::Failed {
            app: app.to_owned(),
            source,
        })?;
    let checksum = platform
        .slug(app, &slug_id)
        .await
        .map_err(platform_err(app, &format!("reading slug {slug_id}")))?
        .checksum;
    state
        .record_rollback(
            platform_id,
            app,
            &made.id,
            made.version,
            checksum.as_deref(),
            &RecordedRollback {
                version: target.version,
                // Back to a release that is itself a rollback: its slug is as old as that one's.
                created_at: state
                    .rollback(platform_id, &target.id)
                    .await?
                    .map_or(target.created_at.clone(), |r| r.created_at),
            },
        )
        .await?;
    Ok(RollbackReport {
        app: app.to_owned(),
        from_version: running.map(|r| r.version),
        to_version: target.version,
        version: made.version,
        release_id: made.id,
        slug_id,
        checksum,
    })
}

/// The newest succeeded release with a slug older than the running one.
async fn previous(
    platform: &dyn Platform,
    app: &str,
    running: Option<&Release>,
) -> Result<Release, ReleasesError> {
    let running = running.ok_or_else(|| ReleasesError::NothingRunning {
        app: app.to_owned(),
    })?;
    let releases = platform
        .releases(app, ROLLBACK_WINDOW)
        .await
        .map_err(platform_err(app, "listing the releases"))?;
    releases
        .into_iter()
        .find(|r| {
            r.version < running.version
                && r.status == ReleaseStatus::Succeeded
                && r.slug_id.is_some()
        })
        .ok_or_else(|| ReleasesError::NoPrevious {
            app: app.to_owned(),
            current: running.version,
        })
}
