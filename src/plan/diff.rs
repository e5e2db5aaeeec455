//! The diff: desired state against observed state, as a [`Plan`].
//!
//! A pure function of its inputs, so every decision is unit-testable without a platform:
//!
//! - each app is released to, promoted, or left as it is (the rules are [`super::decide`]'s);
//! - a slug is uploaded only when some app needs it and no slug with the same checksum, stack
//!   and process types is on the platform already (another app runs it, or slugplan recorded an
//!   upload of it); otherwise that slug id is released as it is;
//! - a running release slugplan did not make is drift, reported whether or not it changes;
//! - an app's config and formation steps are decided by [`crate::plan::config`] and
//!   [`crate::plan::formation`] from [`AppFacts`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::checksum::{Checksum, short};
use crate::desired::DesiredState;
use crate::desired::config::ResolvedConfig;
use crate::graph::{StepGraph, StepKind, Targeting};
use crate::plan::config::{AppConfig, ConfigDrift};
use crate::plan::decide::{AppDecision, decide_apps};
use crate::plan::observe::{ObservedApp, ObservedPipelines};
use crate::plan::{Action, Drift, FORMAT_VERSION, Plan, PlannedStep, Summary, Undeclared};
use crate::platform::Formation;
use crate::release::Rollbacks;
use crate::sensitive::ValueKey;
use crate::state::{ManagedVar, RecordedUpload};

/// What is known about a slug the plan deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugFacts {
    /// Its checksum; None when it was not built (`--no-build`) and is not in the cache.
    pub checksum: Option<Checksum>,
    /// The stack it is built for.
    pub stack: String,
    /// Its process types.
    pub process_types: BTreeMap<String, String>,
    /// Whether the archive was built for this plan (not found in the cache).
    pub built_now: bool,
    /// Whether its Go program was compiled for this plan.
    pub go_built_now: bool,
    /// Why it was built, e.g. `web.js changed`.
    pub build_reason: String,
}

/// Everything the diff looks at.
#[derive(Debug, Clone, Copy)]
pub struct DiffInput<'a> {
    /// The step graph.
    pub graph: &'a StepGraph,
    /// The desired state.
    pub desired: &'a DesiredState,
    /// Facts about each deployed slug, by name.
    pub slugs: &'a BTreeMap<String, SlugFacts>,
    /// Runtimes downloaded for this plan.
    pub fetched: &'a BTreeSet<String>,
    /// What each app runs now.
    pub observed: &'a BTreeMap<String, ObservedApp>,
    /// The declared pipelines and the apps' couplings.
    pub pipelines: &'a ObservedPipelines,
    /// Uploads slugplan recorded, by slug name (matching checksum, stack and process types).
    pub uploads: &'a BTreeMap<String, RecordedUpload>,
    /// Release ids slugplan made.
    pub ours: &'a BTreeSet<String>,
    /// The rollbacks slugplan made among the running releases.
    pub rollbacks: &'a Rollbacks,
    /// What `--target` keeps and names; None: everything.
    pub targeting: Option<&'a Targeting>,
    /// What the apps slugplan deployed and the manifest no longer declares run now.
    pub undeclared: &'a BTreeMap<String, ObservedApp>,
    /// The platform's description.
    pub platform: &'a str,
    /// SHA-256 of the manifest.
    pub manifest_sha256: &'a str,
    /// What the config and formation steps are decided from.
    pub apps: AppFacts<'a>,
}

/// What is known about the apps' config vars and formation.
#[derive(Debug, Clone, Copy)]
pub struct AppFacts<'a> {
    /// The declared config of each app with a config step, expanded.
    pub config: &'a ResolvedConfig,
    /// The config vars now of each app with a config step (absent: not created yet).
    pub observed_config: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// The keys slugplan manages on each app with a config step.
    pub managed_config: &'a BTreeMap<String, BTreeMap<String, ManagedVar>>,
    /// The formation now of each app that declares one (absent: not created yet).
    pub observed_formation: &'a BTreeMap<String, Vec<Formation>>,
    /// The workspace's key for the keyed hashes of config values.
    pub value_key: &'a ValueKey,
}

impl AppFacts<'static> {
    /// No config step and no formation step has anything to go on: for plans of manifests
    /// that declare neither.
    pub fn none() -> Self {
        static CONFIG: ResolvedConfig = BTreeMap::new();
        static OBSERVED: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        static MANAGED: BTreeMap<String, BTreeMap<String, ManagedVar>> = BTreeMap::new();
        static FORMATION: BTreeMap<String, Vec<Formation>> = BTreeMap::new();
        static KEY: LazyLock<ValueKey> = LazyLock::new(ValueKey::generate);
        AppFacts {
            config: &CONFIG,
            observed_config: &OBSERVED,
            managed_config: &MANAGED,
            observed_formation: &FORMATION,
            value_key: &KEY,
        }
    }
}

