//! The first process of every dyno: `slugplan __dyno SCRIPT`, which runs `/bin/sh -c SCRIPT`
//! and makes sure nothing of the dyno outlives the supervisor that started it.
//!
//! The supervisor starts this launcher as the leader of a new process group (the dyno's); the
//! shell and everything the app starts stay in that group. The launcher ends the whole group
//! with `SIGKILL` as soon as the supervisor is gone, however it went (`kill -9` included), told
//! two ways:
//! - the parent-death signal (`PR_SET_PDEATHSIG`, here `SIGHUP`), which the kernel sends when
//!   the thread that spawned the launcher ends (the supervisor spawns every dyno from one
//!   thread that lives as long as it does, see `process.rs`);
//! - end of file on stdin, a pipe whose other end only the supervisor holds: it closes when
//!   the supervisor dies, even if that happened before the death signal was set.
//!
//! A `SIGTERM` to the group (the supervisor stopping the dyno) is the app's to act on: the
//! launcher ignores it and waits for the shell, then exits with its status (128 + N for a
//! shell killed by signal N, as shells report it).

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, Stdio};

use rustix::process::{Signal, getpgrp, kill_process_group, set_parent_process_death_signal};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{SignalKind, signal};

/// The launcher's first argument, which `main` looks for before anything else.
pub const LAUNCHER_ARG: &str = "__dyno";

/// The exit code when the launcher could not run the dyno at all.
const CANNOT_RUN: u8 = 127;

/// Runs the dyno whose script is the one argument after [`LAUNCHER_ARG`]; never returns.
pub fn main(mut args: impl Iterator<Item = OsString>) -> ExitCode {
    let Some(script) = args.next() else {
        say("missing the dyno's command");
        return ExitCode::from(CANNOT_RUN);
    };
    // Before anything else, so a supervisor that dies from here on is noticed.
    let _ = set_parent_process_death_signal(Some(Signal::HUP));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            say(&format!("cannot start: {err}"));
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let code = runtime.block_on(run(script));
    // Not returning: the runtime would wait for its blocked stdin reader.
    std::process::exit(code)
}

async fn run(script: OsString) -> i32 {
    let (Ok(mut hangup), Ok(mut terminate)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) else {
        say("cannot handle signals");
        return i32::from(CANNOT_RUN);
    };
    let mut shell = match tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(shell) => shell,
        Err(err) => {
            say(&format!("cannot run /bin/sh: {err}"));
            return i32::from(CANNOT_RUN);
        }
    };
    let supervisor_gone = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await
            && n > 0
        {}
    };
    tokio::pin!(supervisor_gone);
    loop {
        tokio::select! {
            status = shell.wait() => {
                return match status {
                    Ok(status) => status
                        .code()
                        .or_else(|| status.signal().map(|n| 128 + n))
                        .unwrap_or(1),
                    Err(_) => 1,
                };
            }
            _ = terminate.recv() => {}
            _ = hangup.recv() => break,
            () = &mut supervisor_gone => break,
        }
    }
    // The supervisor is gone: so is the dyno, this launcher included.
    let _ = kill_process_group(getpgrp(), Signal::KILL);
    1
}

/// Says why the dyno cannot run on stderr, which the supervisor copies into the app's log.
fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "slugplan {LAUNCHER_ARG}: {message}");
}
