//! Applying a plan: the platform-changing steps (create app, upload, release, promote), in
//! dependency order, independent ones in parallel.
//!
//! Apply is built to be interrupted. Every step first checks whether its effect is already
//! there (the app exists; the app already runs the slug, re-read right before releasing; the
//! upload was recorded), so `kill -9` at any point followed by another apply converges without a
//! duplicate release. A failed step stops only the steps that depend on it; the others finish,
//! and the apply reports every failure by address. An [`Interrupt`] (the first Ctrl-C) stops
//! it starting steps: the running ones finish, and the apply ends with
//! [`ApplyError::Interrupted`], naming what was done and what was not.
//!
//! Releasing and promoting themselves (resuming a pending release, waiting for it, the verdict on
//! a promotion target, one pipeline promotion per source) are [`crate::release`]'s; the steps
//! here decide whether there is anything to do, call it, and record what it made in the state.
//!
//! An app's config step sets and unsets its keys in one call (a release on Heroku), before the
//! app's release; its formation steps go after the release, the process types of one app
//! scaled together in one batch update, as the promotions of one source go together.
//!
//! - `steps`: create an app, upload a slug, release it, promote to it.
//! - `couple`: pipeline couplings.
//! - `config`: config vars; `formation`: scaling.
//! - `error`: how an apply fails: every failed step by address, each cause said once.

mod config;
mod couple;
mod error;
mod formation;
mod steps;

pub use error::{ApplyError, StepError, StepFailure};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use error::StepResult;

use crate::checksum::Checksum;
use crate::desired::config::ResolvedConfig;
use crate::graph::{Address, StepKind};
use crate::interrupt::Interrupt;
use crate::plan::{Action, Plan, PlannedStep};
use crate::platform::{Platform, UploadProgress};
use crate::state::{SlugIdentity, State};

/// A built slug, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadySlug {
    /// The archive in the cache.
    pub path: PathBuf,
    /// Its checksum.
    pub checksum: Checksum,
    /// The stack it was built for.
    pub stack: String,
    /// Its process types.
    pub process_types: BTreeMap<String, String>,
}

impl ReadySlug {
    /// What identifies it among the uploads the state records.
    pub fn identity(&self) -> SlugIdentity<'_> {
        SlugIdentity {
            checksum: self.checksum.as_str(),
            stack: &self.stack,
            process_types: &self.process_types,
        }
    }
}

/// Progress events of an apply, for the terminal or `--json`.
pub trait ApplyReporter: Send + Sync {
    /// A step started.
    fn started(&self, address: &Address, action: Action);
    /// A step finished; `detail` says what it did (or why it was skipped).
    fn finished(&self, address: &Address, outcome: StepOutcome, detail: &str);
    /// A progress sink for an upload of `size` bytes.
    fn upload(&self, address: &Address, size: u64) -> Box<dyn UploadProgress>;
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    /// It did its work.
    Done,
    /// Its effect was already there (e.g. after an interrupted apply).
    Skipped,
    /// It failed.
    Failed,
    /// It was never started: the apply was interrupted first.
    #[serde(rename = "not-run")]
    NotRun,
}

impl StepOutcome {
    fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Done => "done",
            StepOutcome::Skipped => "skipped",
            StepOutcome::Failed => "failed",
            StepOutcome::NotRun => "not-run",
        }
    }
}

/// Knobs of an apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Steps running at once.
    pub jobs: usize,
    /// Overwrite a promotion target whose release is newer than the source's.
    pub allow_downgrade: bool,
    /// How long to wait for a release to leave `pending`.
    pub release_timeout: Duration,
    /// Once requested, no step is started; those running finish.
    pub interrupt: Interrupt,
}

/// What an apply did, for the closing line and `--json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplySummary {
    /// Apps created.
    pub created: usize,
    /// Slugs built (counted by the caller, which builds before applying).
    pub built: usize,
    /// Slugs uploaded.
    pub uploaded: usize,
    /// Releases made (including promotions).
    pub released: usize,
    /// Apps left as they were.
    pub unchanged: usize,
    /// Pipeline couplings made or moved.
    pub coupled: usize,
    /// Apps whose config vars were set or unset.
    pub configured: usize,
    /// Process types scaled or resized.
    pub scaled: usize,
}

impl ApplySummary {
    /// `Apply complete! 1 built, 1 uploaded, 3 released, 2 unchanged.`
    pub fn line(&self) -> String {
        let mut created = String::new();
        if self.created > 0 {
            created.push_str(&format!("{} created, ", self.created));
        }
        if self.coupled > 0 {
            created.push_str(&format!("{} coupled, ", self.coupled));
        }
        let mut settings = String::new();
        if self.configured > 0 {
            settings.push_str(&format!(", {} configured", self.configured));
        }
        if self.scaled > 0 {
            settings.push_str(&format!(", {} scaled", self.scaled));
        }
        format!(
            "Apply complete! {created}{} built, {} uploaded, {} released{settings}, {} unchanged.",
            self.built, self.uploaded, self.released, self.unchanged
        )
    }
}

