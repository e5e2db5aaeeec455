//! Deploying: make a plan (prepare slugs, observe the platform, diff), and apply one.
//!
//! A plan made here is what `plan` prints and `apply` executes; a saved plan is re-checked
//! against the platform and the manifest before it is applied, and its slugs are taken from
//! the cache (or rebuilt and compared, on another machine) so exactly the planned bytes go out.
//! The manifest's config vars are expanded against the environment here, when planning and
//! again when applying a saved plan (whose sensitive values must hash as they did).
//!
//! Reads, when nothing changes: each app's running release and each distinct slug (see
//! [`observe`]), and one read of the config and one of the formation of each app that declares
//! them (or whose keys slugplan still manages).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::apply::{Applier, ApplyError, ApplyOptions, ApplyReporter, ApplySummary, ReadySlug};
use crate::build::BuildOptions;
use crate::cache::{Cache, CacheKey};
use crate::checksum::Checksum;
use crate::desired::DesiredState;
use crate::desired::config::ResolvedConfig;
use crate::environment::Env;
use crate::graph::{Address, GraphError, StepGraph, StepKind};
use crate::manifest::ManifestError;
use crate::ops::prepare::{PackReporters, PrepareError, PrepareOptions, Prepared, prepare};
use crate::plan::diff::{AppFacts, DiffError, DiffInput, diff};
use crate::plan::observe::{
    ObserveError, ObservedApp, observe, observe_config, observe_formation, observe_pipelines,
};
use crate::plan::promotion::{self, PromotionPlanError};
use crate::plan::saved::{self, SavedPlanError};
use crate::plan::{Action, Plan};
use crate::platform::{App, Platform, PlatformError, Release};
use crate::release::{known_rollbacks, rollbacks_among};
use crate::runtime::FetchReporter;
use crate::state::{SlugIdentity, State, StateError};
use crate::workspace::{Connected, Workspace};

/// Errors of planning and applying.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DeployError {
    /// Slugs could not be prepared.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Prepare(#[from] PrepareError),
    /// The platform cannot be reached, or refuses the credentials.
    #[error("cannot use the platform at {platform}")]
    Access {
        /// The platform.
        platform: String,
        /// The error.
        #[source]
        #[diagnostic_source]
        source: PlatformError,
    },
    /// The platform could not be read (the error names what, and which app).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Observe(Box<ObserveError>),
    /// The plan is impossible.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Diff(#[from] DiffError),
    /// A config var's `${VAR}` cannot be expanded (the variable is unset).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<ManifestError>),
    /// A `--target` is unknown.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
    /// A saved plan is unreadable or stale.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Saved(#[from] SavedPlanError),
    /// A promotion is refused (Fir or stack mismatch) or its source runs nothing.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Promotion(#[from] PromotionPlanError),
    /// Promotions would overwrite newer releases and `--allow-downgrade` was not given.
    #[error("promoting would downgrade {}: each runs a release newer than its source's", targets.join(", "))]
    #[diagnostic(
        code(slugplan::apply::downgrade),
        help("nothing was released; pass --allow-downgrade to overwrite them")
    )]
    Downgrade {
        /// The promote steps that would downgrade.
        targets: Vec<String>,
    },
    /// Steps failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Apply(#[from] ApplyError),
    /// slugplan's state failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}

impl DeployError {
    /// A failed read of the platform.
    fn observe(source: Box<ObserveError>) -> Self {
        DeployError::Observe(source)
    }
}

/// What planning and applying share.
pub struct Deploy<'a> {
    /// The manifest and its graph.
    pub workspace: &'a Workspace,
    /// The platform.
    pub connected: &'a Connected,
    /// slugplan's state.
    pub state: &'a dyn State,
    /// The cache.
    pub cache: &'a Cache,
    /// The environment the manifest's `${VAR}` references expand against.
    pub env: &'a Env,
}

/// A plan with what applying it needs.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// The archives to upload, by slug.
    pub ready: BTreeMap<String, ReadySlug>,
    /// The declared config vars, expanded: the values the config steps set.
    pub config: ResolvedConfig,
}

