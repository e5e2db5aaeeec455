//! Promotion safety in a plan, decided before anything is released.
//!
//! A promotion releases to a target exactly the slug its source runs. The rules that make one
//! wrong (a Fir target, another stack, the source itself, a target newer than its source) are
//! [`crate::release`]'s, shared with `slugplan promote` and re-checked at apply time in case the
//! platform moved since. Here they are applied to a diffed plan, so a refused target stops the
//! deploy before any release and a target newer than its source shows as drift that needs
//! `--allow-downgrade` ("newer" as [`crate::release`] counts it: a rollback slugplan made as of
//! the release it went back to). A source that is itself released earlier in the same apply is
//! checked against the slug it will get. A target's newer release may be only a config change (a
//! release of the slug it runs): a downgrade is confirmed against when each app's slug went live
//! ([`apps_to_date`] says whose to read, only where the running releases suggest one).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::desired::DesiredState;
use crate::graph::{Address, StepKind};
use crate::plan::observe::ObservedApp;
use crate::plan::{Action, Drift, Plan};
use crate::platform::{App, Release};
use crate::release::{Refusal, Rollbacks, is_newer, refusal};

/// What a plan shows about one promotion target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionDetail {
    /// The source app.
    pub source: String,
    /// The version of the source's running release; None when it has none yet.
    pub source_version: Option<u64>,
    /// Whether the source is released to earlier in this same apply (the promotion then takes
    /// that new release).
    pub source_planned: bool,
    /// The checksum that will be promoted.
    pub source_checksum: Option<String>,
    /// The version of the target's running release, if any.
    pub target_version: Option<u64>,
    /// The checksum the target runs now.
    pub target_checksum: Option<String>,
    /// The target runs a newer release than the source: promoting downgrades it.
    pub downgrade: bool,
    /// The pipeline both apps are declared in: the promotion goes through it (one pipeline
    /// promotion for all of the source's targets there). None: the slug id is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
}

/// Errors that stop a plan with promotions.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PromotionPlanError {
    /// The source runs nothing and gets nothing in this apply.
    #[error("{source_app} has no successful current release to promote to {target}")]
    #[diagnostic(help(
        "release to {source_app} first (`slugplan apply --target {source_app}`); a pending or failed newest release is not what it runs"
    ))]
    NoSourceRelease {
        /// The source.
        source_app: String,
        /// The target.
        target: String,
    },
    /// Targets that must not receive the slug.
    #[error("promotion refused for {}", refusals.iter().map(refused_app).collect::<Vec<_>>().join(", "))]
    #[diagnostic(help("nothing was released; fix the targets named below and plan again"))]
    Refused {
        /// One per refused target.
        #[related]
        refusals: Vec<Refusal>,
    },
}

fn refused_app(refusal: &Refusal) -> &str {
    match refusal {
        Refusal::Fir { app } | Refusal::Stack { app, .. } | Refusal::SameApp { app, .. } => app,
    }
}

/// The apps whose records (id, stack, generation) a plan must read to check its promotions:
/// the targets and sources of promotions that change something, when they exist. Only these
/// are read, so a plan without changes costs no app reads.
pub fn apps_to_read(plan: &Plan, observed: &BTreeMap<String, ObservedApp>) -> BTreeSet<String> {
    let exists = |app: &str| observed.get(app).is_some_and(|o| o.exists);
    plan.changes()
        .filter_map(|step| match &step.step {
            StepKind::Promote { app, from } => Some([app, from]),
            _ => None,
        })
        .flatten()
        .filter(|app| exists(app))
        .cloned()
        .collect()
}

/// The apps released to in `plan` (their running release is about to change).
fn planned_releases(plan: &Plan) -> BTreeSet<String> {
    plan.changes()
        .filter_map(|s| match &s.step {
            StepKind::Release { app, .. } | StepKind::Promote { app, .. } => Some(app.clone()),
            _ => None,
        })
        .collect()
}

