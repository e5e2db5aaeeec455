//! The supervisor's loop: it reads what each app should run from the local platform's
//! database, runs it, and writes back what runs.
//!
//! Every [`POLL`] it looks whether the database changed (`PRAGMA data_version`, so a write from
//! any process or from the server in this one counts; it has a connection of its own), and then
//! reads every app's current release and formation, the restarts and stops asked of it and the
//! one-off dynos to start. For each app it keeps a *current* generation (the dynos of the
//! current release) and, while that one boots, the *previous* one, which keeps serving
//! (Heroku's preboot) until every web dyno of the current one accepts connections on its port;
//! then, after [`SupervisorOptions::drain`], the previous one is stopped. A current generation
//! that never came up is dropped for a newer release and the previous one still serves.
//! A release's slug is unpacked off the loop (`unpack::Slugs`): the release waits for it while
//! the loop goes on; one whose slug cannot be unpacked becomes a current generation whose dynos
//! never start and are `crashed` with the reason, so the previous one goes on serving.
//!
//! A dyno that exits, or a web dyno that does not bind its port within the boot timeout (R10),
//! is `crashed` and started again after a backoff that doubles from
//! [`SupervisorOptions::backoff_first`] up to [`SupervisorOptions::backoff_max`] (a dyno that
//! ran for [`STABLE`] starts over from the first). Stopping sends `SIGTERM` to the dyno's
//! process group and `SIGKILL` after the grace period. Every state change is a
//! `heroku[web.1]: State changed from starting to up` line in the app's log and a row in the
//! database (`Store::record_dyno`), which is how `ps` in any process sees it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tokio::sync::{mpsc, oneshot};

use super::process::{self, Exited, Launch, Spawner};
use super::slot::{
    AfterExit, AppRun, Generation, Slot, accepts, crashed, dyno_env, new_slot, placeholder,
    restart, script, set_state, signal, split_name, stop,
};
use super::unpack::{self, SlugState, Slugs, Unpacked};
use super::{WebDynos, WebState};
use crate::platform::local::dynos::{
    AppPlan, DynoAction, DynoReport, DynoRequest, OneOff, formation_dyno_id,
};
use crate::platform::local::{AppLogs, LocalPlatform, SupervisorInfo, SupervisorLock};
use crate::platform::{DynoState, PlatformError};

/// How often the supervisor looks at its dynos and the database.
pub const POLL: Duration = Duration::from_millis(100);

/// How long the database may go unread though it seems unchanged.
const REREAD: Duration = Duration::from_secs(2);

/// A dyno that ran this long before it crashed restarts after the first backoff again.
pub const STABLE: Duration = Duration::from_secs(10);

/// How the supervisor runs dynos.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// The `slugplan` binary, which each dyno starts as (`slugplan __dyno`, see the launcher).
    pub launcher: PathBuf,
    /// Who the supervisor is, written in the data directory's lock for other processes.
    pub holder: SupervisorInfo,
    /// How long a web dyno may take to accept connections on its port (Heroku's R10: 60 s).
    pub boot_timeout: Duration,
    /// How long a stopped dyno has between `SIGTERM` and `SIGKILL` (Heroku: 30 s).
    pub stop_grace: Duration,
    /// The wait before a crashed dyno's first restart.
    pub backoff_first: Duration,
    /// The longest wait between restarts.
    pub backoff_max: Duration,
    /// How long the previous release's dynos go on once the new ones are up, for the requests
    /// they are answering.
    pub drain: Duration,
    /// The build cache, whose copies of a slug's files (its runtime's) an unpack links
    /// instead of writing them again; `None` writes every file.
    pub cache: Option<PathBuf>,
}

impl SupervisorOptions {
    /// Heroku's timings, for `holder` running dynos through `launcher`.
    pub fn new(launcher: PathBuf, holder: SupervisorInfo) -> SupervisorOptions {
        SupervisorOptions {
            launcher,
            holder,
            boot_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(30),
            backoff_first: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            drain: Duration::from_secs(1),
            cache: None,
        }
    }
}

