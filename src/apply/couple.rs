//! Pipeline couplings: make the platform's pipelines match the manifest's `pipeline`/`stage`.
//!
//! A coupling step creates the pipeline when it is missing (two steps racing to create the same
//! pipeline both end up using the one that won), then couples the app, moves it to the declared
//! stage (`PATCH`), or, when it sits in another pipeline, uncouples it there and couples it here.
//! Each step re-reads the coupling first, so a repeated apply does nothing twice.

use super::error::StepResult;
use super::{Applier, StepError, StepOutcome};
use crate::plan::PlannedStep;
use crate::platform::{Pipeline, PlatformError};

impl Applier<'_> {
    pub(super) async fn couple(
        &self,
        step: &PlannedStep,
        app: &str,
        pipeline: &str,
        stage: &str,
    ) -> StepResult {
        let err = |doing: &'static str| self.platform_err(step, doing);
        let pipeline = self.ensure_pipeline(step, pipeline).await?;
        let coupling = self
            .platform
            .coupling(app)
            .await
            .map_err(err("reading the app's coupling"))?;
        match coupling {
            Some(c) if c.pipeline_id == pipeline.id && c.stage == stage => Ok((
                StepOutcome::Skipped,
                format!("already coupled to {} at {stage}", pipeline.name),
            )),
            Some(c) if c.pipeline_id == pipeline.id => {
                self.platform
                    .update_coupling(&c.id, stage)
                    .await
                    .map_err(err("moving the coupling"))?;
                Ok((
                    StepOutcome::Done,
                    format!("moved from {} to {stage} in {}", c.stage, pipeline.name),
                ))
            }
            other => {
                if let Some(old) = &other {
                    self.platform
                        .delete_coupling(&old.id)
                        .await
                        .map_err(err("uncoupling the app from its other pipeline"))?;
                }
                self.platform
                    .create_coupling(app, &pipeline.id, stage)
                    .await
                    .map_err(err("coupling the app"))?;
                let moved = other
                    .map(|old| format!(" (moved from pipeline {})", old.pipeline_id))
                    .unwrap_or_default();
                Ok((
                    StepOutcome::Done,
                    format!("coupled to {} at {stage}{moved}", pipeline.name),
                ))
            }
        }
    }

    /// The pipeline named `name`, created when missing.
    async fn ensure_pipeline(&self, step: &PlannedStep, name: &str) -> Result<Pipeline, StepError> {
        let err = |doing: &'static str| self.platform_err(step, doing);
        match self.platform.pipeline(name).await {
            Ok(pipeline) => return Ok(pipeline),
            Err(PlatformError::NotFound { .. }) => {}
            Err(e) => return Err(err("reading the pipeline")(e)),
        }
        match self.platform.create_pipeline(name).await {
            Ok(pipeline) => Ok(pipeline),
            // Another coupling step of this apply created it a moment ago.
            Err(
                created @ (PlatformError::Conflict { .. } | PlatformError::InvalidParams { .. }),
            ) => self
                .platform
                .pipeline(name)
                .await
                .map_err(|_| err("creating the pipeline")(created)),
            Err(e) => Err(err("creating the pipeline")(e)),
        }
    }
}
