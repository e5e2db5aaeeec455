//! The session: what a command works with, opened from the resolved settings lazily and once.
//!
//! A command asks its [`Session`] for what it needs (the manifest or the whole workspace, the
//! cache, the platform connection, the state, the apply lock); each is opened the first time
//! it is asked for, the same way for every command, and kept until the command ends. Nothing
//! is opened that the command does not ask for, so `slugplan graph` never touches the cache
//! and `slugplan releases` never the apply lock; what a command asks for first is what it
//! fails on first.
//!
//! The async runtime is not here: the entry point builds the one runtime and runs the command
//! on it ([`crate::run`]).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};

use crate::cache::{Cache, CacheError};
use crate::cli::printer::Printer;
use crate::cli::reporters::retry::RetryLines;
use crate::cli::settings::GlobalSettings;
use crate::manifest::{self, LoadedManifest, ManifestError, StateBackend};
use crate::ops::deploy::Deploy;
use crate::state::{self, ApplyLock, Location, LockHolder, State, StateError};
use crate::workspace::{ConnectError, Connected, Workspace, WorkspaceError};

use super::shared;

/// Errors opening what a command needs.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SessionError {
    /// The manifest is unreadable or invalid, or its steps form a cycle.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Workspace(#[from] WorkspaceError),
    /// The cache cannot be located or locked.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] CacheError),
    /// The platform cannot be reached.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Connect(#[from] ConnectError),
    /// The state cannot be found or opened, or another apply holds the lock.
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}

/// What a command works with: the settings, and what they open.
pub struct Session {
    settings: GlobalSettings,
    command_line: OnceLock<String>,
    // Fields drop in declaration order: the state, the connection and the cache close before
    // the apply lock is released, as they did when each command held them itself.
    state: OnceCell<Box<dyn State>>,
    connected: OnceLock<Connected>,
    cache: OnceLock<Cache>,
    apply_lock: Mutex<Option<ApplyLock>>,
    workspace: OnceLock<Workspace>,
    manifest: OnceLock<LoadedManifest>,
}

impl Session {
    /// A session that opens what it is asked for as `settings` say.
    pub fn new(settings: GlobalSettings) -> Self {
        Session {
            settings,
            command_line: OnceLock::new(),
            state: OnceCell::new(),
            connected: OnceLock::new(),
            cache: OnceLock::new(),
            apply_lock: Mutex::new(None),
            workspace: OnceLock::new(),
            manifest: OnceLock::new(),
        }
    }

    /// The resolved settings.
    pub fn settings(&self) -> &GlobalSettings {
        &self.settings
    }

    /// Where output goes.
    pub fn printer(&self) -> Printer {
        self.settings.printer
    }

    /// The command line, as the apply lock and the audit log record it.
    pub fn command_line(&self) -> &str {
        self.command_line.get_or_init(shared::command_line)
    }

    /// The manifest alone, for commands that neither plan nor deploy (no desired state, no
    /// graph): the workspace's when it is open.
    pub fn manifest(&self) -> Result<&LoadedManifest, ManifestError> {
        if let Some(workspace) = self.workspace.get() {
            return Ok(&workspace.loaded);
        }
        once(&self.manifest, || manifest::load(&self.settings.manifest))
    }

    /// The manifest with its desired state and step graph.
    pub fn workspace(&self) -> Result<&Workspace, WorkspaceError> {
        once(&self.workspace, || match self.manifest.get() {
            Some(loaded) => Workspace::from_loaded(loaded.clone()),
            None => Workspace::open(&self.settings.manifest),
        })
    }

    /// The cache, held with a shared lock until the command ends (so `slugplan cache prune`
    /// waits for it). Blocks while a prune runs.
    pub fn cache(&self) -> Result<&Cache, CacheError> {
        once(&self.cache, || self.cache_unlocked()?.with_shared_lock())
    }

    /// The cache without a lock, for `slugplan cache` itself (which locks as it needs).
    pub fn cache_unlocked(&self) -> Result<Cache, CacheError> {
        Ok(Cache::new(self.settings.cache_root()?))
    }

    /// The connection to the manifest's platform.
    pub fn connected(&self) -> Result<&Connected, SessionError> {
        let workspace = self.workspace()?;
        once(&self.connected, || {
            let mut options = self
                .settings
                .connect_options(&workspace.loaded.manifest.platform);
            options.retries = Arc::new(RetryLines::new(self.printer()));
            Ok(workspace.connect(&options)?)
        })
    }

    /// Where the manifest's state lives with `backend` (the configured one is
    /// [`Session::state_backend`]).
    pub fn state_location(&self, backend: StateBackend) -> Result<Location, SessionError> {
        let workspace = self.workspace()?;
        Ok(self
            .settings
            .state_location(&workspace.loaded, workspace.state_dir(), backend)?)
    }

    /// The backend slug.toml's `[state]` chooses.
    pub fn state_backend(&self) -> Result<StateBackend, SessionError> {
        Ok(self.workspace()?.loaded.manifest.state.backend)
    }

