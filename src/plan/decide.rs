//! Each app's decision: release the declared slug, promote what its source runs, or leave it,
//! and why; the part of the diff that compares what an app runs with what it should run.
//!
//! - An app running a slug is unchanged when the slug it runs has the declared checksum, stack
//!   **and** process types; otherwise it gets a release.
//! - A promotion target should run what its source runs once this plan is applied: the declared
//!   slug when the plan releases the source, else what the source runs now (with `--target`, a
//!   promotion named without its source promotes what the source runs now).
//! - `promote = "manual"` (the default) leaves a promotion to `slugplan promote`: a target behind
//!   its source is reported ([`Behind`]), never planned, unless its step is named by `--target`.
//! - An app running a rollback slugplan made that is not what it should run is said to run an
//!   older release than declared ([`RolledBack`]); the plan releases the declared slug again.

use std::collections::BTreeMap;

use super::diff::{DiffError, DiffInput, SlugFacts};
use super::observe::ObservedApp;
use super::{Action, Behind, RolledBack};
use crate::checksum::Checksum;
use crate::graph::StepKind;
use crate::state::RecordedRollback;

/// What should happen to one app.
pub(super) struct AppDecision {
    pub(super) action: Action,
    pub(super) reason: String,
    pub(super) before: Option<String>,
    pub(super) after: Option<String>,
}

/// Every app's decision, and what the plan reports beside its steps.
#[derive(Default)]
pub(super) struct Decisions {
    pub(super) apps: BTreeMap<String, AppDecision>,
    pub(super) behind: Vec<Behind>,
    pub(super) rolled_back: Vec<RolledBack>,
}

/// What an app runs once this plan is applied: the declared slug when the plan releases it,
/// else what it runs now. A promotion from the app takes this.
#[derive(Debug, Clone, Copy)]
struct Runs<'a> {
    checksum: Option<&'a str>,
    stack: &'a str,
    process_types: &'a BTreeMap<String, String>,
    /// It is released to in this apply.
    planned: bool,
    /// It is the declared slug (else whatever runs now, as release `version`).
    declared: bool,
    version: Option<u64>,
}

impl<'a> Runs<'a> {
    fn declared(facts: &'a SlugFacts) -> Self {
        Runs {
            checksum: facts.checksum.as_ref().map(Checksum::as_str),
            stack: &facts.stack,
            process_types: &facts.process_types,
            planned: true,
            declared: true,
            version: None,
        }
    }

    /// What `observed` runs now; None when it runs nothing.
    fn now(observed: Option<&'a ObservedApp>) -> Option<Self> {
        let observed = observed?;
        let slug = observed.slug.as_ref()?;
        Some(Runs {
            checksum: slug.checksum.as_deref(),
            stack: &slug.stack,
            process_types: &slug.process_types,
            planned: false,
            declared: false,
            version: observed.running.as_ref().map(|r| r.version),
        })
    }
}

