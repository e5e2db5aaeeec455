//! The platform: where apps, slugs and releases live.
//!
//! Everything above this module talks to a `dyn` [`Platform`] and never knows which one it has:
//! the embedded local platform (`local`, the default: SQLite and blobs on disk) or the Heroku
//! Platform API v3 (`heroku`, which is also what talks to `slugplan server`). The types here are
//! slugplan's view of the API's resources, holding what plan, apply and promotion need; the
//! implementations map the wire format onto them.

mod dynos;
pub mod heroku;
pub mod local;

pub use dynos::{Dyno, DynoState, LogQuery, LogStream};

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// An app on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// The app's UUID.
    pub id: String,
    /// The app's name.
    pub name: String,
    /// The stack the app runs on, e.g. `heroku-24`.
    pub stack: String,
    /// Cedar (slugs) or Fir (OCI images, which cannot run slugs).
    pub generation: Generation,
    /// Where the app answers on the web (`https://<app>.herokuapp.com/` on Heroku,
    /// `http://127.0.0.1:<port>/` on the local platform), when the platform says.
    #[serde(default)]
    pub web_url: Option<String>,
}

/// The platform generation an app belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// Runs slugs.
    Cedar,
    /// Runs OCI images; slugs cannot be released to it.
    Fir,
}

/// The status of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStatus {
    /// Still being released.
    Pending,
    /// Released: if `current`, this is what the app runs.
    Succeeded,
    /// The release failed.
    Failed,
    /// The release expired before it finished.
    Expired,
}

impl ReleaseStatus {
    /// The status as the API spells it: `pending`, `succeeded`, `failed`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Succeeded => "succeeded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Expired => "expired",
        }
    }
}

/// A release of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The release's UUID.
    pub id: String,
    /// The per-app version number (v1, v2, …).
    pub version: u64,
    /// Its status.
    pub status: ReleaseStatus,
    /// Whether this is the app's current release.
    pub current: bool,
    /// The slug it runs (None for releases without a slug, e.g. config-only ones).
    pub slug_id: Option<String>,
    /// Its description, e.g. `Deploy web (slugplan)`.
    pub description: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

impl Release {
    /// Whether this release is what the app runs now: current and succeeded.
    pub fn is_running(&self) -> bool {
        self.current && self.status == ReleaseStatus::Succeeded
    }
}

/// How the platform (Heroku, and the local platform after it) describes the release a pipeline
/// promotion of `source_app`'s release `version` makes on each target: `Promote staging v3`.
pub fn promotion_description(source_app: &str, version: u64) -> String {
    format!("Promote {source_app} v{version}")
}

/// How the platform (Heroku, and the local platform after it) describes a rollback to release
/// `version`: `Rollback to v3`.
pub fn rollback_description(version: u64) -> String {
    format!("Rollback to v{version}")
}

/// How the platform (Heroku, and the local platform after it) describes the release a config
/// change makes: `Set A, B config vars`, `Remove C config vars`, or
/// `Set A and remove C config vars`.
pub fn config_description(changes: &ConfigChanges) -> String {
    let names = |set: bool| -> Vec<&str> {
        changes
            .iter()
            .filter(|(_, value)| value.is_some() == set)
            .map(|(key, _)| key.as_str())
            .collect()
    };
    let (set, removed) = (names(true), names(false));
    match (set.is_empty(), removed.is_empty()) {
        (false, true) => format!("Set {} config vars", set.join(", ")),
        (true, _) => format!("Remove {} config vars", removed.join(", ")),
        (false, false) => format!(
            "Set {} and remove {} config vars",
            set.join(", "),
            removed.join(", ")
        ),
    }
}

/// A slug as the platform knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slug {
    /// The slug's UUID.
    pub id: String,
    /// `SHA256:<hex>`, when the creator declared one.
    pub checksum: Option<String>,
    /// Process types: name → command.
    pub process_types: BTreeMap<String, String>,
    /// Size in bytes of the uploaded archive (None until uploaded).
    pub size: Option<u64>,
    /// The stack the slug was built for.
    pub stack: String,
    /// The commit it was built from, if given.
    pub commit: Option<String>,
}

/// What to create a slug with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSlug {
    /// Process types: name → command.
    pub process_types: BTreeMap<String, String>,
    /// `SHA256:<hex>` of the archive to be uploaded.
    pub checksum: String,
    /// The stack it was built for.
    pub stack: String,
    /// The commit it was built from.
    pub commit: Option<String>,
    /// A description of the commit.
    pub commit_description: Option<String>,
}

/// Where to upload a slug's archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobTarget {
    /// The HTTP method (`put`).
    pub method: String,
    /// The pre-signed URL; on the local platform, a location it understands.
    pub url: String,
}

/// A freshly created slug and where its archive goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedSlug {
    /// The slug.
    pub slug: Slug,
    /// The upload target.
    pub blob: BlobTarget,
}

/// An app's coupling to a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupling {
    /// The coupling's UUID.
    pub id: String,
    /// The pipeline's UUID.
    pub pipeline_id: String,
    /// The app's UUID.
    pub app_id: String,
    /// The stage (`staging`, `production`, …).
    pub stage: String,
}