    /// slugplan's state, in the backend the manifest chooses, opened (and migrated) once.
    pub async fn state(&self) -> Result<&dyn State, SessionError> {
        let state = self
            .state
            .get_or_try_init(|| async {
                let location = self.state_location(self.state_backend()?)?;
                tracing::debug!("state: {location}");
                Ok::<_, SessionError>(state::open(&location).await?)
            })
            .await?;
        Ok(state.as_ref())
    }

    /// The state at `backend`, opened for this call alone (`slugplan state migrate` reads one
    /// backend and writes the other).
    pub async fn open_state(&self, backend: StateBackend) -> Result<Box<dyn State>, SessionError> {
        Ok(state::open(&self.state_location(backend)?).await?)
    }

    /// Who this process is, as the apply lock records it.
    pub fn lock_holder(&self) -> LockHolder {
        LockHolder::this_process(self.command_line(), self.settings.ci_job.clone())
    }

    /// Takes the apply lock for the rest of the command, waiting up to `timeout` for another
    /// holder; a second call keeps the lock already held.
    pub async fn lock_applies(&self, timeout: Duration) -> Result<(), SessionError> {
        let mut held = self.apply_lock.lock().await;
        if held.is_none() {
            let state = self.state().await?;
            *held = Some(state.lock_applies(&self.lock_holder(), timeout).await?);
        }
        Ok(())
    }

    /// Releases what must be released while the runtime still runs: the apply lock, whose
    /// holder record is cleared (a lock merely dropped is released all the same, by the
    /// system, when the process or its connection ends).
    pub async fn close(&self) {
        if let Some(lock) = self.apply_lock.lock().await.take() {
            lock.release().await;
        }
    }

    /// What planning and applying need, opened in this order: the workspace, the cache, the
    /// platform, the state.
    pub async fn deploy(&self) -> Result<Deploy<'_>, SessionError> {
        let workspace = self.workspace()?;
        let cache = self.cache()?;
        Ok(Deploy {
            workspace,
            connected: self.connected()?,
            state: self.state().await?,
            cache,
            env: self.settings.env(),
        })
    }
}

/// The value in `cell`, made by `init` if the cell is empty. A failed `init` leaves the cell
/// empty, so the error is the caller's to report.
fn once<T, E>(cell: &OnceLock<T>, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = init()?;
    Ok(cell.get_or_init(|| value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{ColorChoice, GlobalArgs};
    use crate::cli::settings::Env;

    /// A session on an empty manifest (the local platform) in a temp dir, with no cache
    /// location: nothing that needs the cache can succeed.
    fn session(dir: &tempfile::TempDir) -> Session {
        let manifest = dir.path().join("slug.toml");
        std::fs::write(&manifest, "").unwrap();
        let args = GlobalArgs {
            manifest,
            verbose: 0,
            quiet: true,
            color: ColorChoice::Never,
            cache_dir: None,
            retry_timeout: None,
        };
        Session::new(GlobalSettings::resolve(&args, &Env::default()))
    }

    #[tokio::test]
    async fn what_a_command_asks_for_is_opened_once() {
        let dir = tempfile::tempdir().unwrap();
        let session = session(&dir);
        let loaded = session.manifest().unwrap().path.clone();
        // The workspace takes over the manifest loaded alone, and serves it from then on.
        let workspace = session.workspace().unwrap();
        assert_eq!(workspace.loaded.path, loaded);
        assert!(std::ptr::eq(session.workspace().unwrap(), workspace));
        assert!(std::ptr::eq(session.manifest().unwrap(), &workspace.loaded));
        let state = session.state().await.unwrap();
        assert!(std::ptr::addr_eq(session.state().await.unwrap(), state));
        let connected = session.connected().unwrap();
        assert!(std::ptr::eq(session.connected().unwrap(), connected));
    }

    #[tokio::test]
    async fn the_apply_lock_is_taken_once_and_held_until_the_session_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = session(&dir);
        first.lock_applies(Duration::ZERO).await.unwrap();
        // Asking again keeps the lock held rather than contending with it.
        first.lock_applies(Duration::ZERO).await.unwrap();
        let second = session(&dir);
        assert!(
            second.lock_applies(Duration::ZERO).await.is_err(),
            "held by the first"
        );
        first.close().await;
        second.lock_applies(Duration::ZERO).await.unwrap();
        drop(second);
        let third = session(&dir);
        third.lock_applies(Duration::ZERO).await.unwrap();
    }

    #[tokio::test]
    async fn nothing_is_opened_that_is_not_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let session = session(&dir);
        // No cache location: asking for the cache fails, but the workspace, the state and
        // the platform do not need it.
        assert!(matches!(session.cache(), Err(CacheError::NoLocation)));
        session.connected().unwrap();
        session.state().await.unwrap();
        assert!(session.cache.get().is_none());
        assert!(session.apply_lock.lock().await.is_none());
        assert!(!dir.path().join(".slugplan/state/apply.lock").exists());
    }
}
