//! Reading what the apps run now.
//!
//! For each app: its running release (current and succeeded), then the slug behind it. Slugs
//! shared by several apps are read once. When nothing changes this is all a plan reads: one
//! release read and at most one slug read per app, plus one config read ([`observe_config`])
//! and one formation read ([`observe_formation`]) for the apps that declare them.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::platform::{Coupling, Formation, Platform, PlatformError, Release, Slug};

/// What one app runs now, as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedApp {
    /// Whether the app exists on the platform.
    pub exists: bool,
    /// The release it runs (current and succeeded), if any.
    pub running: Option<Release>,
    /// The slug of that release, if it has one.
    pub slug: Option<Slug>,
}

impl ObservedApp {
    /// The checksum of the slug the app runs.
    pub fn checksum(&self) -> Option<&str> {
        self.slug.as_ref().and_then(|s| s.checksum.as_deref())
    }

    /// The running release's id.
    pub fn release_id(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.id.as_str())
    }
}

/// Reading the platform failed: what was being read (naming the app, slug or pipeline), from
/// which platform, and why.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot read {what} from {platform}")]
pub struct ObserveError {
    /// What was read: "app `web-staging`'s current release", "pipeline `shop`", ….
    pub what: String,
    /// The platform, as it describes itself.
    pub platform: String,
    /// The platform's error.
    #[source]
    #[diagnostic_source]
    pub source: PlatformError,
}

impl ObserveError {
    /// Wraps `source`, the error reading `what` from `platform` (boxed: it is large, and
    /// rare).
    pub fn reading(
        platform: &dyn Platform,
        what: impl Into<String>,
    ) -> impl FnOnce(PlatformError) -> Box<Self> {
        let (what, platform) = (what.into(), platform.describe());
        move |source| {
            Box::new(ObserveError {
                what,
                platform,
                source,
            })
        }
    }
}

/// Reads every app in `apps`, `jobs` requests at a time.
pub async fn observe(
    platform: &dyn Platform,
    apps: impl IntoIterator<Item = String>,
    jobs: usize,
) -> Result<BTreeMap<String, ObservedApp>, Box<ObserveError>> {
    let jobs = jobs.max(1);
    let releases: Vec<(String, Option<Option<Release>>)> = stream::iter(apps)
        .map(|app| async move {
            match platform.current_release(&app).await {
                Ok(release) => Ok((app, Some(release))),
                Err(PlatformError::NotFound { .. }) => Ok((app, None)),
                Err(err) => Err(ObserveError::reading(
                    platform,
                    format!("app `{app}`'s current release"),
                )(err)),
            }
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;

    // One read per distinct slug, through the first app that runs it.
    let mut slug_reads: BTreeMap<String, String> = BTreeMap::new();
    for (app, release) in &releases {
        if let Some(slug_id) = release.as_ref().and_then(|r| r.as_ref()?.slug_id.clone()) {
            slug_reads.entry(slug_id).or_insert_with(|| app.clone());
        }
    }
    let slugs: BTreeMap<String, Slug> = stream::iter(slug_reads)
        .map(|(slug_id, app)| async move {
            let slug = platform
                .slug(&app, &slug_id)
                .await
                .map_err(ObserveError::reading(
                    platform,
                    format!("slug {slug_id}, which app `{app}` runs"),
                ))?;
            Ok::<_, Box<ObserveError>>((slug_id, slug))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;

    Ok(releases
        .into_iter()
        .map(|(app, release)| {
            let observed = match release {
                None => ObservedApp::default(),
                Some(running) => {
                    let slug = running
                        .as_ref()
                        .and_then(|r| r.slug_id.as_ref())
                        .and_then(|id| slugs.get(id).cloned());
                    ObservedApp {
                        exists: true,
                        running,
                        slug,
                    }
                }
            };
            (app, observed)
        })
        .collect())
}

/// The config vars of each app in `apps` (apps that exist and have a config step), one read
/// each, `jobs` at a time.
pub async fn observe_config(
    platform: &dyn Platform,
    apps: impl IntoIterator<Item = String>,
    jobs: usize,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, Box<ObserveError>> {
    per_app(platform, apps, jobs, "config vars", |app| async move {
        let read = platform.config_vars(&app).await;
        (app, read)
    })
    .await
}

/// The formation of each app in `apps` (apps that exist and declare one), one read each.
pub async fn observe_formation(
    platform: &dyn Platform,
    apps: impl IntoIterator<Item = String>,
    jobs: usize,
) -> Result<BTreeMap<String, Vec<Formation>>, Box<ObserveError>> {
    per_app(platform, apps, jobs, "formation", |app| async move {
        let read = platform.formation(&app).await;
        (app, read)
    })
    .await
}

/// `read(app)` for each of `apps`, `jobs` at a time; a failure names the app and what of it
/// (`what`: "config vars") was read.
async fn per_app<T, Read, Reading>(
    platform: &dyn Platform,
    apps: impl IntoIterator<Item = String>,
    jobs: usize,
    what: &str,
    read: Read,
) -> Result<BTreeMap<String, T>, Box<ObserveError>>
where
    Read: Fn(String) -> Reading,
    Reading: std::future::Future<Output = (String, Result<T, PlatformError>)>,
{
    stream::iter(apps)
        .map(read)
        .buffer_unordered(jobs.max(1))
        .map(|(app, read)| {
            let read = read.map_err(ObserveError::reading(
                platform,
                format!("app `{app}`'s {what}"),
            ))?;
            Ok::<_, Box<ObserveError>>((app, read))
        })
        .try_collect()
        .await
}

/// The pipelines the manifest names and the couplings of the apps that declare one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedPipelines {
    /// Each declared pipeline's id by name; None when the platform has no such pipeline.
    pub pipelines: BTreeMap<String, Option<String>>,
    /// The coupling of each existing app that declares a pipeline (None: in no pipeline).
    pub couplings: BTreeMap<String, Option<Coupling>>,
}

/// Reads each pipeline named in `pipelines` once and the coupling of each app in `apps` (apps
/// that exist and declare a pipeline): one read per app and one per pipeline.
pub async fn observe_pipelines(
    platform: &dyn Platform,
    pipelines: impl IntoIterator<Item = String>,
    apps: impl IntoIterator<Item = String>,
    jobs: usize,
) -> Result<ObservedPipelines, Box<ObserveError>> {
    let jobs = jobs.max(1);
    let pipelines = stream::iter(pipelines)
        .map(|name| async move {
            match platform.pipeline(&name).await {
                Ok(pipeline) => Ok((name, Some(pipeline.id))),
                Err(PlatformError::NotFound { .. }) => Ok((name, None)),
                Err(err) => Err(ObserveError::reading(
                    platform,
                    format!("pipeline `{name}`"),
                )(err)),
            }
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    let couplings = per_app(
        platform,
        apps,
        jobs,
        "pipeline coupling",
        |app| async move {
            let read = platform.coupling(&app).await;
            (app, read)
        },
    )
    .await?;
    Ok(ObservedPipelines {
        pipelines,
        couplings,
    })
}
