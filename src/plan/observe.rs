//! Reading what the apps run now.
//!
//! For each app: its running release (current and succeeded), then the slug behind it. Slugs
//! shared by several apps are read once. When nothing changes this is all a plan reads: one
//! release read and at most one slug read per app.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt, stream};

use crate::platform::{Platform, PlatformError, Release, Slug};

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

/// Reads every app in `apps`, `jobs` requests at a time.
pub async fn observe(
    platform: &dyn Platform,
    apps: impl IntoIterator<Item = String>,
    jobs: usize,
) -> Result<BTreeMap<String, ObservedApp>, PlatformError> {
    let jobs = jobs.max(1);
    let releases: Vec<(String, Option<Option<Release>>)> = stream::iter(apps)
        .map(|app| async move {
            match platform.current_release(&app).await {
                Ok(release) => Ok((app, Some(release))),
                Err(PlatformError::NotFound { .. }) => Ok((app, None)),
                Err(err) => Err(err),
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
            let slug = platform.slug(&app, &slug_id).await?;
            Ok::<_, PlatformError>((slug_id, slug))
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
