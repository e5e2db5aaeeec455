//! The embedded local platform: apps, slugs and releases in SQLite, slug archives on disk.
//!
//! It is slugplan's default platform, so `slugplan apply` works on a fresh machine with no
//! account and no network, and it is the store `slugplan server` serves over HTTP. It behaves like
//! Heroku where plan and apply can observe it (per-app version counter, `current`, rollback as a
//! new release of the earlier slug and config, config changes as releases, a formation per app
//! scaled by Heroku's first-release rule, promotions with per-target results) and is stricter
//! where Heroku is silent: a release of a slug whose archive is missing or does not match its
//! declared checksum is refused.
//!
//! A workspace opens it lazily ([`LocalPlatform::open_lazily`]): the data directory and its
//! database are created by the first write, so a plan leaves nothing behind.
//!
//! Layout of a data directory (default `.slugplan/platform/` next to slug.toml):
//!
//! ```text
//! platform.db            SQLite (WAL): apps, slugs, releases (each with its config), config
//!                        vars, formation, pipelines, couplings, promotions
//! blobs/sha256/<hex>     slug archives, named by the SHA-256 of their bytes
//! blobs/tmp/             uploads in progress (renamed into sha256/ when complete)
//! ```

mod apps;
mod blobs;
mod config;
mod db;
mod deletion;
pub mod dynos;
mod formation;
pub mod logs;
mod pipelines;
mod records;
mod releases;
mod store;
mod web_port;

pub use apps::AppChanges;
pub use deletion::AppDeletion;
pub use dynos::{
    DynoAction, DynoRecord, DynoTarget, OneOffParams, SupervisorInfo, SupervisorLock,
    running_supervisor,
};
pub use formation::FormationRecord;
pub use logs::AppLogs;
pub use pipelines::STAGES;
pub use records::{
    AppRecord, CouplingRecord, PipelineRecord, PromotionRecord, ReleaseRecord, SlugRecord,
    TargetRecord,
};
pub use store::{SlugParams, Store};
pub use web_port::{AppRoute, WEB_PORTS, web_addr, web_url};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;

use std::collections::BTreeMap;

use crate::platform::{
    App, BlobTarget, ConfigChanges, Coupling, CreatedSlug, Dyno, Formation, FormationUpdate,
    Generation, LogQuery, LogStream, NewSlug, Pipeline, Platform, PlatformError, Promotion,
    PromotionTarget, Release, Result, Slug, UploadProgress,
};

/// How the local platform behaves beyond the defaults, for testing clients against it: by
/// default releases succeed at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOptions {
    /// New releases stay `pending` this long before they settle, so polling can be exercised.
    pub release_delay: Duration,
    /// Every Nth release attempted through this handle fails (status `failed`, never current).
    pub fail_release_every: Option<u64>,
}