/// Decides every app, sources before the apps promoted from them (the graph's order), so each
/// promotion compares its target with what its source runs once this plan is applied. With
/// `--target`, an app whose step the plan leaves out keeps running what it runs now, and a
/// promotion left to `slugplan promote` (`promote = "manual"`) is reported, not planned, unless
/// its step is named.
pub(super) fn decide_apps(input: &DiffInput<'_>) -> Result<Decisions, DiffError> {
    let mut decided = Decisions::default();
    for app in input.desired.apps.values() {
        let exists = input.observed.get(&app.name).is_some_and(|o| o.exists);
        if !exists && !app.create {
            return Err(DiffError::MissingApp {
                app: app.name.clone(),
                platform: input.platform.to_owned(),
            });
        }
    }
    let mut runs: BTreeMap<&str, Option<Runs<'_>>> = BTreeMap::new();
    for step in input.graph.ordered() {
        let (app, from) = match step {
            StepKind::Release { app, .. } => (app, None),
            StepKind::Promote { app, from } => (app, Some(from.as_str())),
            _ => continue,
        };
        let address = step.address();
        let observed = input.observed.get(app);
        let none = ObservedApp::default();
        let rollback = observed
            .and_then(|o| o.release_id())
            .and_then(|id| input.rollbacks.get(id));
        let wanted = match from {
            None => Some(Runs::declared(&input.slugs[&input.desired.apps[app].slug])),
            Some(from) => runs.get(from).copied().flatten(),
        };
        let before = observed.and_then(ObservedApp::checksum).map(str::to_owned);
        let why = match wanted {
            Some(wanted) => why_change(observed.unwrap_or(&none), wanted, from, rollback),
            None => Some(format!(
                "{} runs nothing yet",
                from.expect("a release has a declared slug")
            )),
        };
        let by_hand = input.desired.promoted_by_hand(app)
            && !input.targeting.is_some_and(|t| t.names(&address));
        let decision = match (&why, from) {
            (None, _) => AppDecision {
                action: Action::NoOp,
                reason: match (from, wanted) {
                    (Some(from), Some(w)) if !w.declared => format!("runs what {from} runs"),
                    _ => "runs the declared slug".into(),
                },
                after: before.clone(),
                before,
            },
            (Some(why), Some(from)) if by_hand => {
                if let Some(wanted) = wanted {
                    decided.behind.push(Behind {
                        app: app.clone(),
                        source: from.to_owned(),
                        checksum: before.clone(),
                        source_checksum: wanted.checksum.map(str::to_owned),
                        source_planned: wanted.planned,
                    });
                }
                AppDecision {
                    action: Action::NoOp,
                    reason: format!(
                        "{why}; promote = \"manual\": `slugplan promote {from}` promotes it"
                    ),
                    after: before.clone(),
                    before,
                }
            }
            (Some(why), from) => AppDecision {
                action: if from.is_some() {
                    Action::Promote
                } else {
                    Action::Release
                },
                reason: match from {
                    Some(from) => format!("{why}; promoted from {from}"),
                    None => why.clone(),
                },
                before,
                after: wanted.and_then(|w| w.checksum).map(str::to_owned),
            },
        };
        if let (Some(rollback), Some(_)) = (rollback, &why) {
            let running = observed.and_then(|o| o.running.as_ref());
            decided.rolled_back.push(RolledBack {
                app: app.clone(),
                version: running.map_or(0, |r| r.version),
                rolled_back_to: rollback.version,
                checksum: decision.before.clone(),
                declared: wanted.and_then(|w| w.checksum).map(str::to_owned),
                corrected: decision.action != Action::NoOp,
            });
        }
        // What a promotion from this app takes: what the plan releases to it, what it runs
        // already when that is what it should, or (left out or left behind) what it runs now.
        let kept = input.targeting.is_none_or(|t| t.keeps(&address));
        let after = match wanted {
            Some(wanted) if kept && decision.action != Action::NoOp => Some(Runs {
                planned: true,
                ..wanted
            }),
            Some(wanted) if kept && why.is_none() => Some(Runs {
                planned: false,
                ..wanted
            }),
            _ => Runs::now(observed),
        };
        runs.insert(app, after);
        decided.apps.insert(app.clone(), decision);
    }
    Ok(decided)
}

/// Why an app must be released to, or None when it runs what it should: `wanted`, the declared
/// slug or (for a promotion) what its source `from` runs. A rollback slugplan made is said to
/// be one.
fn why_change(
    observed: &ObservedApp,
    wanted: Runs<'_>,
    from: Option<&str>,
    rollback: Option<&RecordedRollback>,
) -> Option<String> {
    if !observed.exists {
        return Some("new app".into());
    }
    let (Some(release), Some(slug)) = (&observed.running, &observed.slug) else {
        return Some("no release yet".into());
    };
    let Some(desired) = wanted.checksum else {
        return Some("declared slug not built yet".into());
    };
    // What it should run: "declared X", or, for a source this plan leaves as it is, what that
    // source runs now.
    let source_now = from.filter(|_| !wanted.declared);
    let version = |v: Option<u64>| v.map(|v| format!(" (v{v})")).unwrap_or_default();
    if slug.checksum.as_deref() != Some(desired) {
        let running = slug
            .checksum
            .as_deref()
            .unwrap_or("a slug without checksum");
        return Some(match (rollback, source_now) {
            (None, None) => format!("runs {running} (v{}), declared {desired}", release.version),
            (None, Some(from)) => format!(
                "runs {running} (v{}), {from} runs {desired}{}",
                release.version,
                version(wanted.version)
            ),
            (Some(rollback), None) => format!(
                "runs {running} (v{}, a rollback to v{}), an older release than declared {desired}",
                release.version, rollback.version
            ),
            (Some(rollback), Some(from)) => format!(
                "runs {running} (v{}, a rollback to v{}), an older release than {from}'s {desired}{}",
                release.version,
                rollback.version,
                version(wanted.version)
            ),
        });
    }
    if slug.stack != wanted.stack {
        return Some(match source_now {
            None => format!(
                "runs the slug built for {}, declared {}",
                slug.stack, wanted.stack
            ),
            Some(from) => format!(
                "runs the slug built for {}, {from}'s is built for {}",
                slug.stack, wanted.stack
            ),
        });
    }
    if slug.process_types != *wanted.process_types {
        return Some(format!(
            "process types differ: {}",
            process_type_changes(&slug.process_types, wanted.process_types)
        ));
    }
    None
}

fn process_type_changes(
    running: &BTreeMap<String, String>,
    declared: &BTreeMap<String, String>,
) -> String {
    let mut changes = Vec::new();
    for (name, command) in declared {
        match running.get(name) {
            None => changes.push(format!("{name} added")),
            Some(old) if old != command => changes.push(format!("{name} changed")),
            Some(_) => {}
        }
    }
    changes.extend(
        running
            .keys()
            .filter(|name| !declared.contains_key(*name))
            .map(|name| format!("{name} removed")),
    );
    changes.join(", ")
}