/// Why the supervisor could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SupervisorError {
    /// The data directory's database or lock (another supervisor runs its dynos).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Platform(#[from] PlatformError),
    /// The thread that spawns dynos could not start.
    #[error("cannot start the thread that spawns dynos")]
    Spawner(#[source] std::io::Error),
}

/// The web dynos of every app, as the supervisor last published them.
#[derive(Debug, Default)]
struct WebTable(Mutex<HashMap<String, WebState>>);

impl WebDynos for WebTable {
    fn web_state(&self, app: &str) -> Option<WebState> {
        crate::sync::lock(&self.0).get(app).cloned()
    }
}

/// The running supervisor of one data directory. Dropping it stops its loop; its dynos end
/// with it (see the launcher), [`Supervisor::shutdown`] stops them gracefully first.
#[derive(Debug)]
pub struct Supervisor {
    web: Arc<WebTable>,
    logs: AppLogs,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Supervisor {
    /// Takes the data directory `data_dir` (one supervisor per directory) and starts running
    /// its apps' current releases.
    pub async fn start(
        data_dir: &Path,
        options: SupervisorOptions,
    ) -> Result<Supervisor, SupervisorError> {
        let platform = LocalPlatform::open(data_dir)?;
        let (dir, holder) = (data_dir.to_owned(), options.holder.clone());
        let lock = platform
            .blocking(move |_| SupervisorLock::acquire(&dir, &holder))
            .await?;
        // Nothing this supervisor did not start runs: what was recorded before is stale.
        platform.blocking(|s| s.forget_all_dynos()).await?;
        let dir = data_dir.to_owned();
        let _ = tokio::task::spawn_blocking(move || unpack::clear(&dir)).await;
        let spawner = Spawner::start().map_err(SupervisorError::Spawner)?;
        let logs = AppLogs::open(data_dir);
        let web = Arc::new(WebTable::default());
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let (unpacked_tx, unpacked) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let slugs = Slugs::new(data_dir.to_owned(), options.cache.clone(), unpacked_tx);
        let supervision = Supervision {
            platform,
            dir: data_dir.to_owned(),
            options,
            spawner,
            logs: logs.clone(),
            web: Arc::clone(&web),
            exits_tx,
            apps: BTreeMap::new(),
            data_version: None,
            last_read: Instant::now(),
            slugs,
            forget: Vec::new(),
            _lock: lock,
        };
        let task = tokio::spawn(supervision.run(exits, unpacked, stopped));
        Ok(Supervisor {
            web,
            logs,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// What the router asks per request.
    pub fn web_dynos(&self) -> Arc<dyn WebDynos> {
        Arc::clone(&self.web) as Arc<dyn WebDynos>
    }

    /// The apps' logs, which the dynos' output and the supervisor's lines go to (the router
    /// appends its request lines to these, in the same process).
    pub fn logs(&self) -> &AppLogs {
        &self.logs
    }

    /// Stops every dyno (`SIGTERM`, `SIGKILL` after the grace period) and the supervisor.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The loop's state.
struct Supervision {
    platform: LocalPlatform,
    dir: PathBuf,
    options: SupervisorOptions,
    spawner: Spawner,
    logs: AppLogs,
    web: Arc<WebTable>,
    exits_tx: mpsc::UnboundedSender<Exited>,
    /// By app id.
    apps: BTreeMap<String, AppRun>,
    data_version: Option<i64>,
    last_read: Instant,
    /// The slugs unpacked, being unpacked off the loop, or that cannot be.
    slugs: Slugs,
    /// Dynos gone, to forget in the database.
    forget: Vec<String>,
    _lock: SupervisorLock,
}

impl Supervision {
    async fn run(
        mut self,
        mut exits: mpsc::UnboundedReceiver<Exited>,
        mut unpacked: mpsc::UnboundedReceiver<Unpacked>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(exit) = exits.recv() => self.exited(exit),
                Some(done) = unpacked.recv() => {
                    self.slugs.finished(done);
                    // Read the plans again at the next tick: a release waits for this slug.
                    self.data_version = None;
                }
                _ = tick.tick() => self.tick().await,
            }
        }
        self.stop_everything(&mut exits).await;
    }

    async fn tick(&mut self) {
        if let Err(err) = self.read_platform().await {
            tracing::warn!(error = %crate::error_chain::one_line(&err), "the supervisor cannot read the local platform");
        }
        self.advance().await;
        self.sweep();
        self.publish();
        self.record().await;
    }

    /// Reads plans, requests and one-offs when the database changed.
    async fn read_platform(&mut self) -> Result<(), PlatformError> {
        let version = self.platform.blocking(|s| s.data_version()).await?;
        if self.data_version == Some(version) && self.last_read.elapsed() < REREAD {
            return Ok(());
        }
        self.data_version = Some(version);
        self.last_read = Instant::now();
        let (plans, requests, one_offs) = self
            .platform
            .blocking(|s| Ok((s.plans()?, s.take_dyno_requests()?, s.take_one_offs()?)))
            .await?;
        let known: HashSet<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        for app in self.apps.values_mut() {
            if !known.contains(app.id.as_str()) && !app.deleted {
                app.deleted = true;
                let generations = [app.current.take(), app.previous.take()];
                for generation in generations.into_iter().flatten() {
                    app.retire(generation);
                }
                let one_offs = std::mem::take(&mut app.one_offs);
                app.retiring.extend(one_offs);
            }
        }
        for plan in plans {
            self.reconcile(plan);
        }
        for request in requests {
            self.apply_request(&request);
        }
        for one_off in one_offs {
            self.add_one_off(one_off);
        }
        Ok(())
    }

    /// Brings `plan`'s app to its current release and formation. A release whose slug is not
    /// unpacked yet waits for it (the release before it goes on meanwhile); its unpacking runs
    /// off the loop.
    fn reconcile(&mut self, plan: AppPlan) {
        let app = self.apps.entry(plan.id.clone()).or_insert_with(|| AppRun {
            id: plan.id.clone(),
            name: plan.name.clone(),
            current: None,
            previous: None,
            retire_at: None,
            one_offs: Vec::new(),
            retiring: Vec::new(),
            web_unpacking: false,
            deleted: false,
        });
        app.deleted = false;
        app.web_unpacking = false;
        if app.name != plan.name {
            // Renamed: its log goes along (the dynos keep their processes).
            self.logs.rename(&app.name, &plan.name);
            app.name.clone_from(&plan.name);
        }
        let Some(release) = plan.release else {
            let generations = [app.current.take(), app.previous.take()];
            for generation in generations.into_iter().flatten() {
                app.retire(generation);
            }
            return;
        };
        let is_current = app
            .current
            .as_ref()
            .is_some_and(|g| g.release_id == release.id);
        let unpacked = match &release.blob_sha256 {
            Some(sha256) if !is_current => {
                let archive = self.platform.store().blob_path(sha256);
                match self.slugs.state(sha256, archive) {
                    SlugState::Unpacking => {
                        app.web_unpacking = plan.formation.get("web").is_some_and(|(n, _)| *n > 0);
                        None
                    }
                    SlugState::Ready(app_dir) => Some((sha256.clone(), Ok(app_dir.clone()))),
                    SlugState::Failed(detail) => Some((sha256.clone(), Err(detail.clone()))),
                }
            }
            _ => None,
        };
        if let Some((sha256, unpacked)) = unpacked {
            if let Err(detail) = &unpacked {
                self.logs.append(
                    &app.name,
                    "heroku",
                    "api",
                    &format!("Release v{} cannot run: {detail}", release.version),
                );
            }
            // What serves now goes on until the new release is up; a release that never came
            // up is dropped, and the one before it still serves.
            match app.current.take() {
                Some(current) if current.serving() => {
                    if let Some(older) = app.previous.replace(current) {
                        app.retire(older);
                    }
                }
                Some(current) => app.retire(current),
                None => {}
            }
            app.retire_at = None;
            let (app_dir, failed) = match unpacked {
                Ok(app_dir) => (app_dir, None),
                Err(detail) => (PathBuf::new(), Some(detail)),
            };
            app.current = Some(Generation {
                release_id: release.id.clone(),
                slots: Vec::new(),
                sha256,
                app_dir,
                config: release.config.clone(),
                process_types: release.process_types.clone(),
                failed,
            });
        }
        let Some(current) = app.current.as_mut() else {
            return;
        };
        let mut gone = Vec::new();
        current.slots.retain_mut(|slot| {
            let (process_type, n) = split_name(&slot.name);
            let wanted = plan
                .formation
                .get(process_type)
                .is_some_and(|(quantity, _)| n <= *quantity);
            if !wanted {
                gone.push(std::mem::replace(slot, placeholder()));
            }
            wanted
        });
        for (process_type, (quantity, size)) in &plan.formation {
            let Some(command) = current.process_types.get(process_type) else {
                continue;
            };
            for n in 1..=*quantity {
                let name = format!("{process_type}.{n}");
                if let Some(slot) = current.slots.iter_mut().find(|s| s.name == name) {
                    slot.size.clone_from(size);
                    continue;
                }
                let env = dyno_env(&current.config, &name, &current.app_dir);
                let mut slot = Slot {
                    id: formation_dyno_id(&app.id, &current.release_id, &name),
                    name,
                    process_type: process_type.clone(),
                    command: command.clone(),
                    size: size.clone(),
                    release_id: current.release_id.clone(),
                    sha256: current.sha256.clone(),
                    app_dir: current.app_dir.clone(),
                    env,
                    one_off: false,
                    ..new_slot()
                };
                if let Some(detail) = &current.failed {
                    // Nothing to run it from: crashed for good, as `ps` shows.
                    slot.start_at = None;
                    let detail = Some(detail.clone());
                    set_state(&mut slot, DynoState::Crashed, detail, &self.logs, &app.name);
                }
                current.slots.push(slot);
            }
        }
        app.retiring.extend(gone);
    }

    /// Restarts or stops the dynos `request` names (of the current release, and one-offs).
    fn apply_request(&mut self, request: &DynoRequest) {
        let Some(app) = self.apps.get_mut(&request.app_id) else {
            return;
        };
        let matches = |slot: &Slot| match request.target.as_deref() {
            None => true,
            Some(target) => slot.name == target || slot.process_type == target,
        };
        let name = app.name.clone();
        // A release whose slug cannot be unpacked has nothing to restart.
        let current = app.current.iter_mut().filter(|g| g.failed.is_none());
        let current = current.flat_map(|g| g.slots.iter_mut());
        for slot in current.filter(|s| matches(s)) {
            // Heroku starts a stopped formation dyno again: both are a restart here.
            restart(slot, &self.logs, &name);
        }
        for slot in app.one_offs.iter_mut().filter(|s| matches(s)) {
            stop(slot, AfterExit::Remove, &self.logs, &name);
        }
        if request.action == DynoAction::Stop {
            tracing::debug!(app = %name, target = ?request.target, "dynos stopped");
        }
    }

    /// Starts the one-off dyno `one_off` with its app's current release.
    fn add_one_off(&mut self, one_off: OneOff) {
        let Some(app) = self.apps.get_mut(&one_off.app_id) else {
            self.forget.push(one_off.id);
            return;
        };
        let Some(current) = app.current.as_ref().filter(|g| g.failed.is_none()) else {
            self.logs.append(
                &app.name,
                "heroku",
                &one_off.name,
                "Error: the app runs no release to start this dyno from",
            );
            self.forget.push(one_off.id);
            return;
        };
        let mut env = dyno_env(&current.config, &one_off.name, &current.app_dir);
        env.extend(one_off.params.env.clone());
        let now = Instant::now();
        app.one_offs.push(Slot {
            id: one_off.id,
            name: one_off.name,
            process_type: crate::platform::local::dynos::ONE_OFF_TYPE.to_owned(),
            command: one_off.params.command,
            size: one_off
                .params
                .size
                .unwrap_or_else(|| crate::dyno::DEFAULT_SIZE.to_owned()),
            release_id: current.release_id.clone(),
            sha256: current.sha256.clone(),
            app_dir: current.app_dir.clone(),
            env,
            one_off: true,
            deadline: one_off
                .params
                .time_to_live
                .map(|secs| now + Duration::from_secs(secs)),
            ..new_slot()
        });
    }

    /// Starts what is due, watches boots, escalates stops, retires what the new release
    /// replaced.
    async fn advance(&mut self) {
        let now = Instant::now();
        let mut to_start = Vec::new();
        for app in self.apps.values_mut() {
            let (name, app_id) = (app.name.clone(), app.id.clone());
            for slot in app.slots_mut() {
                if slot.removed {
                    continue;
                }
                let started = slot.run.as_ref().map(|r| r.started);
                match started {
                    None => {
                        if slot.after_exit == AfterExit::Remove {
                            slot.removed = true;
                        } else if slot.start_at.is_some_and(|at| at <= now) {
                            slot.start_at = None;
                            to_start.push((app_id.clone(), slot.id.clone()));
                        }
                    }
                    Some(started) => {
                        if slot.state == DynoState::Starting && slot.stop_sent.is_none() {
                            if !slot.is_web() || slot.port.is_some_and(accepts) {
                                set_state(slot, DynoState::Up, None, &self.logs, &name);
                            } else if started.elapsed() > self.options.boot_timeout {
                                let secs = self.options.boot_timeout.as_secs();
                                self.logs.append(&name, "heroku", &slot.name, &format!(
                                    "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within {secs} seconds of launch"
                                ));
                                self.logs.append(
                                    &name,
                                    "heroku",
                                    &slot.name,
                                    "Stopping process with SIGKILL",
                                );
                                signal(slot, Signal::KILL);
                                slot.boot_timed_out = true;
                                slot.killed = true;
                            }
                        }
                        if let Some(sent) = slot.stop_sent
                            && !slot.killed
                            && sent.elapsed() > self.options.stop_grace
                        {
                            self.logs.append(&name, "heroku", &slot.name, &format!(
                                "Error R12 (Exit timeout) -> At least one process failed to exit within {} seconds of SIGTERM",
                                self.options.stop_grace.as_secs()
                            ));
                            self.logs.append(
                                &name,
                                "heroku",
                                &slot.name,
                                "Stopping remaining processes with SIGKILL",
                            );
                            signal(slot, Signal::KILL);
                            slot.killed = true;
                        }
                        if slot.deadline.is_some_and(|at| at <= now) && slot.stop_sent.is_none() {
                            stop(slot, AfterExit::Remove, &self.logs, &name);
                        }
                    }
                }
            }
            if let Some(current) = &app.current
                && app.previous.is_some()
                && current.booted()
            {
                let at = *app.retire_at.get_or_insert(now + self.options.drain);
                if at <= now
                    && let Some(previous) = app.previous.take()
                {
                    app.retire(previous);
                    app.retire_at = None;
                }
            }
            for slot in &mut app.retiring {
                if slot.after_exit != AfterExit::Remove || slot.stop_sent.is_none() {
                    stop(slot, AfterExit::Remove, &self.logs, &name);
                }
            }
        }
        for (app_id, slot_id) in to_start {
            self.start(&app_id, &slot_id).await;
        }
    }

    /// Starts the dyno `slot_id` of `app_id`.
    async fn start(&mut self, app_id: &str, slot_id: &str) {
        let Some(app) = self.apps.get_mut(app_id) else {
            return;
        };
        let name = app.name.clone();
        let Some(slot) = app.slots_mut().find(|s| s.id == slot_id) else {
            return;
        };
        let port = match process::free_port() {
            Ok(port) => port,
            Err(err) => {
                crashed(
                    slot,
                    format!("no free port: {err}"),
                    &self.options,
                    &self.logs,
                    &name,
                );
                return;
            }
        };
        let mut env = slot.env.clone();
        env.insert("PORT".to_owned(), port.to_string());
        self.logs.append(
            &name,
            "heroku",
            &slot.name,
            &format!("Starting process with command `{}`", slot.command),
        );
        let launch = Launch {
            app: &name,
            dyno: &slot.name,
            script: script(&slot.command),
            app_dir: &slot.app_dir,
            env,
        };
        match process::start(
            &self.spawner,
            &self.options.launcher,
            launch,
            &self.logs,
            &self.exits_tx,
        )
        .await
        {
            Ok(running) => {
                slot.run = Some(running);
                slot.port = Some(port);
                slot.after_exit = AfterExit::Crash;
                slot.stop_sent = None;
                slot.killed = false;
                slot.boot_timed_out = false;
                set_state(slot, DynoState::Starting, None, &self.logs, &name);
                // Only a web dyno has a port to wait for.
                if !slot.is_web() {
                    set_state(slot, DynoState::Up, None, &self.logs, &name);
                }
            }
            Err(err) => {
                let detail = format!("cannot start: {err}");
                crashed(slot, detail, &self.options, &self.logs, &name);
            }
        }
    }

    /// A dyno's process exited.
    fn exited(&mut self, exit: Exited) {
        for app in self.apps.values_mut() {
            let name = app.name.clone();
            let Some(slot) = app
                .slots_mut()
                .find(|s| s.run.as_ref().is_some_and(|r| r.pid == exit.pid))
            else {
                continue;
            };
            let ran = slot.run.take().map(|r| r.started.elapsed());
            self.logs.append(
                &name,
                "heroku",
                &slot.name,
                &format!("Process exited with status {}", exit.code),
            );
            match slot.after_exit {
                AfterExit::Remove => {
                    if slot.one_off {
                        set_state(slot, DynoState::Down, None, &self.logs, &name);
                    }
                    slot.removed = true;
                }
                AfterExit::Restart => {
                    slot.crashes = 0;
                    slot.start_at = Some(Instant::now());
                }
                AfterExit::Crash if slot.one_off => {
                    self.logs.append(
                        &name,
                        "heroku",
                        &slot.name,
                        &format!("State changed from {} to complete", slot.state),
                    );
                    slot.removed = true;
                }
                AfterExit::Crash => {
                    if ran.is_some_and(|ran| ran >= STABLE) {
                        slot.crashes = 0;
                    }
                    let detail = if slot.boot_timed_out {
                        "Error R10 (Boot timeout)".to_owned()
                    } else {
                        format!("Process exited with status {}", exit.code)
                    };
                    crashed(slot, detail, &self.options, &self.logs, &name);
                }
            }
            return;
        }
    }

    /// Drops the dynos that are gone, and the unpacked slugs no dyno uses any more.
    fn sweep(&mut self) {
        for app in self.apps.values_mut() {
            let mut sweep = |slots: &mut Vec<Slot>| {
                slots.retain(|slot| {
                    if slot.removed {
                        self.forget.push(slot.id.clone());
                    }
                    !slot.removed
                });
            };
            for generation in [&mut app.current, &mut app.previous].into_iter().flatten() {
                sweep(&mut generation.slots);
            }
            sweep(&mut app.one_offs);
            sweep(&mut app.retiring);
        }
        let logs = &self.logs;
        self.apps.retain(|_, app| {
            let gone = app.deleted && app.slots().next().is_none();
            if gone {
                // Deleted, and its last dyno stopped: its log goes too.
                logs.remove(&app.name);
            }
            !gone
        });
        let used: HashSet<&str> = self
            .apps
            .values()
            .flat_map(|app| {
                let generations = app.current.iter().chain(app.previous.iter());
                generations
                    .map(|g| g.sha256.as_str())
                    .chain(app.slots().map(|s| s.sha256.as_str()))
                    .collect::<Vec<_>>()
            })
            .collect();
        self.slugs.forget_unused(&used);
    }

    /// Publishes every app's web dynos for the router.
    fn publish(&self) {
        let table: HashMap<String, WebState> = self
            .apps
            .values()
            .filter(|app| !app.deleted)
            .map(|app| (app.name.clone(), app.web_state()))
            .collect();
        *crate::sync::lock(&self.web.0) = table;
    }

    /// Writes the dynos whose state changed, and forgets those gone, in the database.
    async fn record(&mut self) {
        let mut reports = Vec::new();
        for app in self.apps.values_mut() {
            let app_id = app.id.clone();
            for slot in app.slots_mut().filter(|s| !s.removed) {
                let now = (slot.state, slot.port, slot.detail.clone());
                if slot.recorded.as_ref() == Some(&now) {
                    continue;
                }
                slot.recorded = Some(now);
                reports.push(DynoReport {
                    id: slot.id.clone(),
                    app_id: app_id.clone(),
                    name: slot.name.clone(),
                    process_type: slot.process_type.clone(),
                    release_id: slot.release_id.clone(),
                    command: slot.command.clone(),
                    size: slot.size.clone(),
                    state: slot.state,
                    detail: slot.detail.clone(),
                    port: slot.port,
                    one_off: slot.one_off,
                });
            }
        }
        let forget = std::mem::take(&mut self.forget);
        if reports.is_empty() && forget.is_empty() {
            return;
        }
        let written = self
            .platform
            .blocking(move |s| {
                for id in &forget {
                    s.forget_dyno(id)?;
                }
                for report in &reports {
                    s.record_dyno(report)?;
                }
                Ok(())
            })
            .await;
        if let Err(err) = written {
            tracing::warn!(error = %crate::error_chain::one_line(&err), "the supervisor cannot record its dynos");
        }
    }

    /// Stops every dyno: `SIGTERM`, then `SIGKILL` after the grace period.
    async fn stop_everything(&mut self, exits: &mut mpsc::UnboundedReceiver<Exited>) {
        for app in self.apps.values_mut() {
            let name = app.name.clone();
            for slot in app.slots_mut() {
                stop(slot, AfterExit::Remove, &self.logs, &name);
            }
        }
        let deadline = Instant::now() + self.options.stop_grace;
        let mut killed = false;
        loop {
            let running = self
                .apps
                .values()
                .flat_map(AppRun::slots)
                .any(|s| s.run.is_some());
            if !running {
                break;
            }
            if Instant::now() >= deadline {
                if killed {
                    break;
                }
                for slot in self.apps.values_mut().flat_map(AppRun::slots_mut) {
                    if let Some(run) = &slot.run {
                        run.signal(Signal::KILL);
                    }
                }
                killed = true;
            }
            let wait = if killed {
                Duration::from_secs(2)
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            match tokio::time::timeout(wait, exits.recv()).await {
                Ok(Some(exit)) => self.exited(exit),
                Ok(None) => break,
                Err(_) if killed => break,
                Err(_) => {}
            }
        }
        if let Err(err) = self.platform.blocking(|s| s.forget_all_dynos()).await {
            tracing::warn!(error = %crate::error_chain::one_line(&err), "the supervisor cannot forget its dynos");
        }
        let dir = self.dir.clone();
        let _ = tokio::task::spawn_blocking(move || unpack::clear(&dir)).await;
    }
}