impl Deploy<'_> {
    /// Makes a plan for everything, or for `targets` (apps or addresses) and what they need.
    pub async fn plan(
        &self,
        targets: &[String],
        options: &PrepareOptions,
        reporter: &dyn FetchReporter,
        packing: Arc<dyn PackReporters>,
    ) -> Result<Planned, DeployError> {
        // Two questions for the state at once (one round trip on a remote one): which apps
        // have config slugplan manages, and which apps it deployed.
        let ((desired, graph), deployed) =
            futures_util::try_join!(self.desired_and_graph(), async {
                Ok(self.state.deployed_apps(&self.connected.id).await?)
            })?;
        let (desired, graph) = (desired.as_ref(), graph.as_ref());
        let config = self.resolve_config(desired)?;
        let targeting = if targets.is_empty() {
            None
        } else {
            Some(graph.targeting(targets)?)
        };
        self.check_access().await?;
        let wanted = |address: &Address| targeting.as_ref().is_none_or(|t| t.keeps(address));
        let slugs: BTreeSet<String> = graph
            .ordered()
            .into_iter()
            .filter(|step| wanted(&step.address()))
            .filter_map(|step| match step {
                StepKind::AssembleSlug { slug, .. } => Some(slug.clone()),
                _ => None,
            })
            .collect();
        // Every app is read, even with --target: the diff decides each app (and a promotion's
        // source may lie outside the target); steps outside it are dropped afterwards.
        let apps: Vec<String> = desired.apps.keys().cloned().collect();

        let prepared = prepare(
            &self.workspace.loaded,
            self.cache,
            self.state,
            &slugs,
            options,
            reporter,
            packing,
        )
        .await?;
        // The apps slugplan deployed that the manifest no longer declares: shown, left running.
        let undeclared: Vec<String> = deployed
            .into_iter()
            .filter(|app| !desired.apps.contains_key(app))
            .collect();
        let platform = self.connected.platform.as_ref();
        let (observed, undeclared) = futures_util::try_join!(
            observe(platform, apps, options.jobs),
            observe(platform, undeclared, options.jobs)
        )
        .map_err(DeployError::observe)?;

        let pipelines = observe_pipelines(
            self.connected.platform.as_ref(),
            desired
                .apps
                .values()
                .filter_map(|a| a.pipeline.clone())
                .collect::<BTreeSet<_>>(),
            desired
                .apps
                .values()
                .filter(|a| a.pipeline.is_some() && observed.get(&a.name).is_some_and(|o| o.exists))
                .map(|a| a.name.clone())
                .collect::<Vec<_>>(),
            options.jobs,
        )
        .await
        .map_err(DeployError::observe)?;
        let mut facts = prepared.facts.clone();
        // Slugs outside the target still need facts for the diff's per-app decisions.
        for name in desired.slugs.keys() {
            facts
                .entry(name.clone())
                .or_insert_with(|| unknown_facts(self.workspace, name));
        }
        // One lookup each for every slug's upload and for every running release (made by
        // slugplan? a rollback?), sent together: a round trip per question, not per app, on a
        // remote state.
        let identities: Vec<SlugIdentity<'_>> =
            prepared.ready.values().map(ReadySlug::identity).collect();
        let running: Vec<&str> = observed
            .values()
            .filter_map(|o| o.running.as_ref())
            .map(|release| release.id.as_str())
            .collect();
        let (found, made) = futures_util::try_join!(
            self.state.find_uploads(&self.connected.id, &identities),
            self.state.made_releases(&self.connected.id, &running),
        )?;
        let uploads: BTreeMap<String, _> = prepared
            .ready
            .keys()
            .cloned()
            .zip(found)
            .filter_map(|(name, upload)| Some((name, upload?)))
            .collect();
        let mut ours: BTreeSet<String> = made.keys().cloned().collect();
        ours.extend(started_among(self.state, &self.connected.id, &observed, &ours).await?);
        let rollbacks = rollbacks_among(made);
        let Prepared { ready, fetched, .. } = prepared;
        let observed_apps = AppsObserved::read(self, desired, &observed, options.jobs).await?;
        let mut plan = diff(DiffInput {
            graph,
            desired,
            slugs: &facts,
            fetched: &fetched,
            observed: &observed,
            pipelines: &pipelines,
            uploads: &uploads,
            ours: &ours,
            rollbacks: &rollbacks,
            targeting: targeting.as_ref(),
            undeclared: &undeclared,
            platform: &self.connected.id,
            manifest_sha256: &self.workspace.manifest_sha256,
            apps: AppFacts {
                config: &config,
                observed_config: &observed_apps.config,
                managed_config: &observed_apps.managed,
                observed_formation: &observed_apps.formation,
                value_key: &observed_apps.value_key,
            },
        })?;
        // A promotion outside the target is neither checked nor applied.
        if let Some(targeting) = &targeting {
            plan.retain(targeting);
        }
        // Promotion targets (and their sources) are read only where a promotion changes
        // something, so a plan with nothing to do stays at its release and slug reads.
        let to_read = promotion::apps_to_read(&plan, &observed);
        let apps = read_apps(self.connected.platform.as_ref(), to_read, options.jobs)
            .await
            .map_err(DeployError::observe)?;
        // A target's newer release may be a config change only: date both ends by when their
        // slug went live, read only where the running releases suggest a downgrade.
        let mut live = BTreeMap::new();
        for app in promotion::apps_to_date(&plan, &observed, &rollbacks) {
            if let Some(running) = observed.get(&app).and_then(|o| o.running.as_ref()) {
                let release =
                    crate::release::live_release(self.connected.platform.as_ref(), &app, running)
                        .await
                        .map_err(ObserveError::reading(
                            self.connected.platform.as_ref(),
                            format!("when app `{app}`'s slug went live"),
                        ))
                        .map_err(DeployError::observe)?;
                live.insert(app, release);
            }
        }
        let rollbacks = {
            let mut all = rollbacks;
            all.extend(known_rollbacks(self.state, &self.connected.id, live.values()).await?);
            all
        };
        promotion::check(&mut plan, desired, &observed, &apps, &rollbacks, &live)?;
        Ok(Planned {
            plan,
            ready,
            config,
        })
    }

    /// The desired state and step graph to plan with: the workspace's, plus a config step for
    /// each app that declares no config vars any more while the state says slugplan manages
    /// some of its keys (so they get unset).
    async fn desired_and_graph(
        &self,
    ) -> Result<(Cow<'_, DesiredState>, Cow<'_, StepGraph>), DeployError> {
        let managed = self
            .state
            .apps_with_managed_config(&self.connected.id)
            .await?;
        let mut desired = Cow::Borrowed(&self.workspace.desired);
        let needs_step = managed
            .iter()
            .any(|app| desired.apps.get(app).is_some_and(|a| a.config.is_none()));
        if !needs_step {
            return Ok((desired, Cow::Borrowed(&self.workspace.graph)));
        }
        desired
            .to_mut()
            .manage_config_of(managed.iter().map(String::as_str));
        let graph = StepGraph::build(&desired)?;
        Ok((desired, Cow::Owned(graph)))
    }

    /// The declared config vars, expanded against the environment.
    fn resolve_config(&self, desired: &DesiredState) -> Result<ResolvedConfig, DeployError> {
        desired
            .resolve_config(&self.workspace.loaded, self.env)
            .map_err(|e| DeployError::Config(Box::new(e)))
    }

    /// Fails early, before anything is built, when the platform is unreachable or refuses the
    /// token: one cheap read.
    async fn check_access(&self) -> Result<(), DeployError> {
        let platform = self.connected.platform.as_ref();
        platform
            .check_access()
            .await
            .map_err(|source| DeployError::Access {
                platform: platform.describe(),
                source,
            })
    }

    /// Reads a saved plan, refuses it when stale, and finds its slugs (rebuilding any the
    /// cache lost, which must come out byte-identical).
    pub async fn load_saved(
        &self,
        path: &Path,
        options: &PrepareOptions,
    ) -> Result<Planned, DeployError> {
        let plan = saved::load(path)?;
        self.check_access().await?;
        let apps: Vec<String> = plan.fingerprint.keys().cloned().collect();
        let observed = observe(self.connected.platform.as_ref(), apps, options.jobs)
            .await
            .map_err(DeployError::observe)?;
        let running: BTreeMap<String, Option<String>> = observed
            .iter()
            .map(|(app, o)| (app.clone(), o.release_id().map(str::to_owned)))
            .collect();
        saved::check_fresh(
            &plan,
            &self.workspace.manifest_sha256,
            &self.connected.id,
            &running,
        )?;
        // The environment may have moved since: a sensitive value must hash as planned.
        let config = self.resolve_config(&self.workspace.desired)?;
        if plan.steps.iter().any(|s| !s.config.is_empty()) {
            saved::check_config(&plan, &config, &self.state.value_key().await?)?;
        }
        let mut ready = BTreeMap::new();
        for step in &plan.steps {
            let (StepKind::AssembleSlug { slug, .. }, Some(checksum)) = (&step.step, &step.after)
            else {
                continue;
            };
            let found = self.slug_by_checksum(slug, checksum, options).await?;
            ready.insert(slug.clone(), found);
        }
        Ok(Planned {
            plan,
            ready,
            config,
        })
    }

    async fn slug_by_checksum(
        &self,
        slug: &str,
        checksum: &str,
        options: &PrepareOptions,
    ) -> Result<ReadySlug, DeployError> {
        let loaded = &self.workspace.loaded;
        let spec = &loaded.manifest.slugs[slug];
        let process_types = loaded
            .process_types(slug)
            .map_err(|e| PrepareError::Manifest(Box::new(e)))?;
        let checksum = Checksum::parse(checksum).map_err(|source| SavedPlanError::BadChecksum {
            slug: slug.to_owned(),
            source,
        })?;
        let path = Some(self.cache.entry(CacheKey::Slug(checksum.hex())).into_path())
            .filter(|p| p.is_file());
        let path = match path {
            Some(path) => path,
            None => {
                let loaded = loaded.clone();
                let cache = self.cache.clone();
                let name = slug.to_owned();
                let threads = options.threads;
                let written = Arc::clone(&options.written);
                let built = tokio::task::spawn_blocking(move || {
                    let options = BuildOptions {
                        threads,
                        reporter: None,
                        written: Some(&written),
                    };
                    crate::build::ensure_slug(&loaded, &name, &cache, &options)
                })
                .await
                .map_err(|e| PrepareError::Task(e.to_string()))?
                .map_err(|e| PrepareError::Build(Box::new(e)))?;
                if built.archive.checksum != checksum {
                    return Err(SavedPlanError::Stale {
                        reason: format!(
                            "slug {slug} builds to {} now, the plan has {checksum}",
                            built.archive.checksum
                        ),
                    }
                    .into());
                }
                built.archive.path
            }
        };
        Ok(ReadySlug {
            path,
            checksum,
            stack: spec.stack.clone(),
            process_types,
        })
    }

    /// Applies `planned`, recording it in the audit log as `command`.
    pub async fn apply(
        &self,
        planned: &Planned,
        command: &str,
        options: ApplyOptions,
        reporter: &dyn ApplyReporter,
    ) -> Result<ApplySummary, DeployError> {
        let downgrades = promotion::downgrades(&planned.plan);
        if !downgrades.is_empty() && !options.allow_downgrade {
            return Err(DeployError::Downgrade {
                targets: downgrades.iter().map(|a| a.0.clone()).collect(),
            });
        }
        let apply_id = self
            .state
            .begin_apply(command, &self.connected.id, &self.workspace.manifest_sha256)
            .await?;
        let app_stacks: BTreeMap<String, String> = self
            .workspace
            .desired
            .apps
            .values()
            .filter_map(|app| {
                let stack = self.workspace.desired.slugs.get(&app.slug)?.stack.clone();
                Some((app.name.clone(), stack))
            })
            .collect();
        let applier = Applier::new(
            self.connected.platform.as_ref(),
            self.connected.id.clone(),
            self.state,
            apply_id,
            &planned.ready,
            &app_stacks,
            reporter,
            options,
        )
        .with_config(&planned.config);
        let result = applier.apply(&planned.plan, None).await;
        let outcome = match &result {
            Ok(_) => "succeeded".to_owned(),
            Err(ApplyError::Interrupted {
                finished, not_run, ..
            }) => format!(
                "interrupted: {} finished, {} not run",
                crate::human::count(finished.len(), "step", "steps"),
                not_run.len()
            ),
            Err(err) => format!("failed: {err}"),
        };
        // The apply's own error comes first: when the state went away, closing the entry
        // fails too, and says less.
        let finished = self.state.finish_apply(apply_id, &outcome).await;
        let mut summary = result?;
        finished?;
        summary.built = planned
            .plan
            .steps
            .iter()
            .filter(|s| {
                matches!(s.step, StepKind::AssembleSlug { .. }) && s.action == Action::Build
            })
            .count();
        Ok(summary)
    }
}