/// A pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    /// The pipeline's UUID.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// The status of a pipeline promotion as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromotionStatus {
    /// Targets are still being released.
    Pending,
    /// Every target has finished (each may have succeeded or failed).
    Completed,
}

/// A pipeline promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// The promotion's UUID.
    pub id: String,
    /// The pipeline's UUID.
    pub pipeline_id: String,
    /// The source app's UUID.
    pub source_app_id: String,
    /// The source release's UUID.
    pub source_release_id: String,
    /// Its status.
    pub status: PromotionStatus,
}

/// The status of one target of a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// Not released yet.
    Pending,
    /// Released.
    Succeeded,
    /// Failed; see the error message.
    Failed,
}

/// One target app of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionTarget {
    /// The target's UUID.
    pub id: String,
    /// The target app's UUID.
    pub app_id: String,
    /// Its status.
    pub status: TargetStatus,
    /// Why it failed, when it did.
    pub error_message: Option<String>,
    /// The release made on the target, once there is one.
    pub release_id: Option<String>,
}

/// One process type of an app's formation: how many dynos run it, of what size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Formation {
    /// The process type, e.g. `web`.
    #[serde(rename = "type")]
    pub process_type: String,
    /// How many dynos run.
    pub quantity: u32,
    /// Their size, e.g. `Standard-1X`.
    pub size: String,
    /// The command, from the current release's slug.
    pub command: String,
}

/// A change to one process type of a formation (`PATCH /apps/{app}/formation`'s `updates`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormationUpdate {
    /// The process type.
    #[serde(rename = "type")]
    pub process_type: String,
    /// The new dyno count, if it changes.
    pub quantity: Option<u32>,
    /// The new size, if it changes.
    pub size: Option<String>,
}

/// Config var changes: a value sets the key, `None` unsets it.
pub type ConfigChanges = BTreeMap<String, Option<String>>;

/// Reports bytes as an upload proceeds.
pub trait UploadProgress: Send + Sync {
    /// `sent` more bytes went out.
    fn advance(&self, sent: u64);
}

/// An [`UploadProgress`] that ignores progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl UploadProgress for NoProgress {
    fn advance(&self, _sent: u64) {}
}

/// Errors from a platform, typed so callers can branch on them (a missing app is not a
/// network failure). Each carries the platform's request id where there is one, so a user can
/// quote it to support.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlatformError {
    /// The thing asked for does not exist.
    #[error("not found: {message}{}", request_suffix(.request_id))]
    NotFound {
        /// What was not found, in the platform's words.
        message: String,
        /// The platform's request id.
        request_id: Option<String>,
    },
    /// The credentials were missing, wrong or not allowed to do this.
    #[error("unauthorized: {message}{}", request_suffix(.request_id))]
    #[diagnostic(help(
        "set HEROKU_API_KEY to a token {host} accepts, or put one in ~/.netrc as `machine {host} login <email> password <token>`"
    ))]
    Unauthorized {
        /// The platform's message.
        message: String,
        /// The platform's request id.
        request_id: Option<String>,
        /// The API host that refused the token: the `machine` of `~/.netrc` that holds it.
        host: String,
    },
    /// The rate limit was hit and retries ran out.
    #[error("rate limited: {message}{}", request_suffix(.request_id))]
    #[diagnostic(help("wait a few minutes for the rate limit to refill, then run again"))]
    RateLimited {
        /// The platform's message.
        message: String,
        /// The platform's request id.
        request_id: Option<String>,
    },
    /// The request conflicts with the platform's state (e.g. the app exists already).
    #[error("conflict: {message}{}", request_suffix(.request_id))]
    Conflict {
        /// The platform's message.
        message: String,
        /// The platform's request id.
        request_id: Option<String>,
    },
    /// The platform refused the request's parameters (e.g. a slug for another stack).
    #[error("invalid request: {message}{}", request_suffix(.request_id))]
    InvalidParams {
        /// The platform's message.
        message: String,
        /// The platform's request id.
        request_id: Option<String>,
    },
    /// Any other error answer from the platform.
    #[error("platform error {status} ({id}): {message}{}", request_suffix(.request_id))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error id, e.g. `internal_server_error`.
        id: String,
        /// The platform's message.
        message: String,
        /// The platform's request id.
        request_id: Option<String>,
    },
    /// The platform could not be reached, or the connection broke.
    #[error("cannot reach the platform at {url}")]
    Transport {
        /// The URL (never with credentials).
        url: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The local platform's database could not be opened or migrated, or was written by a
    /// newer slugplan.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Database(#[from] Box<crate::sqlite::SqliteError>),
    /// The local platform's storage failed.
    #[error("local platform storage error: {message}")]
    Storage {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl PlatformError {
    /// Whether the platform may have done what was asked although the call failed: it answered
    /// `5xx`, or the connection broke after the request went out (a reset, a timeout, a reply cut
    /// off). A write that failed so is read back before it is made again; every other failure
    /// (an answer saying no, a connection that never opened) left the platform as it was.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            PlatformError::Api { status, .. } => *status >= 500,
            PlatformError::Transport { source, .. } => !source
                .downcast_ref::<reqwest::Error>()
                .is_some_and(reqwest::Error::is_connect),
            _ => false,
        }
    }
}

