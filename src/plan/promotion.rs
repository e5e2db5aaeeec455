//! Promotion safety, decided before anything is released.
//!
//! A promotion releases to a target exactly the slug its source runs. Three things make that
//! wrong, and all are checked at plan time (by `plan`/`apply` and by `slugplan promote`) so a
//! refused target stops the deploy before any release, then re-checked at apply time in case the
//! platform moved since:
//!
//! - the target is a Fir-generation app, which runs OCI images and cannot take a slug;
//! - the target's stack differs from the slug's (the slug's binaries were built for another OS);
//! - the target's running release is newer than the source's: someone deployed to it directly,
//!   and promoting would silently downgrade it. That is drift; overwriting it needs
//!   `--allow-downgrade`.
//!
//! Apps are compared by their platform id, never by how a name is spelled, so an app named twice
//! (by name and by id) is recognised as one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::desired::DesiredState;
use crate::graph::{Address, StepKind};
use crate::plan::observe::ObservedApp;
use crate::plan::{Action, Drift, Plan};
use crate::platform::{App, Generation, Release};

/// Why a target may not receive a promotion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum Refusal {
    /// The target runs OCI images.
    #[error("{app} is a Fir-generation app, which runs OCI images, not slugs")]
    #[diagnostic(help("remove {app} from the promotion, or deploy it with a container image"))]
    Fir {
        /// The target.
        app: String,
    },
    /// The target's stack is not the slug's.
    #[error("{app} runs on {app_stack}, but {source_app}'s slug was built for {slug_stack}")]
    #[diagnostic(help(
        "move {app} to {slug_stack} (`heroku stack:set {slug_stack} -a {app}`), or build a slug for {app_stack}"
    ))]
    Stack {
        /// The target.
        app: String,
        /// The target's stack.
        app_stack: String,
        /// The source.
        source_app: String,
        /// The slug's stack.
        slug_stack: String,
    },
    /// Source and target are the same app.
    #[error("{app} is the source app {source_app} itself (same app id {id})")]
    #[diagnostic(help("name a different target app"))]
    SameApp {
        /// The target as named.
        app: String,
        /// The source as named.
        source_app: String,
        /// Their common id.
        id: String,
    },
}

/// Checks one target against the source app and the stack of the slug being promoted.
pub fn refusal(source_name: &str, source: &App, slug_stack: &str, target: &App) -> Option<Refusal> {
    if target.id == source.id {
        return Some(Refusal::SameApp {
            app: target.name.clone(),
            source_app: source_name.to_owned(),
            id: target.id.clone(),
        });
    }
    if target.generation == Generation::Fir {
        return Some(Refusal::Fir {
            app: target.name.clone(),
        });
    }
    if target.stack != slug_stack {
        return Some(Refusal::Stack {
            app: target.name.clone(),
            app_stack: target.stack.clone(),
            source_app: source_name.to_owned(),
            slug_stack: slug_stack.to_owned(),
        });
    }
    None
}

/// Whether `target`'s release was made after `source`'s (someone deployed to the target
/// directly), compared as instants, not strings.
pub fn is_newer(target: &Release, source: &Release) -> bool {
    match (
        target.created_at.parse::<jiff::Timestamp>(),
        source.created_at.parse::<jiff::Timestamp>(),
    ) {
        (Ok(t), Ok(s)) => t > s,
        _ => false,
    }
}

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

/// Adds a [`PromotionDetail`] to every promotion step that changes something, refuses targets
/// that may not take the slug, and reports targets newer than their source as drift.
pub fn check(
    plan: &mut Plan,
    desired: &DesiredState,
    observed: &BTreeMap<String, ObservedApp>,
    apps: &BTreeMap<String, App>,
) -> Result<(), PromotionPlanError> {
    let planned: BTreeSet<String> = plan
        .changes()
        .filter_map(|s| match &s.step {
            StepKind::Release { app, .. } | StepKind::Promote { app, .. } => Some(app.clone()),
            _ => None,
        })
        .collect();
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
        if !source_planned
            && let Some(target_running) = &target.running
            && is_newer(target_running, source_running)
        {
            detail.downgrade = true;
            downgrades.push((app.clone(), from.clone(), source_running.version));
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

/// Reports a target newer than its source as drift (adding it when the release was made by
/// slugplan and so not drift otherwise).
fn mark_downgrade(
    plan: &mut Plan,
    observed: &BTreeMap<String, ObservedApp>,
    app: &str,
    from: &str,
    source_version: u64,
) {
    let note = format!("newer than {from}'s v{source_version}");
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
    });
}

/// The promotion targets of `plan` that would be downgraded, by address.
pub fn downgrades(plan: &Plan) -> Vec<&Address> {
    plan.changes()
        .filter(|s| s.promotion.as_ref().is_some_and(|p| p.downgrade))
        .map(|s| &s.address)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, stack: &str, generation: Generation) -> App {
        App {
            id: id.into(),
            name: format!("app-{id}"),
            stack: stack.into(),
            generation,
        }
    }

    #[test]
    fn targets_are_refused_by_generation_stack_and_identity() {
        let source = app("1", "heroku-24", Generation::Cedar);
        let ok = app("2", "heroku-24", Generation::Cedar);
        assert_eq!(refusal("src", &source, "heroku-24", &ok), None);
        let fir = app("3", "heroku-24", Generation::Fir);
        assert!(matches!(
            refusal("src", &source, "heroku-24", &fir),
            Some(Refusal::Fir { .. })
        ));
        let old = app("4", "heroku-22", Generation::Cedar);
        let refused = refusal("src", &source, "heroku-24", &old).unwrap();
        assert_eq!(
            refused.to_string(),
            "app-4 runs on heroku-22, but src's slug was built for heroku-24"
        );
        // The same app under another spelling is still the same app.
        let same = App {
            name: "SRC".into(),
            ..source.clone()
        };
        assert!(matches!(
            refusal("src", &source, "heroku-24", &same),
            Some(Refusal::SameApp { .. })
        ));
    }

    #[test]
    fn newer_compares_instants_not_strings() {
        let release = |at: &str| Release {
            id: at.into(),
            version: 1,
            status: crate::platform::ReleaseStatus::Succeeded,
            current: true,
            slug_id: None,
            description: String::new(),
            created_at: at.into(),
        };
        assert!(is_newer(
            &release("2026-11-25T10:00:01Z"),
            &release("2026-11-25T11:00:00+02:00")
        ));
        assert!(!is_newer(
            &release("2026-11-25T09:00:00Z"),
            &release("2026-11-25T10:00:00Z")
        ));
    }
}
