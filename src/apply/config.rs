//! The config step: set and unset an app's managed config vars in one call.
//!
//! The keys are recorded as slugplan's before the call (an apply killed just after the
//! platform took them still owns them) and confirmed with their keyed hashes after it. The
//! call makes a release on Heroku and on the local platform; that release is slugplan's own, so
//! it is recorded as such (no drift next time; started before the call, so a kill before it is
//! recorded is no drift either), and waited for, so the app's slug release that
//! follows never overlaps it. What the step reports names keys, never values.

use std::collections::{BTreeMap, BTreeSet};

use super::error::StepResult;
use super::steps::fail;
use super::{Applier, StepFailure, StepOutcome};
use crate::plan::PlannedStep;
use crate::plan::config::KeyChange;
use crate::platform::{ConfigChanges, ReleaseStatus, config_description};
use crate::release;
use crate::state::StartedRelease;

impl Applier<'_> {
    pub(super) async fn configure(&self, step: &PlannedStep, app: &str) -> StepResult {
        let declared = self.config.and_then(|config| config.get(app));
        let key = self
            .state
            .value_key()
            .await
            .map_err(self.record_failure(step))?;
        let mut changes = ConfigChanges::new();
        let mut managed = BTreeMap::new();
        let mut digests = BTreeMap::new();
        let mut unset = BTreeSet::new();
        for change in &step.config {
            if change.change == KeyChange::Remove {
                changes.insert(change.key.clone(), None);
                unset.insert(change.key.clone());
                continue;
            }
            let value = declared
                .and_then(|vars| vars.get(&change.key))
                .ok_or_else(|| {
                    fail(
                        step,
                        StepFailure::NoValue {
                            key: change.key.clone(),
                        },
                    )
                })?;
            changes.insert(change.key.clone(), Some(value.expose().to_owned()));
            managed.insert(change.key.clone(), value.is_sensitive() || change.sensitive);
            digests.insert(
                change.key.clone(),
                key.digest(app, &change.key, value.expose()),
            );
        }
        self.state
            .manage_config(&self.platform_id, app, &managed)
            .await
            .map_err(self.record_failure(step))?;
        // The release the call makes is known as slugplan's even if it dies before recording
        // it: not drift on the rerun.
        let running = self
            .platform
            .current_release(app)
            .await
            .map_err(self.platform_err(step, "reading the current release"))?;
        if let Some(slug_id) = running.and_then(|r| r.slug_id) {
            let started = StartedRelease {
                app: app.to_owned(),
                slug_id,
                description: config_description(&changes),
            };
            self.state
                .record_started_releases(&self.platform_id, &[started])
                .await
                .map_err(self.record_failure(step))?;
        }
        self.platform
            .update_config_vars(app, &changes)
            .await
            .map_err(self.platform_err(step, "setting config vars"))?;
        let made = self
            .platform
            .releases(app, 1)
            .await
            .map_err(self.platform_err(step, "reading the config release"))?
            .into_iter()
            .next();
        let version = match made {
            Some(made) => {
                let version = made.version;
                let settled = if made.status == ReleaseStatus::Pending {
                    release::wait(self.platform, app, made, self.options.release_timeout)
                        .await
                        .map_err(|e| fail(step, e.into()))?
                } else {
                    made
                };
                self.state
                    .record_release(&self.platform_id, app, &settled.id, version, None)
                    .await
                    .map_err(self.record_failure(step))?;
                format!("v{version}: ")
            }
            None => String::new(),
        };
        self.state
            .record_config(&self.platform_id, app, &digests, &unset)
            .await
            .map_err(self.record_failure(step))?;
        Ok((StepOutcome::Done, format!("{version}{}", describe(step))))
    }
}

/// `set GREETING, TOKEN; unset OLD`: the keys, never their values.
fn describe(step: &PlannedStep) -> String {
    let keys = |removed: bool| -> Vec<&str> {
        step.config
            .iter()
            .filter(|c| (c.change == KeyChange::Remove) == removed)
            .map(|c| c.key.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    let (set, unset) = (keys(false), keys(true));
    if !set.is_empty() {
        parts.push(format!("set {}", set.join(", ")));
    }
    if !unset.is_empty() {
        parts.push(format!("unset {}", unset.join(", ")));
    }
    parts.join("; ")
}