/// The config and formation of the apps that have config or formation steps, and the keys
/// slugplan manages on them.
struct AppsObserved {
    config: BTreeMap<String, BTreeMap<String, String>>,
    managed: BTreeMap<String, BTreeMap<String, crate::state::ManagedVar>>,
    formation: BTreeMap<String, Vec<crate::platform::Formation>>,
    value_key: crate::sensitive::ValueKey,
}

impl AppsObserved {
    /// One config read per app with a config step and one formation read per app with a
    /// formation step, of the apps that exist; the state's records of the first.
    async fn read(
        deploy: &Deploy<'_>,
        desired: &DesiredState,
        observed: &BTreeMap<String, crate::plan::observe::ObservedApp>,
        jobs: usize,
    ) -> Result<Self, DeployError> {
        let exists = |app: &str| observed.get(app).is_some_and(|o| o.exists);
        let with_config: Vec<String> = desired
            .apps
            .values()
            .filter(|a| a.config.is_some())
            .map(|a| a.name.clone())
            .collect();
        let with_formation: Vec<String> = desired
            .apps
            .values()
            .filter(|a| !a.formation.is_empty() && exists(&a.name))
            .map(|a| a.name.clone())
            .collect();
        let platform = deploy.connected.platform.as_ref();
        let failed = DeployError::observe;
        let config = observe_config(
            platform,
            with_config.iter().filter(|a| exists(a)).cloned(),
            jobs,
        )
        .await
        .map_err(failed)?;
        let formation = observe_formation(platform, with_formation, jobs)
            .await
            .map_err(failed)?;
        let apps: Vec<&str> = with_config.iter().map(String::as_str).collect();
        let managed = deploy
            .state
            .managed_config(&deploy.connected.id, &apps)
            .await?;
        // The key is made (and kept in the state) only once some app has config to hash.
        let value_key = if with_config.is_empty() {
            crate::sensitive::ValueKey::generate()
        } else {
            deploy.state.value_key().await?
        };
        Ok(AppsObserved {
            config,
            managed,
            formation,
            value_key,
        })
    }
}

