//! `slugplan promote`: release what one app runs to others, now, with the checks `apply` makes.
//!
//! The imperative shortcut for CI jobs ("staging is green, ship it"). It is two phases, like a
//! plan and its apply: [`prepare`] reads the source and every target and refuses the whole
//! promotion (nothing released) when a target is Fir, on another stack, the source itself, or
//! would be downgraded without `--allow-downgrade`; [`run`] then promotes, one pipeline
//! promotion for the targets sharing the source's pipeline and a release of the slug id for the
//! others, and reports every target, a failed one by name while the others succeed. Nothing is
//! built or uploaded. Like an apply, a promotion is an entry of the audit log (`slugplan
//! history`), with one event per target.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use crate::plan::promotion::PromotionPlanError;
use crate::platform::{Platform, PlatformError};
use crate::release::{
    ReleaseError, Source, SourceError, Target, Verdict, confirm_downgrade, known_rollbacks,
    promote_all, read_source, read_target, verdict, via_pipeline,
};
use crate::state::{Promotions, State, StateError};

/// Errors of `slugplan promote`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PromoteError {
    /// No target was named and the manifest has none for this source.
    #[error("no target apps for {source_app}")]
    #[diagnostic(help(
        "name them with --to APP, or add `promote_from = \"{source_app}\"` to apps in slug.toml"
    ))]
    NoTargets {
        /// The source.
        source_app: String,
    },
    /// The source could not be read or runs nothing.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] SourceError),
    /// A target could not be read.
    #[error("reading the promotion target {app}")]
    Target {
        /// The target.
        app: String,
        /// The cause.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
    /// Targets are refused.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Refused(#[from] PromotionPlanError),
    /// Targets run newer releases than the source.
    #[error("promoting would downgrade {}: each runs a release newer than {source_app}'s v{version}{}", targets.join(", "), rolled_back_to.map(|v| format!(", a rollback to v{v}")).unwrap_or_default())]
    #[diagnostic(
        code(slugplan::promote::downgrade),
        help("nothing was released; pass --allow-downgrade to overwrite them{}", rolled_back_to.map(|_| format!(" (promoting a rolled-back {source_app} rolls them back too)")).unwrap_or_default())
    )]
    Downgrade {
        /// The source.
        source_app: String,
        /// Its running version.
        version: u64,
        /// The version the source's running release went back to, when it is a rollback
        /// slugplan made.
        rolled_back_to: Option<u64>,
        /// The targets.
        targets: Vec<String>,
    },
    /// slugplan's state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}

/// The source, as the preview shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceView {
    /// The source app.
    pub app: String,
    /// Its running release's version.
    pub version: u64,
    /// That release's id.
    pub release_id: String,
    /// The slug promoted.
    pub slug_id: String,
    /// Its checksum.
    pub checksum: Option<String>,
    /// Its stack.
    pub stack: String,
}

/// One target in the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetView {
    /// The target app.
    pub app: String,
    /// Its running version before.
    pub version: Option<u64>,
    /// The checksum it runs before.
    pub checksum: Option<String>,
    /// `promote` or `no-op` (it runs the source's slug already).
    pub action: &'static str,
    /// `pipeline` (one pipeline promotion) or `release` (the slug id released directly).
    pub via: &'static str,
    /// It runs a release newer than the source's.
    pub downgrade: bool,
}

/// What a promotion will do, checked, before anything is released.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The source.
    pub source: SourceView,
    /// Every target.
    pub targets: Vec<TargetView>,
    #[serde(skip)]
    read_source: Source,
    #[serde(skip)]
    read_targets: Vec<Target>,
}

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// The target app.
    pub app: String,
    /// `promoted`, `unchanged` or `failed`.
    pub status: &'static str,
    /// The release it runs after (None when it failed).
    pub version: Option<u64>,
    /// The checksum it runs after (None when it failed).
    pub checksum: Option<String>,
    /// `pipeline` or `release`.
    pub via: &'static str,
    /// Why it failed: the error and its causes on one line.
    pub error: Option<String>,
}

