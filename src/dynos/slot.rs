//! The dynos the supervisor keeps and what happens to one: a [`Slot`] per dyno, the dynos of
//! one release ([`Generation`]), what runs for an app ([`AppRun`]: its current generation,
//! the previous one while the current one boots, its one-off dynos and those being stopped),
//! and the state changes of a dyno (crashed with a doubling backoff, stopped, restarted), each
//! a `heroku[web.1]: State changed …` line in the app's log. The loop that drives them is
//! `supervisor.rs`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::process::Running;
use super::supervisor::SupervisorOptions;
use super::{WebDyno, WebState};
use crate::platform::DynoState;
use crate::platform::local::AppLogs;

/// Heroku's `PATH` for a dyno whose config vars set none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What to do once a dyno's process has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterExit {
    /// It crashed (it was not asked to stop): restart after the backoff.
    Crash,
    /// Start it again at once (a restart asked for).
    Restart,
    /// It is no longer wanted: forget it.
    Remove,
}

/// One dyno the supervisor keeps.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) process_type: String,
    pub(super) command: String,
    pub(super) size: String,
    pub(super) release_id: String,
    /// The unpacked slug it runs (its hex SHA-256) and that slug's `app` folder.
    pub(super) sha256: String,
    pub(super) app_dir: PathBuf,
    /// Its environment but `PORT`.
    pub(super) env: BTreeMap<String, String>,
    pub(super) one_off: bool,
    pub(super) state: DynoState,
    pub(super) detail: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) run: Option<Running>,
    pub(super) after_exit: AfterExit,
    /// When `SIGTERM` went, and whether `SIGKILL` did.
    pub(super) stop_sent: Option<Instant>,
    pub(super) killed: bool,
    pub(super) boot_timed_out: bool,
    pub(super) crashes: u32,
    /// When to start it (next).
    pub(super) start_at: Option<Instant>,
    /// When a one-off dyno's time to live ends.
    pub(super) deadline: Option<Instant>,
    pub(super) removed: bool,
    pub(super) recorded: Option<(DynoState, Option<u16>, Option<String>)>,
}

impl Slot {
    pub(super) fn is_web(&self) -> bool {
        self.process_type == "web" && !self.one_off
    }
}

/// The dynos of one release of an app.
#[derive(Debug)]
pub(super) struct Generation {
    pub(super) release_id: String,
    pub(super) slots: Vec<Slot>,
    /// What its dynos start with.
    pub(super) sha256: String,
    pub(super) app_dir: PathBuf,
    pub(super) config: BTreeMap<String, String>,
    pub(super) process_types: BTreeMap<String, String>,
    /// Why its slug cannot be unpacked: then its dynos never start and are `crashed` with
    /// this detail, and the previous generation goes on serving.
    pub(super) failed: Option<String>,
}

impl Generation {
    pub(super) fn serving(&self) -> bool {
        self.slots.iter().any(|s| s.state == DynoState::Up)
    }

    /// Every web dyno is up (or it has none, and every dyno is).
    pub(super) fn booted(&self) -> bool {
        let web: Vec<&Slot> = self.slots.iter().filter(|s| s.is_web()).collect();
        if web.is_empty() {
            self.slots.iter().all(|s| s.state == DynoState::Up)
        } else {
            web.iter().all(|s| s.state == DynoState::Up)
        }
    }
}

/// What the supervisor runs for one app.
#[derive(Debug)]
pub(super) struct AppRun {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) current: Option<Generation>,
    pub(super) previous: Option<Generation>,
    /// When the previous generation is stopped (set once the current one has booted).
    pub(super) retire_at: Option<Instant>,
    pub(super) one_offs: Vec<Slot>,
    /// Dynos being stopped for good.
    pub(super) retiring: Vec<Slot>,
    /// The release to run next waits for its slug to be unpacked, and its formation has web
    /// dynos: to the router the app is starting (a request waits, as for booting dynos),
    /// not without web processes.
    pub(super) web_unpacking: bool,
    /// The formation's web quantity, for telling "no web dynos" from "crashed".
    pub(super) deleted: bool,
}

