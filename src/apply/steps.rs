//! The steps themselves: create an app, upload a slug, release it.

use super::{Applier, StepError, StepOutcome};
use crate::graph::StepKind;
use crate::plan::PlannedStep;
use crate::plan::diff::release_description;
use crate::platform::{NewSlug, Platform, PlatformError, Release, ReleaseStatus};
use crate::state::RecordedUpload;

/// What a step reports when it ends well: how, and a detail for the log.
pub(super) type StepResult = Result<(StepOutcome, String), StepError>;

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
                match self.promote_group(from, vec![step]).await.pop() {
                    Some((_, result)) => result,
                    None => Err(self.fail(step, "the promotion reported nothing", None)),
                }
            }
            other => Err(self.fail(step, format!("{other:?} is not an apply step"), None)),
        }
    }

    pub(super) fn fail(
        &self,
        step: &PlannedStep,
        message: impl Into<String>,
        source: Option<PlatformError>,
    ) -> StepError {
        StepError {
            address: step.address.clone(),
            message: message.into(),
            source,
        }
    }

    pub(super) fn platform_err(
        &self,
        step: &PlannedStep,
        doing: &str,
    ) -> impl Fn(PlatformError) -> StepError + use<> {
        let address = step.address.clone();
        let doing = doing.to_owned();
        move |err| StepError {
            address: address.clone(),
            message: format!("{doing}: {err}"),
            source: Some(err),
        }
    }

    fn record_failure(
        &self,
        step: &PlannedStep,
    ) -> impl Fn(crate::state::StateError) -> StepError + use<> {
        let address = step.address.clone();
        move |err| StepError {
            address: address.clone(),
            message: format!("recording in the local state: {err}"),
            source: None,
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
        let ready = self
            .slugs
            .get(slug)
            .ok_or_else(|| self.fail(step, format!("slug `{slug}` was not built"), None))?;
        let recorded = self
            .state
            .find_upload(
                &self.platform_id,
                &ready.checksum,
                &ready.stack,
                &ready.process_types,
            )
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
                    checksum: ready.checksum.clone(),
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
            .record_upload(
                &self.platform_id,
                &ready.checksum,
                &ready.stack,
                &ready.process_types,
                &upload,
            )
            .map_err(self.record_failure(step))?;
        self.remember_slug(slug, &created.slug.id);
        Ok((
            StepOutcome::Done,
            format!("slug {} ({size} bytes) through {app}", created.slug.id),
        ))
    }

    async fn release(&self, step: &PlannedStep, app: &str, slug: &str) -> StepResult {
        let slug_id = step
            .slug_id
            .clone()
            .or_else(|| self.known_slug(slug))
            .ok_or_else(|| {
                self.fail(
                    step,
                    format!("no slug id for `{slug}`: its upload did not run"),
                    None,
                )
            })?;
        let checksum = self.slugs.get(slug).map(|s| s.checksum.clone());
        self.release_slug(step, app, &slug_id, checksum.as_deref(), || {
            release_description(slug, checksum.as_deref().unwrap_or("an unknown checksum"))
        })
        .await
    }

    /// Releases `slug_id` to `app` unless the app already runs it (re-read right now, so an
    /// interrupted apply is never released twice), then waits for the release to settle.
    pub(super) async fn release_slug(
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
        let release = create_or_resume_release(self.platform, app, slug_id, &description())
            .await
            .map_err(self.platform_err(step, "creating the release"))?;
        let release = self.wait_for_release(step, app, release).await?;
        self.state
            .record_release(
                &self.platform_id,
                app,
                &release.id,
                release.version,
                checksum,
            )
            .map_err(self.record_failure(step))?;
        Ok((
            StepOutcome::Done,
            format!("v{} runs slug {slug_id}", release.version),
        ))
    }

    /// Polls a release until it leaves `pending`; a failed or expired one fails the step.
    pub(super) async fn wait_for_release(
        &self,
        step: &PlannedStep,
        app: &str,
        release: Release,
    ) -> Result<Release, StepError> {
        super::promote::wait_for_release(self.platform, app, release, self.options.release_timeout)
            .await
            .map_err(|message| self.fail(step, message, None))
    }
}

/// Releases `slug_id` to `app`, unless the app's newest release is a pending release of that
/// same slug: an apply killed while waiting for it left it behind, and it is resumed (waited
/// for by the caller) instead of released twice.
pub(crate) async fn create_or_resume_release(
    platform: &dyn Platform,
    app: &str,
    slug_id: &str,
    description: &str,
) -> Result<Release, PlatformError> {
    let newest = platform.releases(app, 1).await?;
    match newest.into_iter().next() {
        Some(pending)
            if pending.status == ReleaseStatus::Pending
                && pending.slug_id.as_deref() == Some(slug_id) =>
        {
            Ok(pending)
        }
        _ => platform.create_release(app, slug_id, description).await,
    }
}