impl TargetReport {
    /// A target that already runs the source's slug.
    fn unchanged(view: &TargetView) -> Self {
        TargetReport {
            app: view.app.clone(),
            status: "unchanged",
            version: view.version,
            checksum: view.checksum.clone(),
            via: view.via,
            error: None,
        }
    }
}

impl Preview {
    /// The report of a promotion with nothing to do (every target runs the source's slug
    /// already), in the shape of any promotion's report.
    pub fn unchanged(&self) -> Report {
        Report {
            source: self.source.clone(),
            targets: self.targets.iter().map(TargetReport::unchanged).collect(),
            promoted: 0,
            unchanged: self.targets.len(),
            failed: 0,
        }
    }
}

/// What a promotion did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The source.
    pub source: SourceView,
    /// Every target.
    pub targets: Vec<TargetReport>,
    /// Targets promoted.
    pub promoted: usize,
    /// Targets already running the slug.
    pub unchanged: usize,
    /// Targets that failed.
    pub failed: usize,
}

/// Reads the source and `targets`, and checks every target (with the rollbacks slugplan made on
/// `platform_id`, from `state`); nothing is released.
pub async fn prepare(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    source: &str,
    targets: &[String],
    allow_downgrade: bool,
) -> Result<Preview, PromoteError> {
    if targets.is_empty() {
        return Err(PromoteError::NoTargets {
            source_app: source.to_owned(),
        });
    }
    let source = read_source(platform, source).await?;
    let read = join_all(targets.iter().map(|t| read_target(platform, t))).await;
    let mut read_targets = Vec::new();
    for (name, target) in targets.iter().zip(read) {
        read_targets.push(target.map_err(|source| PromoteError::Target {
            app: name.clone(),
            source,
        })?);
    }
    // One app named twice (by name and by id, or repeated) is promoted to once.
    let mut seen = std::collections::BTreeSet::new();
    read_targets.retain(|t: &Target| seen.insert(t.app.id.clone()));
    let checksums = running_checksums(platform, &read_targets).await;
    let releases = read_targets.iter().filter_map(|t| t.running.as_ref());
    let rollbacks = known_rollbacks(state, platform_id, releases.chain([&source.release])).await?;
    let mut refusals = Vec::new();
    let mut downgrades = Vec::new();
    let mut views = Vec::new();
    for target in &read_targets {
        let (action, downgrade) = match verdict(&source, target, &rollbacks) {
            Err(refused) => {
                refusals.push(refused);
                continue;
            }
            Ok(Verdict::AlreadyRuns { .. }) => ("no-op", false),
            // Newer releases may only be config changes: compare when the slugs went live.
            Ok(Verdict::Promote { downgrade: true }) => {
                let confirmed = confirm_downgrade(platform, &source, target, &rollbacks)
                    .await
                    .map_err(|source| PromoteError::Target {
                        app: target.name.clone(),
                        source,
                    })?;
                ("promote", confirmed)
            }
            Ok(Verdict::Promote { downgrade }) => ("promote", downgrade),
        };
        if downgrade {
            downgrades.push(target.name.clone());
        }
        let slug_id = target.running.as_ref().and_then(|r| r.slug_id.clone());
        views.push(TargetView {
            app: target.name.clone(),
            version: target.running.as_ref().map(|r| r.version),
            checksum: slug_id.and_then(|id| checksums.get(&id).cloned().flatten()),
            action,
            via: via(&source, target),
            downgrade,
        });
    }
    if !refusals.is_empty() {
        return Err(PromotionPlanError::Refused { refusals }.into());
    }
    if !downgrades.is_empty() && !allow_downgrade {
        return Err(PromoteError::Downgrade {
            source_app: source.name.clone(),
            version: source.release.version,
            rolled_back_to: rollbacks.get(&source.release.id).map(|r| r.version),
            targets: downgrades,
        });
    }
    Ok(Preview {
        source: SourceView {
            app: source.name.clone(),
            version: source.release.version,
            release_id: source.release.id.clone(),
            slug_id: source.slug.id.clone(),
            checksum: source.slug.checksum.clone(),
            stack: source.slug.stack.clone(),
        },
        targets: views,
        read_source: source,
        read_targets,
    })
}

