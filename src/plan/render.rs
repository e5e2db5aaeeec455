//! Plans as text, in Terraform's vocabulary: what the plan found (drift, rollbacks, promotions
//! waiting for `slugplan promote`, apps no longer declared), a legend of only the symbols used, a
//! block per step that changes something with what and why (a config step's keys one per line,
//! `~ config.shop: GREETING "hi" → "hello"`, sensitive values as `(sensitive)`), and a one-line
//! summary; and the warning that `--target` is in effect, with what it added.

use std::collections::BTreeSet;
use std::fmt::Write;

use owo_colors::OwoColorize;

use crate::checksum::short;
use crate::checksum::shorten_all;
use crate::graph::StepKind;
use crate::plan::config::{ConfigChange, KeyChange};
use crate::plan::formation::FormationChange;
use crate::plan::promotion::PromotionDetail;
use crate::plan::{Action, Plan, PlannedStep, Summary};
use crate::sensitive::MASK;

pub(crate) fn symbol(action: Action) -> &'static str {
    match action {
        Action::NoOp => " ",
        Action::Fetch => "↓",
        Action::Build => "*",
        Action::Create => "+",
        Action::Upload => "↑",
        Action::Release => "~",
        Action::Promote => "»",
        Action::Couple => "&",
        Action::Config => "$",
        Action::Scale => "↕",
    }
}

pub(crate) fn meaning(action: Action) -> &'static str {
    match action {
        Action::NoOp => "no change",
        Action::Couple => "couple to a pipeline",
        Action::Config => "set config vars",
        other => other.as_str(),
    }
}

pub(crate) fn verb_phrase(action: Action) -> &'static str {
    match action {
        Action::NoOp => "is unchanged",
        Action::Fetch => "will be fetched",
        Action::Build => "will be built",
        Action::Create => "will be created",
        Action::Upload => "will be uploaded",
        Action::Release => "will be released",
        Action::Promote => "will be promoted",
        Action::Couple => "will be coupled",
        Action::Config => "will be configured",
        Action::Scale => "will be scaled",
    }
}

/// Renders `plan` for a terminal (`color` adds ANSI colour to the symbols).
pub fn render(plan: &Plan, color: bool) -> String {
    let mut out = found(plan);
    let changes: Vec<&PlannedStep> = plan.changes().collect();
    if changes.is_empty() {
        out.push_str(&headline(plan));
        out.push('\n');
        return out;
    }
    let used: BTreeSet<Action> = changes.iter().map(|s| s.action).collect();
    out.push_str("slugplan will perform these actions, shown with these symbols:\n");
    for action in &used {
        let _ = writeln!(out, "  {} {}", paint(*action, color), meaning(*action));
    }
    out.push('\n');
    for step in &changes {
        let _ = writeln!(out, "  # {} {}", step.address, verb_phrase(step.action));
        let _ = writeln!(out, "  {} {}", paint(step.action, color), step.address);
        out.push_str(&details(step));
        out.push('\n');
    }
    out.push_str(&headline(plan));
    out.push('\n');
    out
}

/// What the plan found before its steps, each section ending with a blank line: drift (of
/// releases, then of config vars), then apps rolled back, promotions waiting and apps no
/// longer declared (empty when none).
pub(crate) fn found(plan: &Plan) -> String {
    let mut out = drift(plan);
    out.push_str(&config_drift_lines(plan));
    out.push_str(&findings(plan));
    out
}

/// The drift section: releases made outside slugplan (or newer than a promotion's source).
fn drift(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.drift.is_empty() {
        return out;
    }
    out.push_str("Drift: releases made outside slugplan\n");
    for drift in &plan.drift {
        let checksum = drift
            .checksum
            .as_deref()
            .map_or("no checksum".into(), short);
        let fix = if drift.corrected {
            "this plan replaces it"
        } else {
            "it already runs the declared slug"
        };
        let made = if drift.by_slugplan {
            "made by slugplan"
        } else {
            "made outside slugplan"
        };
        let _ = writeln!(
            out,
            "  ! {} runs v{} ({checksum}), {made}: \"{}\"; {fix}",
            drift.app, drift.version, drift.description
        );
        if let Some(newer) = &drift.newer_than_source {
            let _ = writeln!(
                out,
                "    v{} is {newer}: promoting downgrades it; apply needs --allow-downgrade",
                drift.version
            );
        }
    }
    out.push('\n');
    out
}

