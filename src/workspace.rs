//! A workspace: one manifest and the state slugplan keeps beside it.
//!
//! Opening a workspace runs the first steps of the flow (manifest → desired state → graph), so
//! every command that deploys starts from the same validated, resolved view. Beside the
//! manifest, `.slugplan/` holds `state/` (uploads, releases made, the audit log, the apply lock,
//! when the state is local; see [`crate::state`]) and, on the local platform, `platform/` (the
//! embedded platform's apps, releases and blobs).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::desired::DesiredState;
use crate::graph::{GraphError, StepGraph};
use crate::manifest::PlatformKind;
use crate::manifest::{self, LoadedManifest, ManifestError, project_path};
use crate::platform::heroku::{
    self, HerokuConfig, HerokuPlatform, RetryPolicy, RetryReporter, Token,
};
use crate::platform::local::{self, LocalPlatform};
use crate::platform::{Platform, PlatformError};

/// Errors opening a workspace.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkspaceError {
    /// The manifest is unreadable or invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] ManifestError),
    /// The steps form a cycle.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
}

/// Errors connecting to the platform.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConnectError {
    /// The local platform's data could not be opened.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Local(#[from] PlatformError),
    /// The Heroku API's URL or token is missing or wrong.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Heroku(#[from] heroku::ConnectError),
}

/// How to reach the Heroku API, resolved at the edge from flags, environment and manifest:
/// the library reads no environment. The local platform needs none of it.
#[derive(Clone)]
pub struct ConnectOptions {
    /// The API's base URL.
    pub api_url: String,
    /// The token given by the environment (`HEROKU_API_KEY`); blank counts as none.
    pub api_key: Option<Token>,
    /// The home directory whose `.netrc` is searched when no token is given.
    pub home: Option<PathBuf>,
    /// How API calls are retried.
    pub retry: RetryPolicy,
    /// Who hears about each failed attempt (the edge prints a line for each).
    pub retries: Arc<dyn RetryReporter>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            api_url: heroku::DEFAULT_API_URL.to_owned(),
            api_key: None,
            home: None,
            retry: RetryPolicy::default(),
            retries: Arc::new(heroku::Silent),
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("api_url", &self.api_url)
            .field("api_key", &self.api_key)
            .field("home", &self.home)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A connection to the manifest's platform.
pub struct Connected {
    /// The platform.
    pub platform: Arc<dyn Platform>,
    /// Its identity in slugplan's state: `local:<data dir>` or the API's base URL.
    pub id: String,
    /// The Heroku client, when that is the platform, for its request counts.
    pub heroku: Option<Arc<HerokuPlatform>>,
}

/// A loaded manifest, its desired state and step graph, and where its state lives.
#[derive(Debug)]
pub struct Workspace {
    /// The manifest.
    pub loaded: LoadedManifest,
    /// SHA-256 (hex) of the manifest's bytes; saved plans carry it.
    pub manifest_sha256: String,
    /// What the manifest asks for.
    pub desired: DesiredState,
    /// The steps.
    pub graph: StepGraph,
}

impl Workspace {
    /// Loads and resolves the manifest at `path`.
    pub fn open(path: &Path) -> Result<Self, WorkspaceError> {
        Self::from_loaded(manifest::load(path)?)
    }

    /// Resolves a manifest already loaded.
    pub fn from_loaded(loaded: LoadedManifest) -> Result<Self, WorkspaceError> {
        let manifest_sha256 = hex::encode(Sha256::digest(loaded.text.as_bytes()));
        let desired = DesiredState::from_manifest(&loaded);
        let graph = StepGraph::build(&desired)?;
        Ok(Workspace {
            loaded,
            manifest_sha256,
            desired,
            graph,
        })
    }

    /// `.slugplan/` beside the manifest.
    pub fn dot_dir(&self) -> PathBuf {
        self.loaded.dir.join(".slugplan")
    }

    /// Where slugplan's own state lives with the local backend (the default).
    pub fn state_dir(&self) -> PathBuf {
        self.dot_dir().join("state")
    }

    /// Connects to the manifest's platform: the local one in its data directory, or the
    /// Heroku API as `options` say, with the token they give, else the one for the API's host
    /// in `<home>/.netrc`.
    pub fn connect(&self, options: &ConnectOptions) -> Result<Connected, ConnectError> {
        match self.loaded.manifest.platform.kind {
            PlatformKind::Local => {
                let dir = local::data_dir(&self.loaded);
                // Created by the first write, not by a plan (see LocalPlatform::open_lazily).
                let local = LocalPlatform::open_lazily(&dir)?;
                Ok(Connected {
                    platform: Arc::new(local),
                    // Resolved as if it existed: a plan saved before the directory is created
                    // names it as the apply that creates it does.
                    id: format!("local:{}", project_path::canonical(&dir).display()),
                    heroku: None,
                })
            }
            PlatformKind::Heroku => {
                let url = options.api_url.as_str();
                let mut config = HerokuConfig::new(url).map_err(heroku::ConnectError::from)?;
                config.retry = options.retry.clone();
                let (client, source) = HerokuPlatform::connect_with(
                    config,
                    options.api_key.as_ref(),
                    options.home.as_deref(),
                )?;
                tracing::debug!("API token from {source:?}");
                let client = Arc::new(client.reporting_retries(options.retries.clone()));
                Ok(Connected {
                    platform: client.clone(),
                    id: url.trim_end_matches('/').to_owned(),
                    heroku: Some(client),
                })
            }
        }
    }
}
