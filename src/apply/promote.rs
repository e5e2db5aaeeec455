//! Promotion: release to an app exactly the slug another app runs, never rebuilding.
//!
//! The source's slug is the one of its running release (current **and** succeeded), read at
//! the moment of promotion, so a promotion that waits for the source's own release in the same
//! apply gets the new slug. When source and target are coupled to the same pipeline the
//! platform's pipeline promotion is used (so the platform's own promotion history and checks
//! apply); otherwise the slug id is released to the target directly. Either way nothing is built
//! or uploaded.

use std::time::{Duration, Instant};

use super::steps::StepResult;
use super::{Applier, StepOutcome};
use crate::plan::PlannedStep;
use crate::platform::{Generation, PlatformError, Release, TargetStatus};

impl Applier<'_> {
    pub(super) async fn promote(&self, step: &PlannedStep, app: &str, from: &str) -> StepResult {
        let err = |doing: &str| self.platform_err(step, doing);
        let source_release = self
            .platform
            .current_release(from)
            .await
            .map_err(err("reading the source's current release"))?
            .ok_or_else(|| {
                self.fail(
                    step,
                    format!("source app {from} has no successful current release to promote"),
                    None,
                )
            })?;
        let slug_id = source_release.slug_id.clone().ok_or_else(|| {
            self.fail(
                step,
                format!("release v{} of {from} has no slug", source_release.version),
                None,
            )
        })?;
        let slug = self
            .platform
            .slug(from, &slug_id)
            .await
            .map_err(err("reading the source's slug"))?;
        let target = self
            .platform
            .app(app)
            .await
            .map_err(err("reading the target app"))?;
        if target.generation == Generation::Fir {
            return Err(self.fail(
                step,
                format!("{app} is a Fir-generation app, which runs OCI images, not slugs"),
                None,
            ));
        }
        if target.stack != slug.stack {
            return Err(self.fail(
                step,
                format!(
                    "{app} runs on {}, but {from}'s slug was built for {}",
                    target.stack, slug.stack
                ),
                None,
            ));
        }
        let current = self
            .platform
            .current_release(app)
            .await
            .map_err(err("reading the target's current release"))?;
        if let Some(current) = &current {
            if current.slug_id.as_deref() == Some(slug_id.as_str()) {
                return Ok((
                    StepOutcome::Skipped,
                    format!(
                        "already runs {from}'s slug {slug_id} (v{})",
                        current.version
                    ),
                ));
            }
            if !self.options.allow_downgrade && is_newer(current, &source_release) {
                return Err(self.fail(
                    step,
                    format!(
                        "{app}'s release v{} ({}) is newer than {from}'s v{} ({}); pass --allow-downgrade to overwrite it",
                        current.version, current.created_at, source_release.version, source_release.created_at
                    ),
                    None,
                ));
            }
        }
        let checksum = slug.checksum.clone();
        let source_coupling = self
            .platform
            .coupling(from)
            .await
            .map_err(err("reading the source's pipeline"))?;
        let target_coupling = self
            .platform
            .coupling(app)
            .await
            .map_err(err("reading the target's pipeline"))?;
        match (source_coupling, target_coupling) {
            (Some(source), Some(target_coupling))
                if source.pipeline_id == target_coupling.pipeline_id =>
            {
                self.pipeline_promotion(
                    step,
                    app,
                    &source.pipeline_id,
                    &source.app_id,
                    &source_release,
                    &target.id,
                    checksum.as_deref(),
                )
                .await
            }
            _ => {
                let description =
                    || format!("Promote {from} v{} (slugplan)", source_release.version);
                self.release_slug(step, app, &slug_id, checksum.as_deref(), description)
                    .await
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the promotion's parts, each named at the call"
    )]
    async fn pipeline_promotion(
        &self,
        step: &PlannedStep,
        app: &str,
        pipeline_id: &str,
        source_app_id: &str,
        source_release: &Release,
        target_app_id: &str,
        checksum: Option<&str>,
    ) -> StepResult {
        let promotion = self
            .platform
            .create_promotion(
                pipeline_id,
                source_app_id,
                &source_release.id,
                &[target_app_id.to_owned()],
            )
            .await
            .map_err(self.platform_err(step, "creating the pipeline promotion"))?;
        let deadline = Instant::now() + self.options.release_timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            let targets = self
                .platform
                .promotion_targets(&promotion.id)
                .await
                .map_err(self.platform_err(step, "polling the promotion"))?;
            let target = targets.iter().find(|t| t.app_id == target_app_id);
            match target.map(|t| t.status) {
                Some(TargetStatus::Succeeded) => {
                    let release_id = target.and_then(|t| t.release_id.clone());
                    if let Some(release_id) = &release_id {
                        let release = self
                            .platform
                            .release(app, release_id)
                            .await
                            .map_err(self.platform_err(step, "reading the promoted release"))?;
                        self.state
                            .lock()
                            .expect("state lock")
                            .record_release(
                                &self.platform_id,
                                app,
                                &release.id,
                                release.version,
                                checksum,
                            )
                            .map_err(|e| {
                                self.fail(step, format!("recording in the local state: {e}"), None)
                            })?;
                        return Ok((
                            StepOutcome::Done,
                            format!("pipeline promotion {} → v{}", promotion.id, release.version),
                        ));
                    }
                    return Ok((
                        StepOutcome::Done,
                        format!("pipeline promotion {}", promotion.id),
                    ));
                }
                Some(TargetStatus::Failed) => {
                    let why = target
                        .and_then(|t| t.error_message.clone())
                        .unwrap_or_else(|| "no reason given".into());
                    return Err(self.fail(step, format!("promotion to {app} failed: {why}"), None));
                }
                Some(TargetStatus::Pending) | None if Instant::now() < deadline => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(3));
                }
                _ => {
                    return Err(self.fail(
                        step,
                        format!("promotion {} to {app} did not finish in time", promotion.id),
                        Some(PlatformError::Api {
                            status: 0,
                            id: "timeout".into(),
                            message: "promotion target still pending".into(),
                            request_id: None,
                        }),
                    ));
                }
            }
        }
    }
}

/// Whether `target`'s release was made after `source`'s (someone deployed to the target
/// directly), compared as instants, not strings.
fn is_newer(target: &Release, source: &Release) -> bool {
    match (
        target.created_at.parse::<jiff::Timestamp>(),
        source.created_at.parse::<jiff::Timestamp>(),
    ) {
        (Ok(t), Ok(s)) => t > s,
        _ => false,
    }
}