/// A step's details, one indented line each: why, the checksums, the promotion's sides, the
/// slug reused, a config step's keys (sensitive values masked: the plan holds only their
/// keyed hashes), a formation's change. Checksums are shortened, in the reason too.
pub(crate) fn details(step: &PlannedStep) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "      reason:   {}", shorten_all(&step.reason));
    match (&step.before, &step.after) {
        (Some(before), Some(after)) if before != after => {
            let _ = writeln!(out, "      checksum: {} → {}", short(before), short(after));
        }
        (None, Some(after)) => {
            let _ = writeln!(out, "      checksum: {}", short(after));
        }
        (_, None)
            if !matches!(
                step.action,
                Action::Fetch | Action::Create | Action::Couple | Action::Config | Action::Scale
            ) =>
        {
            let _ = writeln!(out, "      checksum: (known after build)");
        }
        _ => {}
    }
    if let Some(promotion) = &step.promotion {
        out.push_str(&promotion_lines(promotion));
    }
    if let Some(slug_id) = &step.slug_id {
        let _ = writeln!(out, "      slug:     {slug_id} (already on the platform)");
    }
    for change in &step.config {
        let _ = writeln!(out, "      {}", config_line(&step.address.0, change));
    }
    if let Some(formation) = &step.formation {
        out.push_str(&formation_lines(formation));
    }
    out
}

/// The plan in one line, as its rendering ends: `Plan: 1 to build, …`, or the sentence of a
/// plan without changes. What `plan -q` prints.
pub fn headline(plan: &Plan) -> String {
    if plan.changes().next().is_some() {
        summary_line(&plan.summary)
    } else if !plan.behind.is_empty() {
        "No changes to apply. Promotions wait for `slugplan promote`.".to_owned()
    } else if plan.targeting.is_some() {
        "No changes to the targeted steps.".to_owned()
    } else {
        "No changes. Every app runs its declared slug.".to_owned()
    }
}

/// What the plan found besides its steps: apps rolled back, promotions waiting, apps no longer
/// declared. Each is reported, none is a change.
fn findings(plan: &Plan) -> String {
    let checksum = |c: &Option<String>| c.as_deref().map_or("no slug".into(), short);
    let mut out = String::new();
    if !plan.rolled_back.is_empty() {
        out.push_str("Rolled back: apps running an older release than slug.toml declares\n");
        for r in &plan.rolled_back {
            let fix = if r.corrected {
                "this plan releases the declared slug again"
            } else {
                "this plan leaves it running"
            };
            let _ = writeln!(
                out,
                "  < {} runs v{}, a rollback to v{} ({}); declared {}: {fix}",
                r.app,
                r.version,
                r.rolled_back_to,
                checksum(&r.checksum),
                checksum(&r.declared)
            );
        }
        out.push('\n');
    }
    if !plan.behind.is_empty() {
        out.push_str("Promotions waiting (promote = \"manual\"):\n");
        for b in &plan.behind {
            let (is, then) = if b.source_planned {
                ("will be behind", "after this apply, run")
            } else {
                ("is behind", "run")
            };
            let _ = writeln!(
                out,
                "  - {} {is} {}: {then} `slugplan promote {}`",
                b.app, b.source, b.source
            );
            let runs = b
                .checksum
                .as_deref()
                .map_or("runs nothing yet".to_owned(), |c| {
                    format!("runs {}", short(c))
                });
            let _ = writeln!(
                out,
                "      {runs}, {} {} {}",
                b.source,
                if b.source_planned { "gets" } else { "runs" },
                checksum(&b.source_checksum)
            );
        }
        out.push('\n');
    }
    if !plan.undeclared.is_empty() {
        out.push_str("No longer in slug.toml: apps slugplan deployed, left running\n");
        for u in &plan.undeclared {
            let runs = match u.version {
                Some(version) => format!("runs v{version} ({})", checksum(&u.checksum)),
                None => "runs nothing".to_owned(),
            };
            let _ = writeln!(
                out,
                "  - {} {runs}; `slugplan destroy {}` deletes it",
                u.app, u.app
            );
        }
        out.push('\n');
    }
    out
}

