//! Promotion: release to apps exactly the slug another app runs, never rebuilding.
//!
//! The source's slug is the one of its running release (current **and** succeeded, never simply
//! the newest), read at the moment of promotion, so a promotion that waits for the source's own
//! release in the same apply gets the new slug. Targets coupled to the source's pipeline are
//! promoted with **one** pipeline promotion holding all of them (the platform's own promotion
//! history and checks apply), then every target is polled until it succeeds or fails; other
//! targets get the slug id released directly. Either way nothing is built or uploaded, and one
//! failed target is reported by name while the others go ahead.
//!
//! The functions here are used by `apply` (per source, for the promote steps ready together)
//! and by `slugplan promote`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::steps::StepResult;
use super::{Applier, StepOutcome};
use crate::plan::PlannedStep;
use crate::plan::promotion::{Refusal, is_newer, refusal};
use crate::platform::{
    App, Coupling, Platform, PlatformError, Release, ReleaseStatus, Slug, TargetStatus,
};

/// Errors reading the source of a promotion.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceError {
    /// The source runs nothing.
    #[error("{app} has no successful current release to promote")]
    #[diagnostic(help(
        "release to {app} first; a pending or failed newest release is not what it runs"
    ))]
    NoRelease {
        /// The source.
        app: String,
    },
    /// The source's release has no slug (e.g. a config-only release of a container app).
    #[error("release v{version} of {app} has no slug to promote")]
    NoSlug {
        /// The source.
        app: String,
        /// The release's version.
        version: u64,
    },
    /// The platform failed.
    #[error("reading the promotion source {app}")]
    Platform {
        /// The source.
        app: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
}

/// The source of a promotion, as read from the platform.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name it was given by.
    pub name: String,
    /// Its app record (the id is what targets are compared with).
    pub app: App,
    /// Its running release.
    pub release: Release,
    /// That release's slug.
    pub slug: Slug,
    /// Its pipeline coupling, if any.
    pub coupling: Option<Coupling>,
}

/// A target of a promotion, as read from the platform.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name it was given by.
    pub name: String,
    /// Its app record.
    pub app: App,
    /// Its running release, if any.
    pub running: Option<Release>,
    /// Its pipeline coupling, if any.
    pub coupling: Option<Coupling>,
}

/// What to do with one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It runs the source's slug already.
    AlreadyRuns {
        /// Its running version.
        version: u64,
    },
    /// Promote it; `downgrade` when its running release is newer than the source's.
    Promote {
        /// Whether promoting overwrites a newer release.
        downgrade: bool,
    },
}

/// Reads the source: its running release, that release's slug, its app record and coupling.
pub async fn read_source(platform: &dyn Platform, name: &str) -> Result<Source, SourceError> {
    let err = |source| SourceError::Platform {
        app: name.to_owned(),
        source,
    };
    let release = platform
        .current_release(name)
        .await
        .map_err(err)?
        .filter(Release::is_running)
        .ok_or_else(|| SourceError::NoRelease {
            app: name.to_owned(),
        })?;
    let slug_id = release.slug_id.clone().ok_or_else(|| SourceError::NoSlug {
        app: name.to_owned(),
        version: release.version,
    })?;
    let (slug, app, coupling) = futures_util::try_join!(
        platform.slug(name, &slug_id),
        platform.app(name),
        platform.coupling(name)
    )
    .map_err(err)?;
    Ok(Source {
        name: name.to_owned(),
        app,
        release,
        slug,
        coupling,
    })
}

/// Reads a target: its app record, running release and coupling.
pub async fn read_target(platform: &dyn Platform, name: &str) -> Result<Target, PlatformError> {
    let (app, running, coupling) = futures_util::try_join!(
        platform.app(name),
        platform.current_release(name),
        platform.coupling(name)
    )?;
    Ok(Target {
        name: name.to_owned(),
        app,
        running: running.filter(Release::is_running),
        coupling,
    })
}

/// Decides what to do with `target`: refused (Fir, stack, the source itself), already done, or
/// promote (saying whether that downgrades it).
pub fn verdict(source: &Source, target: &Target) -> Result<Verdict, Refusal> {
    if let Some(refused) = refusal(&source.name, &source.app, &source.slug.stack, &target.app) {
        return Err(refused);
    }
    match &target.running {
        Some(running) if running.slug_id.as_deref() == Some(source.slug.id.as_str()) => {
            Ok(Verdict::AlreadyRuns {
                version: running.version,
            })
        }
        Some(running) => Ok(Verdict::Promote {
            downgrade: is_newer(running, &source.release),
        }),
        None => Ok(Verdict::Promote { downgrade: false }),
    }
}

