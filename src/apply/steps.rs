//! The steps themselves: create an app, upload a slug, release it, promote to it.
//!
//! Each step first checks whether its effect is already there (see the module docs of
//! `apply`); releasing, waiting and promoting are [`crate::release`]'s, and a step records in
//! the state only what has settled.

use futures_util::future::join_all;

use super::error::StepResult;
use super::{Applier, StepError, StepFailure, StepOutcome};
use crate::error_chain::Shared;
use crate::graph::StepKind;
use crate::plan::PlannedStep;
use crate::plan::diff::release_description;
use crate::platform::{NewSlug, PlatformError};
use crate::release::{
    self, ReleaseError, Target, Verdict, confirm_downgrade, known_rollbacks, promote_all,
    read_source, read_target, released_at, verdict,
};
use crate::state::{Promotions, RecordedUpload};

impl Applier<'_> {
    pub(super) async fn run_step(&self, step: &PlannedStep) -> StepResult {
        match &step.step {
            StepKind::EnsureApp { app } => self.create_app(step, app).await,
            StepKind::Upload { slug, app } => self.upload(step, slug, app).await,
            StepKind::Release { app, slug } => self.release(step, app, slug).await,
            StepKind::Couple {
                app,
                pipeline,
                stage,
            } => self.couple(step, app, pipeline, stage).await,
            StepKind::Promote { from, .. } => {
                let (_, result) = self
                    .promote_group(from, vec![step])
                    .await
                    .pop()
                    .expect("one result per promote step");
                result
            }
            StepKind::Config { app } => self.configure(step, app).await,
            StepKind::Formation { app, .. } => {
                let (_, result) = self
                    .scale_group(app, vec![step])
                    .await
                    .pop()
                    .expect("one result per formation step");
                result
            }
            other => Err(fail(
                step,
                StepFailure::NotAnApplyStep {
                    step: format!("{other:?}"),
                },
            )),
        }
    }

    /// Turns a platform error into a failure of `step`, saying what it was doing.
    pub(super) fn platform_err(
        &self,
        step: &PlannedStep,
        doing: &'static str,
    ) -> impl Fn(PlatformError) -> StepError + use<> {
        let address = step.address.clone();
        move |source| StepError {
            address: address.clone(),
            failure: StepFailure::Platform { doing, source },
        }
    }

    pub(super) fn record_failure(
        &self,
        step: &PlannedStep,
    ) -> impl Fn(crate::state::StateError) -> StepError + use<> {
        let address = step.address.clone();
        move |err| StepError {
            address: address.clone(),
            failure: StepFailure::State(err),
        }
    }

    async fn create_app(&self, step: &PlannedStep, app: &str) -> StepResult {
        let stack = self
            .app_stacks
            .get(app)
            .map_or(crate::manifest::DEFAULT_STACK, String::as_str);
        match self.platform.create_app(app, stack).await {
            Ok(created) => Ok((
                StepOutcome::Done,
                format!("created {} on {stack}", created.id),
            )),
            // Created by an interrupted apply or by hand in the meantime: what we wanted.
            Err(PlatformError::Conflict { .. }) => {
                Ok((StepOutcome::Skipped, "app exists already".into()))
            }
            Err(err) => Err(self.platform_err(step, "creating the app")(err)),
        }
    }

    async fn upload(&self, step: &PlannedStep, slug: &str, app: &str) -> StepResult {
        let ready = self.slugs.get(slug).ok_or_else(|| {
            fail(
                step,
                StepFailure::NotBuilt {
                    slug: slug.to_owned(),
                },
            )
        })?;
        let recorded = self
            .state
            .find_upload(&self.platform_id, ready.identity())
            .await
            .map_err(self.record_failure(step))?;
        if let Some(upload) = recorded {
            self.remember_slug(slug, &upload.slug_id);
            return Ok((
                StepOutcome::Skipped,
                format!("uploaded earlier as slug {}", upload.slug_id),
            ));
        }
        let created = self
            .platform
            .create_slug(
                app,
                &NewSlug {
                    process_types: ready.process_types.clone(),
                    checksum: ready.checksum.to_string(),
                    stack: ready.stack.clone(),
                    commit: None,
                    commit_description: None,
                },
            )
            .await
            .map_err(self.platform_err(step, "creating the slug"))?;
        let size = std::fs::metadata(&ready.path).map(|m| m.len()).unwrap_or(0);
        let progress = self.reporter.upload(&step.address, size);
        self.platform
            .upload_blob(&created.blob, &ready.path, progress.as_ref())
            .await
            .map_err(self.platform_err(step, "uploading the archive"))?;
        let upload = RecordedUpload {
            slug_id: created.slug.id.clone(),
            app: app.to_owned(),
        };
        self.state
            .record_upload(&self.platform_id, ready.identity(), &upload)
            .await
            .map_err(self.record_failure(step))?;
        self.remember_slug(slug, &created.slug.id);
        Ok((
            StepOutcome::Done,
            format!(
                "slug {} ({}) through {app}",
                created.slug.id,
                crate::human::size(size)
            ),
        ))
    }

    async fn release(&self, step: &PlannedStep, app: &str, slug: &str) -> StepResult {
        let slug_id = step
            .slug_id
            .clone()
            .or_else(|| self.known_slug(slug))
            .ok_or_else(|| {
                fail(
                    step,
                    StepFailure::NoSlugId {
                        slug: slug.to_owned(),
                    },
                )
            })?;
        let checksum = self.slugs.get(slug).map(|s| s.checksum.as_str());
        self.release_slug(step, app, &slug_id, checksum, || {
            release_description(slug, checksum.unwrap_or("an unknown checksum"))
        })
        .await
    }

    /// Releases `slug_id` to `app` unless the app already runs it (re-read right now, so an
    /// interrupted apply is never released twice), then waits for the release to settle.
    async fn release_slug(
        &self,
        step: &PlannedStep,
        app: &str,
        slug_id: &str,
        checksum: Option<&str>,
        description: impl FnOnce() -> String,
    ) -> StepResult {
        let current = self
            .platform
            .current_release(app)
            .await
            .map_err(self.platform_err(step, "reading the current release"))?;
        if let Some(current) = &current
            && current.slug_id.as_deref() == Some(slug_id)
        {
            return Ok((
                StepOutcome::Skipped,
                format!("already runs slug {slug_id} (v{})", current.version),
            ));
        }
        let failed = |e: ReleaseError| fail(step, e.into());
        let made = release::create_or_resume(self.platform, app, slug_id, &description())
            .await
            .map_err(failed)?;
        let release = release::wait(self.platform, app, made, self.options.release_timeout)
            .await
            .map_err(failed)?;
        self.state
            .record_release(
                &self.platform_id,
                app,
                &release.id,
                release.version,
                checksum,
            )
            .await
            .map_err(self.record_failure(step))?;
        Ok((
            StepOutcome::Done,
            format!("v{} runs slug {slug_id}", release.version),
        ))
    }
}