/// One key of a config step: `~ config.shop: GREETING "hi" → "hello"`.
fn config_line(address: &str, change: &ConfigChange) -> String {
    let value = match change.change {
        KeyChange::Add => change.shown_after(),
        KeyChange::Change => format!("{} → {}", change.shown_before(), change.shown_after()),
        KeyChange::Remove => change.shown_before(),
    };
    format!("{} {address}: {} {value}", change.symbol(), change.key)
}

/// The count and size lines of a formation block, for what changes.
fn formation_lines(change: &FormationChange) -> String {
    let mut out = String::new();
    // A type a release of this plan brings starts as Heroku's first-release rule says.
    let before = change.before_quantity.map_or_else(
        || {
            format!(
                "{} (first release)",
                crate::dyno::initial_quantity(&change.process_type)
            )
        },
        |q| q.to_string(),
    );
    if change.before_quantity != Some(change.quantity) {
        let _ = writeln!(out, "      quantity: {before} → {}", change.quantity);
    }
    if let Some(size) = &change.size
        && change
            .before_size
            .as_deref()
            .is_none_or(|before| !crate::dyno::same_size(before, size))
    {
        let before = change
            .before_size
            .as_deref()
            .unwrap_or("(the platform's default)");
        let _ = writeln!(out, "      size:     {before} → {size}");
    }
    out
}

/// The warning that `--target` is in effect (None when it is not): what was named, what the plan
/// holds beyond it because the named steps need it, and each promotion that takes what its
/// source runs now because the source was not named. Shown before a plan is applied.
pub fn targeting_warning(plan: &Plan) -> Option<String> {
    let targeting = plan.targeting.as_ref()?;
    let list = |addresses: &[crate::graph::Address]| {
        addresses
            .iter()
            .map(|a| {
                let action = plan.step(a).map_or("", |s| s.action.as_str());
                format!("{a} ({action})")
            })
            .collect::<Vec<_>>()
            .join("\n               ")
    };
    let mut out = String::from(
        "targeting is in effect: this plan may not be everything slug.toml asks for\n",
    );
    let named: Vec<String> = targeting.named.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "  named:       {}", named.join(", "));
    if targeting.added.is_empty() {
        out.push_str("  also needed: nothing that changes\n");
    } else {
        let _ = writeln!(out, "  also needed: {}", list(&targeting.added));
    }
    let in_plan = |app: &str| {
        plan.steps.iter().any(|s| {
            matches!(&s.step, StepKind::Release { app: a, .. } | StepKind::Promote { app: a, .. } if a == app)
        })
    };
    for step in plan.changes() {
        if let Some(p) = step.promotion.as_ref().filter(|p| !in_plan(&p.source)) {
            let _ = writeln!(
                out,
                "  {} promotes what {} runs now (not targeted, {} is not released first)",
                step.address, p.source, p.source
            );
        }
    }
    Some(out.trim_end().to_owned())
}

/// The config drift section: each managed key changed or unset outside slugplan.
fn config_drift_lines(plan: &Plan) -> String {
    if plan.config_drift.is_empty() {
        return String::new();
    }
    let mut out = String::from("Drift: config vars changed outside slugplan\n");
    for drift in &plan.config_drift {
        let now = if drift.unset {
            "was unset".to_owned()
        } else if drift.sensitive {
            format!("was changed {MASK}")
        } else {
            format!("is {:?}", drift.value.as_deref().unwrap_or_default())
        };
        let removed = plan.steps.iter().any(|s| {
            s.step.app() == Some(drift.app.as_str())
                && s.config
                    .iter()
                    .any(|c| c.key == drift.key && c.change == KeyChange::Remove)
        });
        let fix = if removed {
            "this plan unsets it, as it is no longer declared"
        } else {
            "this plan sets it back"
        };
        let _ = writeln!(
            out,
            "  ! {}: {} {now}, not what slugplan set; {fix}",
            drift.app, drift.key
        );
    }
    out.push('\n');
    out
}