/// Whether `target` is promoted through the source's pipeline (both coupled to the same one).
pub fn via_pipeline(source: &Source, target: &Target) -> bool {
    matches!(
        (&source.coupling, &target.coupling),
        (Some(s), Some(t)) if s.pipeline_id == t.pipeline_id
    )
}

/// Promotes `source` to every target: one pipeline promotion for the targets coupled to the
/// source's pipeline, a release of the slug id for the others, all at once. Returns each
/// target's settled release, or why it failed, in the order given.
pub async fn promote_all(
    platform: &dyn Platform,
    source: &Source,
    targets: &[&Target],
    timeout: Duration,
) -> Vec<Result<Release, String>> {
    let (piped, direct): (Vec<usize>, Vec<usize>) =
        (0..targets.len()).partition(|&i| via_pipeline(source, targets[i]));
    let mut results: Vec<Option<Result<Release, String>>> = vec![None; targets.len()];

    let description = format!(
        "Promote {} v{} (slugplan)",
        source.name, source.release.version
    );
    let direct_releases = join_all(direct.iter().map(|&i| {
        let target = targets[i];
        let description = description.as_str();
        async move {
            let release = super::steps::create_or_resume_release(
                platform,
                &target.name,
                &source.slug.id,
                description,
            )
            .await
            .map_err(|e| format!("releasing slug {} to {}: {e}", source.slug.id, target.name))?;
            wait_for_release(platform, &target.name, release, timeout).await
        }
    }));
    let piped_targets: Vec<&Target> = piped.iter().map(|&i| targets[i]).collect();
    let (direct_results, piped_results) = futures_util::join!(
        direct_releases,
        pipeline_promotion(platform, source, &piped_targets, timeout)
    );
    for (i, result) in direct.into_iter().zip(direct_results) {
        results[i] = Some(result);
    }
    for (i, result) in piped.into_iter().zip(piped_results) {
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every target has a result"))
        .collect()
}

/// One `POST /pipeline-promotions` for all `targets`, then polls every target until none is
/// pending; each target's `error_message` is its failure.
async fn pipeline_promotion(
    platform: &dyn Platform,
    source: &Source,
    targets: &[&Target],
    timeout: Duration,
) -> Vec<Result<Release, String>> {
    let Some(coupling) = (!targets.is_empty())
        .then_some(source.coupling.as_ref())
        .flatten()
    else {
        return Vec::new();
    };
    let all_fail = |message: String| targets.iter().map(|_| Err(message.clone())).collect();
    let ids: Vec<String> = targets.iter().map(|t| t.app.id.clone()).collect();
    let promotion = match platform
        .create_promotion(
            &coupling.pipeline_id,
            &source.app.id,
            &source.release.id,
            &ids,
        )
        .await
    {
        Ok(promotion) => promotion,
        Err(e) => return all_fail(format!("creating the pipeline promotion: {e}")),
    };
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    let settled = loop {
        let listed = match platform.promotion_targets(&promotion.id).await {
            Ok(listed) => listed,
            Err(e) => return all_fail(format!("polling promotion {}: {e}", promotion.id)),
        };
        let by_app: BTreeMap<String, _> =
            listed.into_iter().map(|t| (t.app_id.clone(), t)).collect();
        let pending = ids.iter().any(|id| {
            by_app
                .get(id)
                .is_none_or(|t| t.status == TargetStatus::Pending)
        });
        if !pending || Instant::now() >= deadline {
            break by_app;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    };
    let promotion = &promotion;
    join_all(targets.iter().map(|target| {
        let state = settled.get(&target.app.id);
        async move {
            let Some(state) = state else {
                return Err(format!(
                    "promotion {} has no target {}",
                    promotion.id, target.name
                ));
            };
            match (state.status, &state.release_id) {
                (TargetStatus::Succeeded, Some(release_id)) => platform
                    .release(&target.name, release_id)
                    .await
                    .map_err(|e| format!("reading the promoted release of {}: {e}", target.name)),
                (TargetStatus::Succeeded, None) => Err(format!(
                    "promotion {} succeeded on {} without naming its release",
                    promotion.id, target.name
                )),
                (TargetStatus::Failed, _) => Err(format!(
                    "promotion to {} failed: {}",
                    target.name,
                    state.error_message.as_deref().unwrap_or("no reason given")
                )),
                (TargetStatus::Pending, _) => Err(format!(
                    "promotion {} to {} still pending after {timeout:?}",
                    promotion.id, target.name
                )),
            }
        }
    }))
    .await
}

/// Polls a release until it leaves `pending`; a failed, expired or still pending one is an
/// error naming the app.
pub async fn wait_for_release(
    platform: &dyn Platform,
    app: &str,
    mut release: Release,
    timeout: Duration,
) -> Result<Release, String> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    while release.status == ReleaseStatus::Pending {
        if Instant::now() >= deadline {
            return Err(format!(
                "release v{} of {app} is still pending after {timeout:?}",
                release.version
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
        release = platform
            .release(app, &release.id)
            .await
            .map_err(|e| format!("polling release v{} of {app}: {e}", release.version))?;
    }
    match release.status {
        ReleaseStatus::Succeeded => Ok(release),
        status => Err(format!("release v{} of {app} {status:?}", release.version).to_lowercase()),
    }
}

impl Applier<'_> {
    /// Runs the promote steps of one source that are ready together: the source is read once,
    /// every target is checked, and the allowed ones are promoted at once.
    pub(super) async fn promote_group<'s>(
        &self,
        from: &str,
        steps: Vec<&'s PlannedStep>,
    ) -> Vec<(&'s PlannedStep, StepResult)> {
        let source = match read_source(self.platform, from).await {
            Ok(source) => source,
            Err(e) => {
                let message = e.to_string();
                return steps
                    .into_iter()
                    .map(|s| (s, Err(self.fail(s, message.clone(), None))))
                    .collect();
            }
        };
        let read = join_all(steps.iter().map(|step| async move {
            let app = step.step.app().unwrap_or_default();
            read_target(self.platform, app)
                .await
                .map_err(self.platform_err(step, "reading the target app"))
        }))
        .await;
        let mut results: Vec<(&PlannedStep, StepResult)> = Vec::new();
        let mut to_promote: Vec<(&PlannedStep, Target)> = Vec::new();
        for (step, target) in steps.into_iter().zip(read) {
            let target = match target {
                Ok(target) => target,
                Err(e) => {
                    results.push((step, Err(e)));
                    continue;
                }
            };
            match verdict(&source, &target) {
                Err(refused) => {
                    results.push((step, Err(self.fail(step, refused.to_string(), None))))
                }
                Ok(Verdict::AlreadyRuns { version }) => results.push((
                    step,
                    Ok((
                        StepOutcome::Skipped,
                        format!("already runs {from}'s slug {} (v{version})", source.slug.id),
                    )),
                )),
                Ok(Verdict::Promote { downgrade: true }) if !self.options.allow_downgrade => {
                    let running = target.running.as_ref().expect("a newer release exists");
                    let message = format!(
                        "{}'s release v{} ({}) is newer than {from}'s v{} ({}); pass --allow-downgrade to overwrite it",
                        target.name,
                        running.version,
                        running.created_at,
                        source.release.version,
                        source.release.created_at
                    );
                    results.push((step, Err(self.fail(step, message, None))));
                }
                Ok(Verdict::Promote { .. }) => to_promote.push((step, target)),
            }
        }
        let targets: Vec<&Target> = to_promote.iter().map(|(_, t)| t).collect();
        let promoted = promote_all(
            self.platform,
            &source,
            &targets,
            self.options.release_timeout,
        )
        .await;
        for ((step, target), outcome) in to_promote.iter().zip(promoted) {
            let how = if via_pipeline(&source, target) {
                "pipeline promotion"
            } else {
                "release of the slug id"
            };
            let result = match outcome {
                Err(message) => Err(self.fail(step, message, None)),
                Ok(release) => self
                    .state
                    .record_release(
                        &self.platform_id,
                        &target.name,
                        &release.id,
                        release.version,
                        source.slug.checksum.as_deref(),
                    )
                    .map(|()| {
                        (
                            StepOutcome::Done,
                            format!(
                                "v{} runs slug {} ({how} of {from} v{})",
                                release.version, source.slug.id, source.release.version
                            ),
                        )
                    })
                    .map_err(|e| {
                        self.fail(step, format!("recording in the local state: {e}"), None)
                    }),
            };
            results.push((step, result));
        }
        results
    }
}