fn via(source: &Source, target: &Target) -> &'static str {
    if via_pipeline(source, target) {
        "pipeline"
    } else {
        "release"
    }
}

/// The checksum of each distinct slug the targets run (one read per slug; unreadable ones are
/// None, which only the preview shows).
async fn running_checksums(
    platform: &dyn Platform,
    targets: &[Target],
) -> BTreeMap<String, Option<String>> {
    let mut reads: BTreeMap<String, &str> = BTreeMap::new();
    for target in targets {
        if let Some(slug_id) = target.running.as_ref().and_then(|r| r.slug_id.as_deref()) {
            reads.entry(slug_id.to_owned()).or_insert(&target.name);
        }
    }
    let read = join_all(reads.iter().map(|(slug_id, app)| async move {
        let checksum = platform
            .slug(app, slug_id)
            .await
            .ok()
            .and_then(|s| s.checksum);
        (slug_id.clone(), checksum)
    }))
    .await;
    read.into_iter().collect()
}

/// Promotes what `preview` says, records each release in the state (so `releases` and later
/// plans know slugplan made it), and records the promotion in the audit log as `command`, one
/// event per target, as an apply is.
pub async fn run(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    preview: Preview,
    timeout: Duration,
    command: &str,
    manifest_sha256: &str,
) -> Result<Report, PromoteError> {
    let apply_id = state
        .begin_apply(command, platform_id, manifest_sha256)
        .await?;
    let result = promote(platform, state, platform_id, preview, timeout).await;
    let outcome = match &result {
        Ok(report) if report.failed == 0 => "succeeded".to_owned(),
        Ok(report) => format!(
            "failed: {} failed",
            crate::human::count(report.failed, "target", "targets")
        ),
        Err(err) => format!("failed: {err}"),
    };
    if let Ok(report) = &result {
        for target in &report.targets {
            let detail = target
                .error
                .clone()
                .unwrap_or_else(|| format!("v{} via {}", target.version.unwrap_or(0), target.via));
            state
                .record_event(
                    apply_id,
                    &format!("promote.{}", target.app),
                    "promote",
                    target.status,
                    &detail,
                )
                .await?;
        }
    }
    state.finish_apply(apply_id, &outcome).await?;
    result
}

/// Promotes what `preview` says and records each settled release in the state.
async fn promote(
    platform: &dyn Platform,
    state: &dyn State,
    platform_id: &str,
    preview: Preview,
    timeout: Duration,
) -> Result<Report, PromoteError> {
    let source = &preview.read_source;
    let to_promote: Vec<&Target> = preview
        .targets
        .iter()
        .zip(&preview.read_targets)
        .filter(|(view, _)| view.action == "promote")
        .map(|(_, target)| target)
        .collect();
    let journal = Promotions::new(state, platform_id);
    let results = promote_all(platform, source, &to_promote, timeout, &journal).await;
    let mut outcomes: BTreeMap<&str, Result<_, ReleaseError>> = BTreeMap::new();
    for (target, result) in to_promote.iter().zip(results) {
        if let Ok(release) = &result {
            state
                .record_release(
                    platform_id,
                    &target.name,
                    &release.id,
                    release.version,
                    source.slug.checksum.as_deref(),
                )
                .await?;
        }
        outcomes.insert(target.name.as_str(), result);
    }
    let mut targets = Vec::new();
    for (view, target) in preview.targets.iter().zip(&preview.read_targets) {
        let report = match outcomes.remove(target.name.as_str()) {
            None => TargetReport::unchanged(view),
            Some(Ok(release)) => TargetReport {
                app: view.app.clone(),
                status: "promoted",
                version: Some(release.version),
                checksum: source.slug.checksum.clone(),
                via: view.via,
                error: None,
            },
            Some(Err(err)) => TargetReport {
                app: view.app.clone(),
                status: "failed",
                version: None,
                checksum: None,
                via: view.via,
                error: Some(crate::error_chain::one_line(&err)),
            },
        };
        targets.push(report);
    }
    let count = |status: &str| targets.iter().filter(|t| t.status == status).count();
    Ok(Report {
        promoted: count("promoted"),
        unchanged: count("unchanged"),
        failed: count("failed"),
        source: preview.source,
        targets,
    })
}