/// The apps whose running slug's live release ([`crate::release::live_release`]) the plan must
/// read to check its promotions for downgrades: both ends of each promotion whose target runs a
/// newer release than its source (which this apply does not release). Usually none.
pub fn apps_to_date(
    plan: &Plan,
    observed: &BTreeMap<String, ObservedApp>,
    rollbacks: &Rollbacks,
) -> BTreeSet<String> {
    let planned = planned_releases(plan);
    let running = |app: &str| {
        observed
            .get(app)
            .and_then(|o| o.running.as_ref())
            .filter(|r| r.is_running())
    };
    plan.changes()
        .filter_map(|step| match &step.step {
            StepKind::Promote { app, from } if !planned.contains(from) => {
                let newer = is_newer(running(app)?, running(from)?, rollbacks);
                newer.then(|| [app.clone(), from.clone()])
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// Adds a [`PromotionDetail`] to every promotion step that changes something, refuses targets
/// that may not take the slug, and reports targets newer than their source as drift
/// (`rollbacks`: those slugplan made among the running and live releases). `live` holds the
/// release that brought each app's running slug, for the apps [`apps_to_date`] named; the others
/// are dated by their running release.
pub fn check(
    plan: &mut Plan,
    desired: &DesiredState,
    observed: &BTreeMap<String, ObservedApp>,
    apps: &BTreeMap<String, App>,
    rollbacks: &Rollbacks,
    live: &BTreeMap<String, Release>,
) -> Result<(), PromotionPlanError> {
    let planned = planned_releases(plan);
    let none = ObservedApp::default();
    let mut refusals = Vec::new();
    let mut downgrades = Vec::new();
    for step in plan.steps.iter_mut() {
        let (StepKind::Promote { app, from }, Action::Promote) = (&step.step, step.action) else {
            continue;
        };
        let source = observed.get(from).unwrap_or(&none);
        let target = observed.get(app).unwrap_or(&none);
        let source_planned = planned.contains(from);
        let Some(source_running) = source.running.as_ref().filter(|r| r.is_running()) else {
            if !source_planned {
                return Err(PromotionPlanError::NoSourceRelease {
                    source_app: from.clone(),
                    target: app.clone(),
                });
            }
            let mut detail = detail(from, source, target, true, step.after.clone());
            detail.pipeline = shared_pipeline(desired, from, app);
            step.promotion = Some(detail);
            continue;
        };
        let slug_stack = if source_planned {
            desired
                .slugs
                .get(&desired.apps[app].slug)
                .map(|s| s.stack.clone())
        } else {
            source.slug.as_ref().map(|s| s.stack.clone())
        };
        if let (Some(source_app), Some(target_app), Some(stack)) =
            (apps.get(from), apps.get(app), slug_stack)
            && let Some(refusal) = refusal(from, source_app, &stack, target_app)
        {
            refusals.push(refusal);
        }
        let after = if source_planned {
            step.after.clone()
        } else {
            source.checksum().map(str::to_owned)
        };
        let mut detail = detail(from, source, target, source_planned, after);
        detail.pipeline = shared_pipeline(desired, from, app);
        let dated = |app: &str, running: &'_ Release| {
            live.get(app).cloned().unwrap_or_else(|| running.clone())
        };
        if !source_planned
            && let Some(target_running) = &target.running
            && is_newer(
                &dated(app, target_running),
                &dated(from, source_running),
                rollbacks,
            )
        {
            detail.downgrade = true;
            let mut version = format!("v{}", source_running.version);
            if let Some(rollback) = rollbacks.get(&source_running.id) {
                version.push_str(&format!(" (a rollback to v{})", rollback.version));
            }
            downgrades.push((app.clone(), from.clone(), version));
        }
        step.promotion = Some(detail);
    }
    if !refusals.is_empty() {
        return Err(PromotionPlanError::Refused { refusals });
    }
    for (app, from, source_version) in downgrades {
        mark_downgrade(plan, observed, &app, &from, source_version);
    }
    Ok(())
}

fn detail(
    from: &str,
    source: &ObservedApp,
    target: &ObservedApp,
    source_planned: bool,
    source_checksum: Option<String>,
) -> PromotionDetail {
    PromotionDetail {
        source: from.to_owned(),
        source_version: source.running.as_ref().map(|r| r.version),
        source_planned,
        source_checksum,
        target_version: target.running.as_ref().map(|r| r.version),
        target_checksum: target.checksum().map(str::to_owned),
        downgrade: false,
        pipeline: None,
    }
}

/// The pipeline `source` and `target` are both declared in, if any.
fn shared_pipeline(desired: &DesiredState, source: &str, target: &str) -> Option<String> {
    let pipeline = |app: &str| desired.apps.get(app).and_then(|a| a.pipeline.clone());
    pipeline(source).filter(|p| pipeline(target).as_ref() == Some(p))
}

/// Reports a target newer than its source as drift (adding it, said to be slugplan's, when the
/// release was made by slugplan and so not drift otherwise).
fn mark_downgrade(
    plan: &mut Plan,
    observed: &BTreeMap<String, ObservedApp>,
    app: &str,
    from: &str,
    source_version: String,
) {
    let note = format!("newer than {from}'s {source_version}");
    if let Some(drift) = plan.drift.iter_mut().find(|d| d.app == app) {
        drift.newer_than_source = Some(note);
        return;
    }
    let Some(release) = observed.get(app).and_then(|o| o.running.as_ref()) else {
        return;
    };
    plan.drift.push(Drift {
        app: app.to_owned(),
        version: release.version,
        release_id: release.id.clone(),
        checksum: observed[app].checksum().map(str::to_owned),
        description: release.description.clone(),
        corrected: true,
        newer_than_source: Some(note),
        by_slugplan: true,
    });
}

/// The promotion targets of `plan` that would be downgraded, by address.
pub fn downgrades(plan: &Plan) -> Vec<&Address> {
    plan.changes()
        .filter(|s| s.promotion.as_ref().is_some_and(|p| p.downgrade))
        .map(|s| &s.address)
        .collect()
}
