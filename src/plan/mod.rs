//! Plans: what an apply would do, step by step, and why.
//!
//! A plan is the diff of the desired state (with exact slug checksums, from building or the
//! cache) against the observed state (each app's running release and its slug). It is a plain
//! serialisable document: `plan --json` prints it, `plan -out FILE` saves it with a fingerprint
//! of what it observed, and `apply FILE` executes exactly it.
//!
//! - [`observe`] reads the platform (at most two reads per app when nothing changes, plus one
//!   of the config and one of the formation for the apps that declare them).
//! - [`diff`] is a pure function from desired + observed to a [`Plan`]; `decide` holds its
//!   per-app rules (release, promote or leave, promotion gates, rollbacks); [`config`] and
//!   [`formation`] decide the config and formation steps.
//! - [`render`] prints it in Terraform's vocabulary; [`markdown`] as a pull request comment.
//! - [`saved`] writes and checks saved plans.

pub mod config;
mod decide;
pub mod diff;
pub mod formation;
pub mod markdown;
pub mod observe;
pub mod promotion;
pub mod render;
pub mod saved;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::graph::{Address, StepKind, Targeting};

/// The version of the plan document (`plan --json`, saved plans). Bumped on any change that
/// breaks readers.
pub const FORMAT_VERSION: u32 = 1;

/// What a step will do. The serialised names are stable: scripts branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing to do.
    NoOp,
    /// Download and unpack a runtime.
    Fetch,
    /// Build (compile or pack) something.
    Build,
    /// Create an app on the platform.
    Create,
    /// Create a slug on the platform and upload its archive.
    Upload,
    /// Release a slug to an app.
    Release,
    /// Release what another app runs.
    Promote,
    /// Couple an app to its pipeline (creating the pipeline if needed), or move its coupling.
    Couple,
    /// Set and unset config vars.
    Config,
    /// Scale or resize a process type.
    Scale,
}

impl Action {
    /// The stable name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Fetch => "fetch",
            Action::Build => "build",
            Action::Create => "create",
            Action::Upload => "upload",
            Action::Release => "release",
            Action::Promote => "promote",
            Action::Couple => "couple",
            Action::Config => "config",
            Action::Scale => "scale",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// The step's address, e.g. `release.web-staging`.
    pub address: Address,
    /// What it does.
    pub action: Action,
    /// The step itself (kind and its names).
    pub step: StepKind,
    /// Why: what changed, or why nothing needs to.
    pub reason: String,
    /// The checksum the app runs (or the slug had) before, where that applies.
    pub before: Option<String>,
    /// The checksum after; None when only a build can tell (`--no-build`).
    pub after: Option<String>,
    /// A slug id already on the platform that this step releases (reuse, no upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug_id: Option<String>,
    /// For a promotion that changes something: its source and both sides' releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<promotion::PromotionDetail>,
    /// For a config step: each key it adds, changes or removes (sensitive values as keyed
    /// hashes only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<config::ConfigChange>,
    /// For a formation step: the process type's count and size before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formation: Option<formation::FormationChange>,
    /// The addresses this step waits for.
    pub depends_on: Vec<Address>,
}

/// A release found on an app that slugplan did not make (or one it made that is newer than the
/// promotion source the app now declares: promoting would downgrade it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// The app.
    pub app: String,
    /// The running release's version.
    pub version: u64,
    /// The running release's id.
    pub release_id: String,
    /// The checksum of the slug it runs, if known.
    pub checksum: Option<String>,
    /// The release's description (who made it, as the platform tells).
    pub description: String,
    /// Whether this plan replaces it.
    pub corrected: bool,
    /// Set when the app is a promotion target running a newer release than its source (e.g.
    /// `newer than web-staging's v3`): promoting downgrades it, so apply needs
    /// `--allow-downgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_than_source: Option<String>,
    /// Set when slugplan made the release, which is listed only because it is newer than the
    /// promotion's source.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_slugplan: bool,
}

/// An app running a rollback slugplan made (`slugplan rollback`), which is not what slug.toml
/// declares for it: an older release than declared, reported as such rather than as drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolledBack {
    /// The app.
    pub app: String,
    /// The running release (the rollback's own version).
    pub version: u64,
    /// The version it went back to.
    pub rolled_back_to: u64,
    /// The checksum of the slug it runs.
    pub checksum: Option<String>,
    /// The checksum it is declared to run (for a promotion target: what its source runs).
    pub declared: Option<String>,
    /// Whether this plan releases the declared slug again (false: `--target` leaves it out,
    /// or `promote = "manual"` leaves it to `slugplan promote`).
    pub corrected: bool,
}

/// A promotion target that does not run what its source runs, left to `slugplan promote` by
/// `promote = "manual"`: reported, never counted as a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behind {
    /// The target app.
    pub app: String,
    /// The app it promotes from.
    pub source: String,
    /// The checksum the target runs (None: nothing yet).
    pub checksum: Option<String>,
    /// The checksum the source runs, or gets in this apply.
    pub source_checksum: Option<String>,
    /// Whether the source is released to in this apply (it is behind once that is done).
    pub source_planned: bool,
}

/// An app slugplan released to before that slug.toml no longer declares. The plan leaves it
/// running; `slugplan destroy` deletes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undeclared {
    /// The app.
    pub app: String,
    /// The version of its running release, if any.
    pub version: Option<u64>,
    /// The checksum of the slug it runs, if known.
    pub checksum: Option<String>,
}

