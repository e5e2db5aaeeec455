//! A dyno's processes: started through the launcher (see `launcher.rs`) as a process group of
//! their own, their output carried line by line into the app's log, stopped by signalling the
//! group.
//!
//! Every dyno is spawned from one thread, the [`Spawner`]'s, which lives as long as the
//! supervisor: the parent-death signal fires when the spawning *thread* ends, so spawning from
//! a runtime's pool thread (which ends when idle) would kill dynos at random.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

use super::launcher::LAUNCHER_ARG;
use crate::platform::local::AppLogs;

type Job = Box<dyn FnOnce() + Send>;

/// The thread every dyno is spawned from.
#[derive(Debug)]
pub(crate) struct Spawner {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the thread, inside the current runtime (whose reactor reaps the children).
    pub(crate) fn start() -> io::Result<Spawner> {
        let handle = tokio::runtime::Handle::current();
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("dyno-spawner".to_owned())
            .spawn(move || {
                let _runtime = handle.enter();
                for job in queue {
                    job();
                }
            })?;
        Ok(Spawner { jobs })
    }

    async fn spawn(&self, mut command: Command) -> io::Result<Child> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(command.spawn());
        });
        let gone = || io::Error::other("the dyno spawner thread has stopped");
        self.jobs.send(job).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// What starts a dyno.
#[derive(Debug, Clone)]
pub(crate) struct Launch<'a> {
    /// The app's name, for its log.
    pub app: &'a str,
    /// `web.1`.
    pub dyno: &'a str,
    /// The script `/bin/sh -c` runs.
    pub script: String,
    /// The unpacked `app` folder: working directory and `HOME`.
    pub app_dir: &'a Path,
    /// Its whole environment.
    pub env: BTreeMap<String, String>,
}

/// A dyno's running process group.
#[derive(Debug)]
pub(crate) struct Running {
    /// The launcher's pid, which is the group's id.
    pub pid: i32,
    /// When it started.
    pub started: Instant,
    /// The launcher's stdin: while it is open the dyno runs; dropping it ends the group.
    _lifeline: ChildStdin,
}

impl Running {
    /// Sends `signal` to the whole group (the app, its shell, whatever they started).
    pub(crate) fn signal(&self, signal: Signal) {
        if let Some(pid) = Pid::from_raw(self.pid) {
            // The group may be gone already; its exit is reported on its own.
            let _ = kill_process_group(pid, signal);
        }
    }
}

/// A dyno's launcher exited: `pid` and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exited {
    /// The launcher's pid.
    pub pid: i32,
    /// Its exit code (128 + N for signal N).
    pub code: i32,
}

/// Starts `launch` through the launcher at `launcher`; its output goes to `logs`, its exit to
/// `exits`.
pub(crate) async fn start(
    spawner: &Spawner,
    launcher: &Path,
    launch: Launch<'_>,
    logs: &AppLogs,
    exits: &mpsc::UnboundedSender<Exited>,
) -> io::Result<Running> {
    let mut command = Command::new(launcher);
    command
        .arg(LAUNCHER_ARG)
        .arg(&launch.script)
        .current_dir(launch.app_dir)
        .env_clear()
        .envs(&launch.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = spawner.spawn(command).await?;
    let pid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .ok_or_else(|| io::Error::other("the dyno exited before it had a pid"))?;
    let lifeline = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("the dyno has no stdin pipe"))?;
    for output in [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
        child
            .stderr
            .take()
            .map(|o| Box::new(o) as Box<dyn AsyncRead + Send + Unpin>),
    ]
    .into_iter()
    .flatten()
    {
        tokio::spawn(pump(
            output,
            logs.clone(),
            launch.app.to_owned(),
            launch.dyno.to_owned(),
        ));
    }
    let exits = exits.clone();
    tokio::spawn(async move {
        let code = match child.wait().await {
            Ok(status) => std::os::unix::process::ExitStatusExt::signal(&status)
                .map(|n| 128 + n)
                .or(status.code())
                .unwrap_or(1),
            Err(_) => 1,
        };
        let _ = exits.send(Exited { pid, code });
    });
    Ok(Running {
        pid,
        started: Instant::now(),
        _lifeline: lifeline,
    })
}

/// Copies one output stream of a dyno into its app's log, a record per line.
async fn pump(output: impl AsyncRead + Unpin, logs: AppLogs, app: String, dyno: String) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.strip_suffix('\n').unwrap_or(&text);
                logs.append(&app, "app", &dyno, text);
            }
        }
    }
}

/// The ports dynos listen on: below Linux's ephemeral ports (32768 and up), where every
/// outgoing connection takes its local port, so a port probed free there can be taken by a
/// connection before the dyno binds it (seen as a web dyno crashing with "address already in
/// use"); apart from the apps' web ports ([`crate::platform::local::WEB_PORTS`]).
pub(crate) const DYNO_PORTS: std::ops::RangeInclusive<u16> = 10000..=19999;

/// A free port on loopback for a dyno's `PORT`, from [`DYNO_PORTS`]: probed by binding it and
/// released at once, since the dyno binds it a moment later. Successive calls walk the range
/// from a random start, so dynos started together never get the same port.
pub(crate) fn free_port() -> io::Result<u16> {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    let first = u32::from(*DYNO_PORTS.start());
    let count = u32::from(*DYNO_PORTS.end()) - first + 1;
    static NEXT: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(rand::random()));
    let mut last_error = None;
    for _ in 0..count {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % count;
        let port = u16::try_from(first + offset).expect("within the range");
        match std::net::TcpListener::bind(("127.0.0.1", port)) {
            Ok(_) => return Ok(port),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no dyno port is free")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyno_ports_are_distinct_below_the_ephemeral_range_and_skip_a_held_one() {
        let ports: Vec<u16> = (0..50).map(|_| free_port().unwrap()).collect();
        assert!(
            ports.iter().all(|port| DYNO_PORTS.contains(port)),
            "{ports:?}"
        );
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        // A port held by someone else is passed over.
        let next = free_port().unwrap() + 1;
        let held = std::net::TcpListener::bind(("127.0.0.1", next));
        let got = free_port().unwrap();
        if held.is_ok() && next <= *DYNO_PORTS.end() {
            assert_ne!(got, next, "a held port was handed out");
        }
    }
}