/// Steps in flight: each future finishes one step, or the promote steps of one source.
type Running<'p> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<(&'p PlannedStep, StepResult)>> + Send + 'p>,
>;

/// Everything the steps share.
pub struct Applier<'a> {
    /// The platform.
    pub platform: &'a dyn Platform,
    /// The platform's identity in the state (`local:<dir>` or the API URL).
    pub platform_id: String,
    /// slugplan's state (uploads, releases made, the audit log).
    pub state: &'a dyn State,
    /// The audit-log entry of this apply.
    pub apply_id: i64,
    /// The slugs to upload, by name.
    pub slugs: &'a BTreeMap<String, ReadySlug>,
    /// The stack of each app, for creating apps: the stack of the slug it runs.
    pub app_stacks: &'a BTreeMap<String, String>,
    /// Progress.
    pub reporter: &'a dyn ApplyReporter,
    /// Knobs.
    pub options: ApplyOptions,
    /// The declared config vars, expanded: what the config steps set.
    config: Option<&'a ResolvedConfig>,
    /// Slug ids known so far, by slug name (from the plan or from uploads).
    slug_ids: Mutex<BTreeMap<String, String>>,
}

impl<'a> Applier<'a> {
    /// An applier for one apply.
    #[expect(
        clippy::too_many_arguments,
        reason = "each part is distinct and named at the call"
    )]
    pub fn new(
        platform: &'a dyn Platform,
        platform_id: String,
        state: &'a dyn State,
        apply_id: i64,
        slugs: &'a BTreeMap<String, ReadySlug>,
        app_stacks: &'a BTreeMap<String, String>,
        reporter: &'a dyn ApplyReporter,
        options: ApplyOptions,
    ) -> Self {
        Applier {
            platform,
            platform_id,
            state,
            apply_id,
            slugs,
            app_stacks,
            reporter,
            options,
            config: None,
            slug_ids: Mutex::new(BTreeMap::new()),
        }
    }

    /// The values the config steps set (the manifest's, expanded in this environment).
    #[must_use]
    pub fn with_config(mut self, config: &'a ResolvedConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Runs the changing steps of `plan` (those in `only`, when given) and returns the counts.
    pub async fn apply(
        &self,
        plan: &Plan,
        only: Option<&BTreeSet<Address>>,
    ) -> Result<ApplySummary, ApplyError> {
        for step in &plan.steps {
            if let (StepKind::Upload { slug, .. }, Some(id)) = (&step.step, &step.slug_id) {
                self.remember_slug(slug, id);
            }
        }
        let runnable: Vec<&PlannedStep> = plan
            .steps
            .iter()
            .filter(|s| only.is_none_or(|only| only.contains(&s.address)))
            .filter(|s| {
                matches!(
                    s.action,
                    Action::Create
                        | Action::Upload
                        | Action::Release
                        | Action::Promote
                        | Action::Couple
                        | Action::Config
                        | Action::Scale
                )
            })
            .collect();
        let pending_addresses: BTreeSet<&Address> = runnable.iter().map(|s| &s.address).collect();

        let mut waiting: Vec<&PlannedStep> = runnable;
        let mut done: BTreeSet<Address> = BTreeSet::new();
        let mut failed: BTreeSet<Address> = BTreeSet::new();
        let mut failures = Vec::new();
        let mut summary = ApplySummary {
            unchanged: plan.summary.unchanged,
            ..ApplySummary::default()
        };
        let mut running: FuturesUnordered<Running<'_>> = FuturesUnordered::new();

        let mut not_run: Vec<Address> = Vec::new();
        loop {
            if self.options.interrupt.requested() {
                // Nothing new starts; what runs finishes below.
                for step in waiting.drain(..) {
                    let detail = "the apply was interrupted first";
                    self.reporter
                        .finished(&step.address, StepOutcome::NotRun, detail);
                    self.state
                        .record_event(
                            self.apply_id,
                            &step.address.0,
                            step.action.as_str(),
                            StepOutcome::NotRun.as_str(),
                            detail,
                        )
                        .await?;
                    not_run.push(step.address.clone());
                }
            }
            // Start every step whose dependencies are all finished, up to `jobs` at once.
            let mut index = 0;
            while index < waiting.len() && running.len() < self.options.jobs.max(1) {
                let step = waiting[index];
                let deps: Vec<&Address> = step
                    .depends_on
                    .iter()
                    .filter(|d| pending_addresses.contains(d))
                    .collect();
                if deps.iter().any(|d| failed.contains(*d)) {
                    waiting.remove(index);
                    failed.insert(step.address.clone());
                    self.reporter.finished(
                        &step.address,
                        StepOutcome::Failed,
                        "not run: a step it depends on failed",
                    );
                    continue;
                }
                if deps.iter().all(|d| done.contains(*d)) {
                    if let Some(key) = Group::of(step) {
                        // The promotions of one source go together (one pipeline promotion
                        // for all its targets), and the formation steps of one app (one batch
                        // update), so wait until all of them can start.
                        let group = key.members(&waiting);
                        let ready = |s: &&PlannedStep| {
                            let deps = s
                                .depends_on
                                .iter()
                                .filter(|d| pending_addresses.contains(d));
                            deps.clone().all(|d| done.contains(d) || failed.contains(d))
                        };
                        if !group.iter().all(ready) {
                            index += 1;
                            continue;
                        }
                        // Steps with a failed dependency stay waiting and are failed on
                        // the next pass.
                        let group: Vec<&PlannedStep> = group
                            .into_iter()
                            .filter(|s| !s.depends_on.iter().any(|d| failed.contains(d)))
                            .collect();
                        waiting.retain(|w| !group.iter().any(|g| g.address == w.address));
                        for s in &group {
                            self.reporter.started(&s.address, s.action);
                        }
                        running.push(Box::pin(async move { self.run_group(key, group).await }));
                        continue;
                    }
                    waiting.remove(index);
                    self.reporter.started(&step.address, step.action);
                    running.push(Box::pin(
                        async move { vec![(step, self.run_step(step).await)] },
                    ));
                    continue;
                }
                index += 1;
            }
            let Some(finished) = running.next().await else {
                break;
            };
            for (step, result) in finished {
                let (outcome, detail) = match result {
                    Ok((outcome, detail)) => {
                        done.insert(step.address.clone());
                        if outcome == StepOutcome::Done {
                            match step.action {
                                Action::Create => summary.created += 1,
                                Action::Couple => summary.coupled += 1,
                                Action::Upload => summary.uploaded += 1,
                                Action::Release | Action::Promote => summary.released += 1,
                                Action::Config => summary.configured += 1,
                                Action::Scale => summary.scaled += 1,
                                _ => {}
                            }
                        } else if matches!(step.action, Action::Release | Action::Promote) {
                            summary.unchanged += 1;
                        }
                        (outcome, detail)
                    }
                    Err(err) => {
                        failed.insert(step.address.clone());
                        let detail = err.detail();
                        failures.push(err);
                        (StepOutcome::Failed, detail)
                    }
                };
                self.reporter.finished(&step.address, outcome, &detail);
                self.state
                    .record_event(
                        self.apply_id,
                        &step.address.0,
                        step.action.as_str(),
                        outcome.as_str(),
                        &detail,
                    )
                    .await?;
            }
        }
        if !not_run.is_empty() {
            // Steps skipped because a dependency failed were not run either.
            not_run.extend(
                failed
                    .into_iter()
                    .filter(|a| !failures.iter().any(|f| &f.address == a)),
            );
            Err(ApplyError::Interrupted {
                finished: done.into_iter().collect(),
                not_run,
                failures,
            })
        } else if failures.is_empty() {
            Ok(summary)
        } else {
            Err(ApplyError::Steps { failures })
        }
    }

    fn remember_slug(&self, slug: &str, id: &str) {
        crate::sync::lock(&self.slug_ids).insert(slug.to_owned(), id.to_owned());
    }

    fn known_slug(&self, slug: &str) -> Option<String> {
        crate::sync::lock(&self.slug_ids).get(slug).cloned()
    }
}

/// Steps that run as one: the promotions of one source, the formation steps of one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group<'p> {
    /// The promote steps whose source is this app.
    Promote(&'p str),
    /// The formation steps of this app.
    Scale(&'p str),
}

impl<'p> Group<'p> {
    /// The group `step` runs in, if it runs in one.
    fn of(step: &'p PlannedStep) -> Option<Self> {
        match &step.step {
            StepKind::Promote { from, .. } => Some(Group::Promote(from)),
            StepKind::Formation { app, .. } => Some(Group::Scale(app)),
            _ => None,
        }
    }

    /// The waiting steps of this group.
    fn members(self, waiting: &[&'p PlannedStep]) -> Vec<&'p PlannedStep> {
        waiting
            .iter()
            .copied()
            .filter(|s| Group::of(s) == Some(self))
            .collect()
    }
}

impl Applier<'_> {
    /// Runs the steps of one group together.
    async fn run_group<'s>(
        &self,
        group: Group<'_>,
        steps: Vec<&'s PlannedStep>,
    ) -> Vec<(&'s PlannedStep, StepResult)> {
        match group {
            Group::Promote(from) => self.promote_group(from, steps).await,
            Group::Scale(app) => self.scale_group(app, steps).await,
        }
    }
}