/// `--target` was in effect: what was named, and what the plan holds beyond it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetingNote {
    /// The steps named (an app's name stands for its release or promote step).
    pub named: Vec<Address>,
    /// The steps that change something and are in the plan only because a named one needs
    /// them.
    pub added: Vec<Address>,
}

/// Counts of what a plan does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Apps to create.
    pub create: usize,
    /// Slugs (and Go programs) built for this plan.
    pub build: usize,
    /// Slugs to upload.
    pub upload: usize,
    /// Apps to release to (including promotions).
    pub release: usize,
    /// Apps already running what they should.
    pub unchanged: usize,
    /// Pipeline couplings to create or move.
    #[serde(default)]
    pub couple: usize,
    /// Apps whose config vars change.
    #[serde(default)]
    pub config: usize,
    /// Process types to scale or resize.
    #[serde(default)]
    pub scale: usize,
}

impl Summary {
    /// Counts `steps`: slugs built (not Go builds: they are part of their slug), uploads,
    /// releases and promotions, apps created, and apps left as they are.
    pub fn of<'a>(steps: impl IntoIterator<Item = &'a PlannedStep>) -> Self {
        let mut summary = Summary::default();
        for step in steps {
            match (&step.step, step.action) {
                (StepKind::AssembleSlug { .. }, Action::Build) => summary.build += 1,
                (_, Action::Create) => summary.create += 1,
                (_, Action::Couple) => summary.couple += 1,
                (_, Action::Config) => summary.config += 1,
                (_, Action::Scale) => summary.scale += 1,
                (_, Action::Upload) => summary.upload += 1,
                (_, Action::Release | Action::Promote) => summary.release += 1,
                (StepKind::Release { .. } | StepKind::Promote { .. }, Action::NoOp) => {
                    summary.unchanged += 1;
                }
                _ => {}
            }
        }
        summary
    }

    /// Whether the plan changes nothing on the platform.
    pub fn is_empty(&self) -> bool {
        self.create == 0
            && self.upload == 0
            && self.release == 0
            && self.couple == 0
            && self.config == 0
            && self.scale == 0
    }
}

/// A whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `"slugplan-plan"`, the document's first key, so that a saved plan is known by its
    /// first bytes wherever it lies (and never packed into a slug, see [`crate::own_files`]).
    #[serde(default)]
    pub kind: PlanKind,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The platform planned against (`local:<dir>` or the API URL).
    pub platform: String,
    /// SHA-256 of the manifest the plan was made from.
    pub manifest_sha256: String,
    /// Each app's running release id when the plan was made (None: no release, or no app).
    /// `apply FILE` refuses the plan if any of these changed since.
    pub fingerprint: BTreeMap<String, Option<String>>,
    /// Every step, in dependency order.
    pub steps: Vec<PlannedStep>,
    /// Releases made outside slugplan.
    pub drift: Vec<Drift>,
    /// Apps running a rollback slugplan made, older than declared.
    #[serde(default)]
    pub rolled_back: Vec<RolledBack>,
    /// Promotions left to `slugplan promote` (`promote = "manual"`) whose target is behind.
    #[serde(default)]
    pub behind: Vec<Behind>,
    /// Apps slugplan deployed that the manifest no longer declares, left running.
    #[serde(default)]
    pub undeclared: Vec<Undeclared>,
    /// What `--target` named and added; None without `--target`.
    #[serde(default)]
    pub targeting: Option<TargetingNote>,
    /// Config vars slugplan manages that were changed or unset outside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_drift: Vec<config::ConfigDrift>,
    /// The counts.
    pub summary: Summary,
}

/// What a plan document is: always [`crate::own_files::SAVED_PLAN_KIND`]. A document saying
/// anything else is not a plan; one saying nothing (made before the key existed) is read as
/// one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanKind;

impl Serialize for PlanKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(crate::own_files::SAVED_PLAN_KIND)
    }
}

impl<'de> Deserialize<'de> for PlanKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let kind = String::deserialize(deserializer)?;
        if kind == crate::own_files::SAVED_PLAN_KIND {
            Ok(PlanKind)
        } else {
            Err(serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&kind),
                &crate::own_files::SAVED_PLAN_KIND,
            ))
        }
    }
}

impl Plan {
    /// The steps that do something.
    pub fn changes(&self) -> impl Iterator<Item = &PlannedStep> {
        self.steps.iter().filter(|s| s.action != Action::NoOp)
    }

    /// The step at `address`.
    pub fn step(&self, address: &Address) -> Option<&PlannedStep> {
        self.steps.iter().find(|s| &s.address == address)
    }

    /// Keeps only the steps `targeting` keeps, recounts, and notes what it named and added.
    pub fn retain(&mut self, targeting: &Targeting) {
        self.steps.retain(|s| targeting.keeps(&s.address));
        self.fingerprint.retain(|app, _| {
            self.steps
                .iter()
                .any(|s| s.step.app() == Some(app.as_str()))
        });
        let kept = |app: &str| self.fingerprint.contains_key(app);
        self.drift.retain(|d| kept(&d.app));
        self.rolled_back.retain(|r| kept(&r.app));
        self.behind.retain(|b| kept(&b.app));
        self.config_drift.retain(|d| kept(&d.app));
        self.summary = Summary::of(&self.steps);
        self.targeting = Some(TargetingNote {
            named: targeting.named.iter().cloned().collect(),
            added: self
                .changes()
                .filter(|s| !targeting.names(&s.address))
                .map(|s| s.address.clone())
                .collect(),
        });
    }
}