/// The source and target lines of a promotion block.
fn promotion_lines(p: &PromotionDetail) -> String {
    let checksum = |c: &Option<String>| c.as_deref().map_or("no slug".into(), short);
    let version = |v: Option<u64>| v.map_or("no release".into(), |v| format!("v{v}"));
    let source = if p.source_planned {
        format!(
            "{} (released earlier in this apply, {})",
            p.source,
            checksum(&p.source_checksum)
        )
    } else {
        format!(
            "{} {} ({})",
            p.source,
            version(p.source_version),
            checksum(&p.source_checksum)
        )
    };
    let mut out = format!("      from:     {source}\n");
    let _ = writeln!(
        out,
        "      target:   runs {} ({}){}",
        version(p.target_version),
        checksum(&p.target_checksum),
        if p.downgrade {
            ", newer than the source"
        } else {
            ""
        }
    );
    match &p.pipeline {
        Some(pipeline) => {
            let _ = writeln!(out, "      via:      pipeline {pipeline} (one promotion)");
        }
        None => out.push_str("      via:      release of the source's slug id\n"),
    }
    out
}

fn paint(action: Action, color: bool) -> String {
    let symbol = symbol(action);
    if !color {
        return symbol.to_owned();
    }
    match action {
        Action::Create | Action::Fetch | Action::Build => symbol.green().to_string(),
        Action::Upload => symbol.cyan().to_string(),
        Action::Release | Action::Promote | Action::Couple | Action::Config | Action::Scale => {
            symbol.yellow().to_string()
        }
        Action::NoOp => symbol.to_owned(),
    }
}

/// `Plan: 1 to build, 1 to upload, 3 to release.`
pub fn summary_line(summary: &Summary) -> String {
    let mut parts = Vec::new();
    if summary.create > 0 {
        parts.push(format!("{} to create", summary.create));
    }
    if summary.couple > 0 {
        parts.push(format!("{} to couple", summary.couple));
    }
    parts.push(format!("{} to build", summary.build));
    parts.push(format!("{} to upload", summary.upload));
    parts.push(format!("{} to release", summary.release));
    if summary.config > 0 {
        parts.push(format!("{} to configure", summary.config));
    }
    if summary.scale > 0 {
        parts.push(format!("{} to scale", summary.scale));
    }
    format!("Plan: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Address;

    fn step(address: &str, action: Action, step: StepKind) -> PlannedStep {
        PlannedStep {
            address: Address(address.into()),
            action,
            step,
            reason: "runs SHA256:1111… (v3), declared SHA256:2222…".into(),
            before: Some(format!("SHA256:{}", "1".repeat(64))),
            after: Some(format!("SHA256:{}", "2".repeat(64))),
            slug_id: None,
            promotion: None,
            config: vec![],
            formation: None,
            depends_on: vec![],
        }
    }

    #[test]
    fn the_legend_lists_only_the_symbols_used() {
        let plan = Plan {
            kind: crate::plan::PlanKind,
            format_version: 1,
            platform: "local".into(),
            manifest_sha256: "m".into(),
            fingerprint: Default::default(),
            steps: vec![step(
                "release.web-staging",
                Action::Release,
                StepKind::Release {
                    app: "web-staging".into(),
                    slug: "web".into(),
                },
            )],
            drift: vec![],
            config_drift: vec![],
            summary: Summary {
                release: 1,
                ..Summary::default()
            },
            ..Plan::default()
        };
        let text = render(&plan, false);
        assert!(text.contains("  ~ release\n"), "{text}");
        assert!(!text.contains("upload\n"), "{text}");
        assert!(text.contains("checksum: SHA256:111111111111… → SHA256:222222222222…"));
        assert!(text.ends_with("Plan: 0 to build, 0 to upload, 1 to release.\n"));
    }

    #[test]
    fn an_empty_plan_says_so() {
        let plan = Plan {
            kind: crate::plan::PlanKind,
            format_version: 1,
            platform: "local".into(),
            manifest_sha256: "m".into(),
            fingerprint: Default::default(),
            steps: vec![],
            drift: vec![],
            config_drift: vec![],
            summary: Summary::default(),
            ..Plan::default()
        };
        assert_eq!(
            render(&plan, false),
            "No changes. Every app runs its declared slug.\n"
        );
    }
}
