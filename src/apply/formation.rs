//! The formation steps of one app: read its formation once, scale every process type that is
//! not as declared in one batch update.
//!
//! Each step first checks its effect against the formation read right now (the release before
//! it may have scaled the type already by Heroku's first-release rule, or an interrupted apply
//! did), so only what differs is sent and a rerun converges.

use super::error::StepResult;
use super::steps::fail;
use super::{Applier, StepFailure, StepOutcome};
use crate::error_chain::Shared;
use crate::plan::PlannedStep;
use crate::plan::formation::describe;
use crate::platform::FormationUpdate;

impl Applier<'_> {
    /// Runs the formation steps of `app` that are ready together.
    pub(super) async fn scale_group<'s>(
        &self,
        app: &str,
        steps: Vec<&'s PlannedStep>,
    ) -> Vec<(&'s PlannedStep, StepResult)> {
        let current = match self.platform.formation(app).await {
            Ok(current) => current,
            Err(e) => {
                let cause = Shared::new(e);
                return steps
                    .into_iter()
                    .map(|s| {
                        let failure = StepFailure::PlatformShared {
                            doing: "reading the formation",
                            source: cause.clone(),
                        };
                        (s, Err(fail(s, failure)))
                    })
                    .collect();
            }
        };
        let mut results = Vec::new();
        let mut to_scale = Vec::new();
        for step in steps {
            let Some(change) = &step.formation else {
                let failure = StepFailure::NotAnApplyStep {
                    step: step.address.0.clone(),
                };
                results.push((step, Err(fail(step, failure))));
                continue;
            };
            match current
                .iter()
                .find(|f| f.process_type == change.process_type)
            {
                None => {
                    let failure = StepFailure::NoProcessType {
                        app: app.to_owned(),
                        process_type: change.process_type.clone(),
                    };
                    results.push((step, Err(fail(step, failure))));
                }
                Some(now) if change.satisfied_by(now) => results.push((
                    step,
                    Ok((
                        StepOutcome::Skipped,
                        format!("already runs {}", describe(now.quantity, Some(&now.size))),
                    )),
                )),
                Some(now) => to_scale.push((step, describe(now.quantity, Some(&now.size)))),
            }
        }
        if to_scale.is_empty() {
            return results;
        }
        let updates: Vec<FormationUpdate> = to_scale
            .iter()
            .filter_map(|(step, _)| step.formation.as_ref())
            .map(|change| FormationUpdate {
                process_type: change.process_type.clone(),
                quantity: Some(change.quantity),
                size: change.size.clone(),
            })
            .collect();
        match self.platform.update_formation(app, &updates).await {
            Ok(after) => {
                for (step, before) in to_scale {
                    let change = step.formation.as_ref().expect("checked above");
                    let now = after
                        .iter()
                        .find(|f| f.process_type == change.process_type)
                        .map_or_else(
                            || describe(change.quantity, change.size.as_deref()),
                            |f| describe(f.quantity, Some(&f.size)),
                        );
                    results.push((
                        step,
                        Ok((
                            StepOutcome::Done,
                            format!("{}: {before} → {now}", change.process_type),
                        )),
                    ));
                }
            }
            Err(e) => {
                let cause = Shared::new(e);
                for (step, _) in to_scale {
                    let failure = StepFailure::PlatformShared {
                        doing: "scaling the formation",
                        source: cause.clone(),
                    };
                    results.push((step, Err(fail(step, failure))));
                }
            }
        }
        results
    }
}