impl AppRun {
    pub(super) fn slots_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        let current = self.current.iter_mut().flat_map(|g| g.slots.iter_mut());
        let previous = self.previous.iter_mut().flat_map(|g| g.slots.iter_mut());
        current
            .chain(previous)
            .chain(self.one_offs.iter_mut())
            .chain(self.retiring.iter_mut())
    }

    pub(super) fn slots(&self) -> impl Iterator<Item = &Slot> {
        let current = self.current.iter().flat_map(|g| g.slots.iter());
        let previous = self.previous.iter().flat_map(|g| g.slots.iter());
        current
            .chain(previous)
            .chain(self.one_offs.iter())
            .chain(self.retiring.iter())
    }

    /// Moves every dyno of `generation` to the ones being stopped.
    pub(super) fn retire(&mut self, generation: Generation) {
        self.retiring.extend(generation.slots);
    }

    pub(super) fn web_state(&self) -> WebState {
        let up = |g: &Generation| -> Vec<WebDyno> {
            g.slots
                .iter()
                .filter(|s| s.is_web() && s.state == DynoState::Up)
                .filter_map(|s| {
                    Some(WebDyno {
                        name: s.name.clone(),
                        addr: SocketAddr::from(([127, 0, 0, 1], s.port?)),
                    })
                })
                .collect()
        };
        let current_web: Vec<&Slot> = self
            .current
            .iter()
            .flat_map(|g| g.slots.iter())
            .filter(|s| s.is_web())
            .collect();
        let current_up = self.current.as_ref().map(up).unwrap_or_default();
        if !current_web.is_empty() && current_up.len() == current_web.len() {
            return WebState::Up(current_up);
        }
        let previous_up = self.previous.as_ref().map(up).unwrap_or_default();
        if !previous_up.is_empty() {
            return WebState::Up(previous_up);
        }
        if !current_up.is_empty() {
            return WebState::Up(current_up);
        }
        if self.web_unpacking || current_web.iter().any(|s| s.state == DynoState::Starting) {
            WebState::Starting
        } else if current_web.iter().any(|s| s.state == DynoState::Crashed) {
            WebState::Crashed
        } else {
            WebState::NoWebDynos
        }
    }
}

/// A slot with nothing in it yet, starting as soon as the loop gets to it.
pub(super) fn new_slot() -> Slot {
    Slot {
        id: String::new(),
        name: String::new(),
        process_type: String::new(),
        command: String::new(),
        size: String::new(),
        release_id: String::new(),
        sha256: String::new(),
        app_dir: PathBuf::new(),
        env: BTreeMap::new(),
        one_off: false,
        state: DynoState::Starting,
        detail: None,
        port: None,
        run: None,
        after_exit: AfterExit::Crash,
        stop_sent: None,
        killed: false,
        boot_timed_out: false,
        crashes: 0,
        start_at: Some(Instant::now()),
        deadline: None,
        removed: false,
        recorded: None,
    }
}

/// What a slot taken out of a list leaves behind for the moment before the list drops it.
pub(super) fn placeholder() -> Slot {
    Slot {
        removed: true,
        start_at: None,
        ..new_slot()
    }
}

/// `web.2` → (`web`, 2).
pub(super) fn split_name(name: &str) -> (&str, u32) {
    match name.rsplit_once('.') {
        Some((process_type, n)) => (process_type, n.parse().unwrap_or(0)),
        None => (name, 0),
    }
}

/// A dyno's environment but `PORT`: the release's config vars, then what the platform sets.
pub(super) fn dyno_env(
    config: &BTreeMap<String, String>,
    dyno: &str,
    app_dir: &Path,
) -> BTreeMap<String, String> {
    let mut env = config.clone();
    env.entry("PATH".to_owned())
        .or_insert_with(|| DEFAULT_PATH.to_owned());
    env.insert("DYNO".to_owned(), dyno.to_owned());
    env.insert("PS".to_owned(), dyno.to_owned());
    env.insert("HOME".to_owned(), app_dir.display().to_string());
    env
}

/// The script a dyno's shell runs: the slug's `.profile.d/*.sh` sourced first, as on Heroku,
/// then the command.
pub(super) fn script(command: &str) -> String {
    format!("for f in .profile.d/*.sh; do [ -r \"$f\" ] && . \"$f\"; done; unset f\n{command}")
}

/// Whether something accepts connections on `port` of loopback now.
pub(super) fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok()
}

/// Sends `signal` to `slot`'s process group, if it runs.
pub(super) fn signal(slot: &Slot, signal: Signal) {
    if let Some(running) = &slot.run {
        running.signal(signal);
    }
}

/// Changes `slot`'s state, saying so in the app's log.
pub(super) fn set_state(
    slot: &mut Slot,
    state: DynoState,
    detail: Option<String>,
    logs: &AppLogs,
    app: &str,
) {
    if slot.state != state {
        logs.append(
            app,
            "heroku",
            &slot.name,
            &format!("State changed from {} to {state}", slot.state),
        );
        slot.state = state;
    }
    slot.detail = detail;
}

/// `slot` crashed for `detail`: it starts again after the backoff.
pub(super) fn crashed(
    slot: &mut Slot,
    detail: String,
    options: &SupervisorOptions,
    logs: &AppLogs,
    app: &str,
) {
    slot.crashes += 1;
    let doubling = 2u32.saturating_pow(slot.crashes.saturating_sub(1).min(16));
    let wait = options
        .backoff_first
        .saturating_mul(doubling)
        .min(options.backoff_max);
    slot.start_at = Some(Instant::now() + wait);
    set_state(slot, DynoState::Crashed, Some(detail), logs, app);
}