/// A stable UUID for `kind`/`name` (same name, same id, on every machine): for what the local
/// platform names without storing an id (a stack, the account, a formation dyno).
pub fn derived_id(kind: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("slugplan:{kind}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The data directory's default place, relative to the manifest's directory.
pub const DEFAULT_DATA_DIR: &str = ".slugplan/platform";

/// The local platform's data directory for a loaded manifest: its `[platform] data_dir`
/// (relative to the manifest), else [`DEFAULT_DATA_DIR`] next to it.
pub fn data_dir(manifest: &crate::manifest::LoadedManifest) -> PathBuf {
    let configured = manifest.manifest.platform.data_dir.as_deref();
    manifest.resolve(configured.unwrap_or(Path::new(DEFAULT_DATA_DIR)))
}

/// [`data_dir`] for the manifest at `path`. A manifest that does not exist yet is no error:
/// the default next to where it would be is used (so `slugplan server` runs anywhere).
pub fn data_dir_for_manifest(
    path: &Path,
) -> std::result::Result<PathBuf, crate::manifest::ManifestError> {
    if !path.exists() {
        let dir = path.parent().unwrap_or(Path::new(""));
        return Ok(dir.join(DEFAULT_DATA_DIR));
    }
    Ok(data_dir(&crate::manifest::load(path)?))
}

/// The prefix of the blob URLs the in-process platform hands out; only [`LocalPlatform`]
/// understands them.
const LOCAL_BLOB_PREFIX: &str = "slugplan-local:slugs/";

/// The local platform rooted at one data directory. Cheap to clone; clones share one
/// connection. Usable from many tokio tasks: database calls run on the blocking pool.
#[derive(Debug, Clone)]
pub struct LocalPlatform {
    store: Arc<Store>,
    dir: PathBuf,
}

impl LocalPlatform {
    /// Opens (creating and migrating if needed) the local platform in `dir`.
    pub fn open(dir: &Path) -> Result<LocalPlatform> {
        Self::open_with(dir, LocalOptions::default())
    }

    /// Like [`LocalPlatform::open`], with behaviour for tests of clients (slow or failing
    /// releases).
    pub fn open_with(dir: &Path, options: LocalOptions) -> Result<LocalPlatform> {
        let mut store = Store::open(dir)?;
        store.set_options(options);
        Ok(LocalPlatform {
            store: Arc::new(store),
            dir: dir.to_owned(),
        })
    }

    /// Opens the local platform in `dir` without creating anything: the directory and its
    /// database are created by the first write (creating an app, a slug, a release), and until
    /// then the platform reads as empty. What a workspace connects with, so that `slugplan
    /// plan` on a fresh project leaves no database behind.
    pub fn open_lazily(dir: &Path) -> Result<LocalPlatform> {
        Ok(LocalPlatform {
            store: Arc::new(Store::open_lazily(dir)?),
            dir: dir.to_owned(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store, for callers that need full records (the HTTP server).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The schema version an up-to-date database has (`pragma user_version`).
    pub fn schema_version() -> usize {
        db::SCHEMA.version()
    }

    /// Creates an app of a given generation (the trait's `create_app` makes Cedar apps).
    pub async fn create_app_with_generation(
        &self,
        name: &str,
        stack: &str,
        generation: Generation,
    ) -> Result<App> {
        let what = format!("create app {name} on {stack}");
        let (name, stack) = (name.to_owned(), stack.to_owned());
        self.op(what, move |s| s.create_app(&name, &stack, generation))
            .await
            .map(App::from)
    }

    /// Deletes an app and everything that belongs to it (see [`Store::delete_app`]). Whatever
    /// runs for the app outside the database is the caller's to stop, from the returned
    /// [`AppDeletion`].
    pub async fn delete_app(&self, app: &str) -> Result<AppDeletion> {
        let app = app.to_owned();
        self.op(format!("delete app {app}"), move |s| s.delete_app(&app))
            .await
    }

    /// Runs the store call `what` on the blocking pool, and traces it (`-v`): what it was, how
    /// long it took, and how it ended, as the Heroku client traces each request.
    async fn op<T: Send + 'static>(
        &self,
        what: String,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let result = self.blocking(f).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => {
                tracing::debug!(dir = %self.dir.display(), "local platform: {what} ({elapsed_ms:.1} ms)")
            }
            Err(err) => {
                tracing::debug!(dir = %self.dir.display(), "local platform: {what} failed: {err} ({elapsed_ms:.1} ms)")
            }
        }
        result
    }

    /// Runs a store call on the blocking pool: SQLite may wait on another process's lock.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| PlatformError::Storage {
                message: "a local platform task panicked".to_owned(),
                source: Some(Box::new(e)),
            })?
    }

    /// Stores an uploaded archive for `slug_id` from `reader` (described by `source` in
    /// errors) and records it on the slug.
    /// With `verify`, bytes that do not match the slug's declared checksum are refused and
    /// not recorded; without it they are kept (as an object store would) and the release
    /// refuses them later.
    pub async fn receive_blob(
        &self,
        slug_id: &str,
        reader: impl AsyncRead + Unpin,
        source: &str,
        expected_len: Option<u64>,
        verify: bool,
        progress: &dyn UploadProgress,
    ) -> Result<()> {
        let id = slug_id.to_owned();
        let slug = self.blocking(move |s| s.slug(&id)).await?;
        let ingested = self
            .store
            .blobs
            .ingest(reader, source, expected_len, progress)
            .await?;
        if verify
            && let Some(declared) = &slug.checksum
            && store::parse_checksum(declared)?.hex() != ingested.sha256
        {
            return Err(PlatformError::InvalidParams {
                message: format!(
                    "the archive uploaded for slug {} hashes to SHA256:{}, not its declared checksum {declared}",
                    slug.id, ingested.sha256
                ),
                request_id: None,
            });
        }
        let (sha, size) = (ingested.sha256.clone(), ingested.size);
        self.store.blobs.commit(ingested)?;
        let id = slug_id.to_owned();
        let what = format!(
            "store the archive of slug {id} ({}, SHA256:{sha}) in {}",
            crate::human::size(size),
            self.store.blobs.dir().display()
        );
        self.op(what, move |s| s.record_upload(&id, &sha, size))
            .await
    }
}

#[async_trait::async_trait]
impl Platform for LocalPlatform {
    fn describe(&self) -> String {
        format!("local platform at {}", self.dir.display())
    }

    async fn app(&self, app: &str) -> Result<App> {
        let app = app.to_owned();
        self.op(format!("app {app}"), move |s| s.app(&app))
            .await
            .map(App::from)
    }

    async fn create_app(&self, name: &str, stack: &str) -> Result<App> {
        self.create_app_with_generation(name, stack, Generation::Cedar)
            .await
    }

    async fn delete_app(&self, app: &str) -> Result<()> {
        // The supervisor, if one runs, stops the app's dynos once it sees the app gone.
        match LocalPlatform::delete_app(self, app).await {
            Ok(_) | Err(PlatformError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn releases(&self, app: &str, max: usize) -> Result<Vec<Release>> {
        let app = app.to_owned();
        let records = self
            .op(format!("releases {app}"), move |s| {
                s.releases(&app, Some(max))
            })
            .await?;
        Ok(records.into_iter().map(Release::from).collect())
    }

    async fn current_release(&self, app: &str) -> Result<Option<Release>> {
        let app = app.to_owned();
        let record = self
            .op(format!("current release {app}"), move |s| {
                s.current_release(&app)
            })
            .await?;
        Ok(record.map(Release::from))
    }

    async fn release(&self, app: &str, release: &str) -> Result<Release> {
        let (app, release) = (app.to_owned(), release.to_owned());
        self.op(format!("release {release} of {app}"), move |s| {
            s.release(&app, &release)
        })
        .await
        .map(Release::from)
    }

    async fn slug(&self, app: &str, slug_id: &str) -> Result<Slug> {
        let (app, slug_id) = (app.to_owned(), slug_id.to_owned());
        self.op(format!("slug {slug_id} of {app}"), move |s| {
            // Resolving the app keeps "unknown app" an error, as on the API's nested path.
            s.app(&app)?;
            s.slug(&slug_id)
        })
        .await
        .map(Slug::from)
    }

    async fn create_slug(&self, app: &str, new: &NewSlug) -> Result<CreatedSlug> {
        let app = app.to_owned();
        let params = SlugParams {
            process_types: new.process_types.clone(),
            checksum: Some(new.checksum.clone()),
            stack: Some(new.stack.clone()),
            commit: new.commit.clone(),
            commit_description: new.commit_description.clone(),
            buildpack_provided_description: None,
        };
        let record = self
            .op(format!("create a slug on {app}"), move |s| {
                s.create_slug(&app, &params)
            })
            .await?;
        let blob = BlobTarget {
            method: "put".to_owned(),
            url: format!("{LOCAL_BLOB_PREFIX}{}", record.id),
        };
        Ok(CreatedSlug {
            slug: record.into(),
            blob,
        })
    }

    async fn upload_blob(
        &self,
        target: &BlobTarget,
        path: &Path,
        progress: &dyn UploadProgress,
    ) -> Result<()> {
        let slug_id = target.url.strip_prefix(LOCAL_BLOB_PREFIX).ok_or_else(|| {
            PlatformError::InvalidParams {
                message: format!(
                    "blob URL {} was not handed out by the local platform",
                    target.url
                ),
                request_id: None,
            }
        })?;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| PlatformError::Storage {
                message: format!("cannot read slug archive {}", path.display()),
                source: Some(Box::new(e)),
            })?;
        let len = file.metadata().await.ok().map(|m| m.len());
        let source = format!("slug archive {}", path.display());
        self.receive_blob(slug_id, file, &source, len, true, progress)
            .await
    }

    async fn create_release(&self, app: &str, slug_id: &str, description: &str) -> Result<Release> {
        let (app, slug_id, description) =
            (app.to_owned(), slug_id.to_owned(), description.to_owned());
        self.op(format!("release slug {slug_id} to {app}"), move |s| {
            s.create_release(&app, &slug_id, &description)
        })
        .await
        .map(Release::from)
    }

    async fn rollback(&self, app: &str, release_id: &str) -> Result<Release> {
        let (app, release) = (app.to_owned(), release_id.to_owned());
        self.op(format!("roll {app} back to release {release}"), move |s| {
            s.rollback(&app, &release)
        })
        .await
        .map(Release::from)
    }

    async fn config_vars(&self, app: &str) -> Result<BTreeMap<String, String>> {
        let app = app.to_owned();
        self.blocking(move |s| s.config_vars(&app)).await
    }

    async fn update_config_vars(
        &self,
        app: &str,
        changes: &ConfigChanges,
    ) -> Result<BTreeMap<String, String>> {
        let (app, changes) = (app.to_owned(), changes.clone());
        self.blocking(move |s| s.update_config_vars(&app, &changes))
            .await
    }

    async fn formation(&self, app: &str) -> Result<Vec<Formation>> {
        let app = app.to_owned();
        let records = self.blocking(move |s| s.formation(&app)).await?;
        Ok(records.into_iter().map(Formation::from).collect())
    }

    async fn update_formation(
        &self,
        app: &str,
        updates: &[FormationUpdate],
    ) -> Result<Vec<Formation>> {
        let (app, updates) = (app.to_owned(), updates.to_vec());
        let records = self
            .blocking(move |s| s.update_formation(&app, &updates))
            .await?;
        Ok(records.into_iter().map(Formation::from).collect())
    }

    async fn create_pipeline(&self, name: &str) -> Result<Pipeline> {
        let name = name.to_owned();
        self.op(format!("create pipeline {name}"), move |s| {
            s.create_pipeline(&name)
        })
        .await
        .map(Pipeline::from)
    }

    async fn pipeline(&self, pipeline: &str) -> Result<Pipeline> {
        let pipeline = pipeline.to_owned();
        self.op(format!("pipeline {pipeline}"), move |s| {
            s.pipeline(&pipeline)
        })
        .await
        .map(Pipeline::from)
    }

    async fn coupling(&self, app: &str) -> Result<Option<Coupling>> {
        let app = app.to_owned();
        let record = self
            .op(format!("coupling {app}"), move |s| s.coupling(&app))
            .await?;
        Ok(record.map(Coupling::from))
    }

    async fn create_coupling(&self, app: &str, pipeline_id: &str, stage: &str) -> Result<Coupling> {
        let (app, pipeline, stage) = (app.to_owned(), pipeline_id.to_owned(), stage.to_owned());
        self.op(format!("create coupling {app}"), move |s| {
            s.create_coupling(&app, &pipeline, &stage)
        })
        .await
        .map(Coupling::from)
    }

    async fn update_coupling(&self, coupling_id: &str, stage: &str) -> Result<Coupling> {
        let (id, stage) = (coupling_id.to_owned(), stage.to_owned());
        self.op(format!("update coupling {coupling_id}"), move |s| {
            s.update_coupling(&id, &stage)
        })
        .await
        .map(Coupling::from)
    }

    async fn delete_coupling(&self, coupling_id: &str) -> Result<()> {
        let id = coupling_id.to_owned();
        self.op(format!("delete coupling {coupling_id}"), move |s| {
            s.delete_coupling(&id).map(|_| ())
        })
        .await
    }

    async fn create_promotion(
        &self,
        pipeline_id: &str,
        source_app_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<Promotion> {
        let (pipeline, source, release) = (
            pipeline_id.to_owned(),
            source_app_id.to_owned(),
            source_release_id.to_owned(),
        );
        let targets = target_app_ids.to_vec();
        self.op(
            format!("promote {source_release_id} in pipeline {pipeline_id}"),
            move |s| s.create_promotion(&pipeline, &source, Some(&release), &targets),
        )
        .await
        .map(Promotion::from)
    }

    async fn promotion_targets(&self, promotion_id: &str) -> Result<Vec<PromotionTarget>> {
        let promotion = promotion_id.to_owned();
        let records = self
            .blocking(move |s| s.promotion_targets(&promotion))
            .await?;
        Ok(records.into_iter().map(PromotionTarget::from).collect())
    }

    async fn dynos(&self, app: &str) -> Result<Vec<Dyno>> {
        let app = app.to_owned();
        let records = self.blocking(move |s| s.dynos(&app)).await?;
        Ok(records.into_iter().map(Dyno::from).collect())
    }

    async fn logs(&self, app: &str, query: &LogQuery) -> Result<LogStream> {
        let name = app.to_owned();
        // The app's name as stored, so a log is never read for an app that is not there.
        let app = self.blocking(move |s| s.app(&name)).await?;
        AppLogs::open(&self.dir).stream(&app.name, query).await
    }
}