/// A failure of `step`.
pub(super) fn fail(step: &PlannedStep, failure: StepFailure) -> StepError {
    StepError {
        address: step.address.clone(),
        failure,
    }
}

/// Fails every step of a promotion group for one reason (its cause shared by all of them).
fn fail_all(
    steps: Vec<&PlannedStep>,
    failure: impl Fn() -> StepFailure,
) -> Vec<(&PlannedStep, StepResult)> {
    steps
        .into_iter()
        .map(|s| (s, Err(fail(s, failure()))))
        .collect()
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
                let cause = Shared::new(e);
                return fail_all(steps, || StepFailure::Source(cause.clone()));
            }
        };
        let read = join_all(steps.iter().map(|step| async move {
            let app = step.step.app().unwrap_or_default();
            read_target(self.platform, app)
                .await
                .map_err(self.platform_err(step, "reading the target app"))
        }))
        .await;
        let releases = read
            .iter()
            .filter_map(|t| t.as_ref().ok()?.running.as_ref())
            .chain([&source.release]);
        let rollbacks = match known_rollbacks(self.state, &self.platform_id, releases).await {
            Ok(rollbacks) => rollbacks,
            Err(e) => {
                let cause = Shared::new(e);
                return fail_all(steps, || StepFailure::Rollbacks(cause.clone()));
            }
        };
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
            let judged = match verdict(&source, &target, &rollbacks) {
                // Newer releases may only be config changes: compare when the slugs went live.
                Ok(Verdict::Promote { downgrade: true }) => {
                    match confirm_downgrade(self.platform, &source, &target, &rollbacks).await {
                        Ok(downgrade) => Ok(Verdict::Promote { downgrade }),
                        Err(e) => {
                            let read = self.platform_err(step, "reading the releases");
                            results.push((step, Err(read(e))));
                            continue;
                        }
                    }
                }
                other => other,
            };
            match judged {
                Err(refused) => results.push((step, Err(fail(step, refused.into())))),
                Ok(Verdict::AlreadyRuns { version }) => results.push((
                    step,
                    Ok((
                        StepOutcome::Skipped,
                        format!("already runs {from}'s slug {} (v{version})", source.slug.id),
                    )),
                )),
                Ok(Verdict::Promote { downgrade: true }) if !self.options.allow_downgrade => {
                    let running = target.running.as_ref().expect("a newer release exists");
                    let failure = StepFailure::Downgrade {
                        target: target.name.clone(),
                        target_version: running.version,
                        target_created_at: released_at(running, &rollbacks).to_owned(),
                        source_app: from.to_owned(),
                        source_version: source.release.version,
                        source_created_at: released_at(&source.release, &rollbacks).to_owned(),
                    };
                    results.push((step, Err(fail(step, failure))));
                }
                Ok(Verdict::Promote { .. }) => to_promote.push((step, target)),
            }
        }
        let targets: Vec<&Target> = to_promote.iter().map(|(_, t)| t).collect();
        let journal = Promotions::new(self.state, &self.platform_id);
        let promoted = promote_all(
            self.platform,
            &source,
            &targets,
            self.options.release_timeout,
            &journal,
        )
        .await;
        for ((step, target), outcome) in to_promote.iter().zip(promoted) {
            let how = if release::via_pipeline(&source, target) {
                "pipeline promotion"
            } else {
                "release of the slug id"
            };
            let result = match outcome {
                Err(e) => Err(fail(step, e.into())),
                Ok(release) => self
                    .state
                    .record_release(
                        &self.platform_id,
                        &target.name,
                        &release.id,
                        release.version,
                        source.slug.checksum.as_deref(),
                    )
                    .await
                    .map(|()| {
                        (
                            StepOutcome::Done,
                            format!(
                                "v{} runs slug {} ({how} of {from} v{})",
                                release.version, source.slug.id, source.release.version
                            ),
                        )
                    })
                    .map_err(self.record_failure(step)),
            };
            results.push((step, result));
        }
        results
    }
}