fn request_suffix(request_id: &Option<String>) -> String {
    match request_id {
        Some(id) => format!(" (request id {id})"),
        None => String::new(),
    }
}

/// The result type of platform calls.
pub type Result<T, E = PlatformError> = std::result::Result<T, E>;

/// A platform: the local embedded one or the Heroku API. Apps are named by name or id.
#[async_trait::async_trait]
pub trait Platform: Send + Sync {
    /// A short name for messages: `local` or the API's base URL.
    fn describe(&self) -> String;

    /// Checks with one cheap read that the platform answers and accepts slugplan's credentials,
    /// so a wrong token or an unreachable API fails a command before it builds anything. The
    /// embedded platform always does.
    async fn check_access(&self) -> Result<()> {
        Ok(())
    }

    /// Reads an app.
    async fn app(&self, app: &str) -> Result<App>;

    /// Creates an app on `stack`.
    async fn create_app(&self, name: &str, stack: &str) -> Result<App>;

    /// Deletes an app and everything of it (`DELETE /apps/{app}`, `heroku apps:destroy`).
    /// Deleting an app that is gone already is no error.
    async fn delete_app(&self, app: &str) -> Result<()>;

    /// Up to `max` releases of `app`, newest (highest version) first.
    async fn releases(&self, app: &str, max: usize) -> Result<Vec<Release>>;

    /// The release `app` runs now (current and succeeded), found without listing its whole
    /// history; None when it has never had one.
    async fn current_release(&self, app: &str) -> Result<Option<Release>>;

    /// Reads one release by id or version number.
    async fn release(&self, app: &str, release: &str) -> Result<Release>;

    /// Reads a slug.
    async fn slug(&self, app: &str, slug_id: &str) -> Result<Slug>;

    /// Creates a slug on `app` and returns where to upload its archive.
    async fn create_slug(&self, app: &str, new: &NewSlug) -> Result<CreatedSlug>;

    /// Uploads the archive at `path` to `target`, streaming it.
    async fn upload_blob(
        &self,
        target: &BlobTarget,
        path: &Path,
        progress: &dyn UploadProgress,
    ) -> Result<()>;

    /// Releases slug `slug_id` to `app`.
    async fn create_release(&self, app: &str, slug_id: &str, description: &str) -> Result<Release>;

    /// Rolls `app` back to release `release_id`: a new release of that release's slug and
    /// config.
    async fn rollback(&self, app: &str, release_id: &str) -> Result<Release>;

    /// The app's config vars.
    async fn config_vars(&self, app: &str) -> Result<BTreeMap<String, String>>;

    /// Sets and unsets config vars (a new release on Heroku and the local platform) and
    /// returns them all.
    async fn update_config_vars(
        &self,
        app: &str,
        changes: &ConfigChanges,
    ) -> Result<BTreeMap<String, String>>;

    /// The app's formation: each process type of its current release.
    async fn formation(&self, app: &str) -> Result<Vec<Formation>>;

    /// Scales or resizes process types at once and returns the whole formation after.
    async fn update_formation(
        &self,
        app: &str,
        updates: &[FormationUpdate],
    ) -> Result<Vec<Formation>>;

    /// Creates a pipeline.
    async fn create_pipeline(&self, name: &str) -> Result<Pipeline>;

    /// Reads a pipeline by name or id.
    async fn pipeline(&self, pipeline: &str) -> Result<Pipeline>;

    /// The pipeline coupling of `app`, None when it is in no pipeline.
    async fn coupling(&self, app: &str) -> Result<Option<Coupling>>;

    /// Couples `app` to `pipeline_id` at `stage`.
    async fn create_coupling(&self, app: &str, pipeline_id: &str, stage: &str) -> Result<Coupling>;

    /// Moves coupling `coupling_id` to `stage` (`PATCH /pipeline-couplings/{id}`).
    async fn update_coupling(&self, coupling_id: &str, stage: &str) -> Result<Coupling>;

    /// Removes coupling `coupling_id`, taking its app out of the pipeline
    /// (`DELETE /pipeline-couplings/{id}`).
    async fn delete_coupling(&self, coupling_id: &str) -> Result<()>;

    /// Promotes `source_release_id` of `source_app_id` to each of `target_app_ids`.
    async fn create_promotion(
        &self,
        pipeline_id: &str,
        source_app_id: &str,
        source_release_id: &str,
        target_app_ids: &[String],
    ) -> Result<Promotion>;

    /// The targets of a promotion and how each fared.
    async fn promotion_targets(&self, promotion_id: &str) -> Result<Vec<PromotionTarget>>;

    /// The app's dynos now, by name.
    async fn dynos(&self, app: &str) -> Result<Vec<Dyno>>;

    /// The app's log: the newest `query.lines` lines that match it, then, with `query.tail`,
    /// each new one as it comes.
    async fn logs(&self, app: &str, query: &LogQuery) -> Result<LogStream>;
}