/// Reads the app records of `apps`, `jobs` at a time.
async fn read_apps(
    platform: &dyn Platform,
    apps: BTreeSet<String>,
    jobs: usize,
) -> Result<BTreeMap<String, App>, Box<ObserveError>> {
    use futures_util::{StreamExt, TryStreamExt, stream};
    stream::iter(apps)
        .map(|app| async move {
            let read = platform.app(&app).await;
            let read = read.map_err(ObserveError::reading(platform, format!("app `{app}`")))?;
            Ok::<_, Box<ObserveError>>((app, read))
        })
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await
}

fn unknown_facts(workspace: &Workspace, slug: &str) -> crate::plan::diff::SlugFacts {
    let spec = &workspace.loaded.manifest.slugs[slug];
    crate::plan::diff::SlugFacts {
        checksum: None,
        stack: spec.stack.clone(),
        process_types: workspace.loaded.process_types(slug).unwrap_or_default(),
        built_now: false,
        go_built_now: false,
        build_reason: "outside the target".into(),
    }
}

/// The running releases in `observed` that slugplan started but did not record (it died between
/// the platform making them and recording them; see [`crate::state::StartedRelease`]): its own, not drift.
/// Asked only about the apps whose running release is not in `ours` already, so a state that
/// recorded everything costs no lookup.
async fn started_among(
    state: &dyn State,
    platform: &str,
    observed: &BTreeMap<String, ObservedApp>,
    ours: &BTreeSet<String>,
) -> Result<Vec<String>, StateError> {
    let unknown: Vec<(&str, &Release)> = observed
        .iter()
        .filter_map(|(app, o)| Some((app.as_str(), o.running.as_ref()?)))
        .filter(|(_, release)| !ours.contains(&release.id))
        .collect();
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let apps: Vec<&str> = unknown.iter().map(|(app, _)| *app).collect();
    let started = state.started_releases(platform, &apps).await?;
    Ok(unknown
        .into_iter()
        .filter(|(app, release)| started.iter().any(|s| s.made(app, release)))
        .map(|(_, release)| release.id.clone())
        .collect())
}