/// Errors that make a plan impossible.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiffError {
    /// An app is missing and slugplan may not create it.
    #[error("app `{app}` does not exist on {platform}")]
    #[diagnostic(help(
        "create it (`heroku apps:create {app}`), or set `create = true` under [apps.{app}]"
    ))]
    MissingApp {
        /// The app.
        app: String,
        /// The platform.
        platform: String,
    },
}

/// The description slugplan gives its releases; also how drift made by another slugplan is
/// told apart from a release made by hand.
pub fn release_description(slug: &str, checksum: &str) -> String {
    format!("Deploy {slug} {} (slugplan)", short(checksum))
}

/// Computes the plan.
pub fn diff(input: DiffInput<'_>) -> Result<Plan, DiffError> {
    let decisions = decide_apps(&input)?;
    let reusable = reusable_slugs(&input);
    let mut steps = Vec::new();
    let mut config_drift: Vec<ConfigDrift> = Vec::new();

    for step in input.graph.ordered() {
        let address = step.address();
        let mut planned = PlannedStep {
            depends_on: input.graph.dependencies(&address),
            address,
            action: Action::NoOp,
            step: step.clone(),
            reason: String::new(),
            before: None,
            after: None,
            slug_id: None,
            promotion: None,
            config: Vec::new(),
            formation: None,
        };
        match step {
            StepKind::FetchRuntime { runtime } => {
                if input.fetched.contains(runtime) {
                    planned.action = Action::Fetch;
                    planned.reason = "not in the cache".into();
                } else {
                    planned.reason = "in the cache".into();
                }
            }
            StepKind::GoBuild { slug } => {
                let facts = &input.slugs[slug];
                if facts.go_built_now {
                    planned.action = Action::Build;
                    planned.reason = "Go sources changed".into();
                } else {
                    planned.reason = "Go build cached".into();
                }
            }
            StepKind::AssembleSlug { slug, .. } => {
                let facts = &input.slugs[slug];
                planned.after = facts.checksum.as_ref().map(Checksum::to_string);
                if facts.checksum.is_none() {
                    planned.action = Action::Build;
                    planned.reason = "not built yet (checksum known after build)".into();
                } else if facts.built_now {
                    planned.action = Action::Build;
                    planned.reason = format!("forces new slug: {}", facts.build_reason);
                } else {
                    planned.reason = "slug cached".into();
                }
            }
            StepKind::EnsureApp { app } => {
                if !input.observed.get(app).is_some_and(|o| o.exists) {
                    planned.action = Action::Create;
                    planned.reason = "app does not exist yet".into();
                } else {
                    planned.reason = "app exists".into();
                }
            }
            StepKind::Upload { slug, .. } => {
                let facts = &input.slugs[slug];
                planned.after = facts.checksum.as_ref().map(Checksum::to_string);
                let needed = input.desired.apps.values().any(|app| {
                    &app.slug == slug && decisions.apps[&app.name].action != Action::NoOp
                });
                match (needed, reusable.get(slug)) {
                    (false, _) => planned.reason = "no app needs a new release of it".into(),
                    (true, Some((id, whence))) => {
                        planned.slug_id = Some(id.clone());
                        planned.reason = format!("already on the platform as slug {id} ({whence})");
                    }
                    (true, None) => {
                        planned.action = Action::Upload;
                        planned.reason = "not on the platform yet".into();
                    }
                }
            }
            StepKind::Couple {
                app,
                pipeline,
                stage,
            } => {
                let coupling = input.pipelines.couplings.get(app).cloned().flatten();
                let pipeline_id = input.pipelines.pipelines.get(pipeline).cloned().flatten();
                let (action, reason) =
                    decide_coupling(coupling.as_ref(), pipeline_id.as_deref(), pipeline, stage);
                planned.action = action;
                planned.reason = reason;
            }
            StepKind::Release { app, slug } | StepKind::Promote { app, from: slug } => {
                let decision = &decisions.apps[app];
                planned.action = decision.action;
                planned.reason = decision.reason.clone();
                planned.before = decision.before.clone();
                planned.after = decision.after.clone();
                if matches!(step, StepKind::Release { .. }) && decision.action != Action::NoOp {
                    planned.slug_id = reusable.get(slug).map(|(id, _)| id.clone());
                }
            }
            StepKind::Config { app } => {
                let facts = &input.apps;
                // An app not created yet has no config, and no key is managed on one that
                // declares none any more beyond what the state says.
                let (no_values, no_vars, unmanaged) =
                    (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
                let (changes, drift) = AppConfig {
                    app,
                    declared: facts.config.get(app).unwrap_or(&no_values),
                    observed: facts.observed_config.get(app).unwrap_or(&no_vars),
                    managed: facts.managed_config.get(app).unwrap_or(&unmanaged),
                    key: facts.value_key,
                }
                .decide();
                if !changes.is_empty() {
                    planned.action = Action::Config;
                }
                planned.reason = crate::plan::config::reason(&changes);
                planned.config = changes;
                config_drift.extend(drift);
            }
            StepKind::Formation { app, process_type } => {
                let declared = &input.desired.apps[app].formation[process_type];
                let observed = input.apps.observed_formation.get(app).map(Vec::as_slice);
                let (action, reason, change) =
                    crate::plan::formation::decide(process_type, declared, observed);
                planned.action = action;
                planned.reason = reason;
                planned.formation = Some(change);
            }
        }
        steps.push(planned);
    }

    Ok(Plan {
        kind: crate::plan::PlanKind,
        format_version: FORMAT_VERSION,
        platform: input.platform.to_owned(),
        manifest_sha256: input.manifest_sha256.to_owned(),
        fingerprint: input
            .desired
            .apps
            .keys()
            .map(|app| {
                let id = input.observed.get(app).and_then(|o| o.release_id());
                (app.clone(), id.map(str::to_owned))
            })
            .collect(),
        drift: drift(&input, &decisions.apps),
        rolled_back: decisions.rolled_back,
        behind: decisions.behind,
        undeclared: input
            .undeclared
            .iter()
            .filter(|(_, observed)| observed.exists)
            .map(|(app, observed)| Undeclared {
                app: app.clone(),
                version: observed.running.as_ref().map(|r| r.version),
                checksum: observed.checksum().map(str::to_owned),
            })
            .collect(),
        targeting: None,
        config_drift,
        summary: Summary::of(&steps),
        steps,
    })
}

/// Whether an app's coupling must be made or moved, and why.
fn decide_coupling(
    coupling: Option<&crate::platform::Coupling>,
    pipeline_id: Option<&str>,
    pipeline: &str,
    stage: &str,
) -> (Action, String) {
    match (coupling, pipeline_id) {
        (None, None) => (
            Action::Couple,
            format!("pipeline {pipeline} does not exist yet: create it and couple at {stage}"),
        ),
        (None, Some(_)) => (
            Action::Couple,
            format!("in no pipeline: couple to {pipeline} at {stage}"),
        ),
        (Some(c), Some(id)) if c.pipeline_id == id && c.stage == stage => {
            (Action::NoOp, format!("coupled to {pipeline} at {stage}"))
        }
        (Some(c), Some(id)) if c.pipeline_id == id => (
            Action::Couple,
            format!("coupled to {pipeline} at {}, declared {stage}", c.stage),
        ),
        (Some(c), _) => (
            Action::Couple,
            format!(
                "coupled to another pipeline ({}) at {}, declared {pipeline} at {stage}",
                c.pipeline_id, c.stage
            ),
        ),
    }
}

/// For each deployed slug, a slug id already on the platform with the same checksum, stack and
/// process types, and where it was found.
fn reusable_slugs(input: &DiffInput<'_>) -> BTreeMap<String, (String, String)> {
    let mut found = BTreeMap::new();
    for (name, facts) in input.slugs {
        let Some(checksum) = &facts.checksum else {
            continue;
        };
        let running = input.observed.iter().find_map(|(app, observed)| {
            let slug = observed.slug.as_ref()?;
            (slug.checksum.as_deref() == Some(checksum.as_str())
                && slug.stack == facts.stack
                && slug.process_types == facts.process_types)
                .then(|| (slug.id.clone(), format!("{app} runs it")))
        });
        let recorded = || {
            input.uploads.get(name).map(|upload| {
                (
                    upload.slug_id.clone(),
                    format!("uploaded through {} earlier", upload.app),
                )
            })
        };
        if let Some(hit) = running.or_else(recorded) {
            found.insert(name.clone(), hit);
        }
    }
    found
}

fn drift(input: &DiffInput<'_>, decisions: &BTreeMap<String, AppDecision>) -> Vec<Drift> {
    input
        .observed
        .iter()
        .filter_map(|(app, observed)| {
            let release = observed.running.as_ref()?;
            let corrected = decisions.get(app).is_some_and(|d| d.action != Action::NoOp);
            // Another slugplan's release of the declared slug is as good as our own; anything
            // else not made by this state is drift.
            let by_slugplan = release.description.ends_with("(slugplan)");
            if input.ours.contains(&release.id) || (by_slugplan && !corrected) {
                return None;
            }
            Some(Drift {
                app: app.clone(),
                version: release.version,
                release_id: release.id.clone(),
                checksum: observed.checksum().map(str::to_owned),
                description: release.description.clone(),
                corrected,
                newer_than_source: None,
                by_slugplan: false,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