/// Asks `slot` to stop (`SIGTERM` to its group), then to do `after`.
pub(super) fn stop(slot: &mut Slot, after: AfterExit, logs: &AppLogs, app: &str) {
    slot.after_exit = after;
    match &slot.run {
        Some(running) if slot.stop_sent.is_none() => {
            logs.append(
                app,
                "heroku",
                &slot.name,
                "Stopping all processes with SIGTERM",
            );
            running.signal(Signal::TERM);
            slot.stop_sent = Some(Instant::now());
        }
        Some(_) => {}
        None if after == AfterExit::Remove => slot.removed = true,
        None => slot.start_at = Some(Instant::now()),
    }
}

/// Restarts `slot` now: stops it if it runs, starts it at once if it waits for a restart.
pub(super) fn restart(slot: &mut Slot, logs: &AppLogs, app: &str) {
    slot.crashes = 0;
    if slot.run.is_some() {
        logs.append(app, "heroku", &slot.name, "Restarting");
        set_state(slot, DynoState::Starting, None, logs, app);
    }
    stop(slot, AfterExit::Restart, logs, app);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::local::SupervisorInfo;

    fn web(name: &str, state: DynoState, port: u16) -> Slot {
        Slot {
            name: name.to_owned(),
            process_type: "web".to_owned(),
            state,
            port: Some(port),
            ..new_slot()
        }
    }

    fn generation(slots: Vec<Slot>) -> Generation {
        Generation {
            release_id: String::new(),
            slots,
            sha256: String::new(),
            app_dir: PathBuf::new(),
            config: BTreeMap::new(),
            process_types: BTreeMap::new(),
            failed: None,
        }
    }

    fn app(current: Option<Generation>, previous: Option<Generation>) -> AppRun {
        AppRun {
            id: String::new(),
            name: "shop".to_owned(),
            current,
            previous,
            retire_at: None,
            one_offs: Vec::new(),
            retiring: Vec::new(),
            web_unpacking: false,
            deleted: false,
        }
    }

    fn up(names_ports: &[(&str, u16)]) -> WebState {
        WebState::Up(
            names_ports
                .iter()
                .map(|(name, port)| WebDyno {
                    name: (*name).to_owned(),
                    addr: SocketAddr::from(([127, 0, 0, 1], *port)),
                })
                .collect(),
        )
    }

    #[test]
    fn the_previous_release_serves_until_every_new_web_dyno_is_up() {
        let old = || generation(vec![web("web.1", DynoState::Up, 1001)]);
        let booting = app(
            Some(generation(vec![
                web("web.1", DynoState::Up, 2001),
                web("web.2", DynoState::Starting, 2002),
            ])),
            Some(old()),
        );
        assert_eq!(booting.web_state(), up(&[("web.1", 1001)]));
        let booted = app(
            Some(generation(vec![
                web("web.1", DynoState::Up, 2001),
                web("web.2", DynoState::Up, 2002),
            ])),
            Some(old()),
        );
        assert_eq!(booted.web_state(), up(&[("web.1", 2001), ("web.2", 2002)]));
        let crashing = app(
            Some(generation(vec![web("web.1", DynoState::Crashed, 2001)])),
            Some(old()),
        );
        assert_eq!(crashing.web_state(), up(&[("web.1", 1001)]));
    }

    #[test]
    fn without_dynos_up_the_router_hears_why() {
        let state = |slots| app(Some(generation(slots)), None).web_state();
        assert_eq!(
            state(vec![web("web.1", DynoState::Starting, 1)]),
            WebState::Starting
        );
        assert_eq!(
            state(vec![web("web.1", DynoState::Crashed, 1)]),
            WebState::Crashed
        );
        assert_eq!(state(vec![]), WebState::NoWebDynos, "scaled to 0");
        assert_eq!(app(None, None).web_state(), WebState::NoWebDynos);
        // A release waiting for its slug to unpack, with web dynos in its formation: a request
        // waits for them (H20 at worst), it does not get H14 at once.
        let mut unpacking = app(None, None);
        unpacking.web_unpacking = true;
        assert_eq!(unpacking.web_state(), WebState::Starting);
        let partly = state(vec![
            web("web.1", DynoState::Up, 1),
            web("web.2", DynoState::Crashed, 2),
        ]);
        assert_eq!(partly, up(&[("web.1", 1)]), "the up ones serve");
    }

    #[test]
    fn restarts_back_off_doubling_up_to_the_cap() {
        let options = SupervisorOptions::new(PathBuf::new(), SupervisorInfo::default());
        let dir = tempfile::tempdir().unwrap();
        let logs = AppLogs::open(dir.path());
        let mut slot = web("web.1", DynoState::Up, 1);
        let mut waits = Vec::new();
        for _ in 0..9 {
            let before = Instant::now();
            crashed(&mut slot, "exited".to_owned(), &options, &logs, "shop");
            let wait = slot.start_at.unwrap() - before;
            waits.push(wait.as_secs_f64().round() as u64);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(slot.state, DynoState::Crashed);
        assert_eq!(slot.detail.as_deref(), Some("exited"));
    }
}
