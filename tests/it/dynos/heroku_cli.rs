//! Heroku's own CLI against the dynos of `slugplan server`: `ps`, `ps:scale`, `ps:restart`,
//! `logs` (a log session streamed as server-sent events) and `run:detached` (a one-off dyno
//! whose output goes to the app's log). Without the CLI (and outside CI) it checks nothing.

use std::process::Output;

use super::{dynos_of, eventually, get, write_project};
use crate::common::heroku_cli;
use crate::common::project::{Project, TOKEN};

/// Runs `heroku ARGS` against the project's server; its stdout (stderr too) when it exits 0.
fn heroku(p: &Project, cli: &std::path::Path, args: &[&str]) -> String {
    let home = p.ctx.temp.path().join("heroku-home");
    std::fs::create_dir_all(&home).unwrap();
    let output: Output = heroku_cli::command(cli, &home, &p.server().url, TOKEN, args)
        .output()
        .expect("run heroku");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "heroku {args:?} failed:\n{text}");
    text
}

#[test]
fn the_heroku_cli_lists_scales_restarts_and_reads_the_logs_of_dynos() {
    let Some(cli) = heroku_cli::or_skip("the dynos' CLI commands are not tried") else {
        return;
    };
    let p = Project::served(&[]);
    write_project(&p, "python3 web.py", "hello", 1);
    p.ok(&["apply", "--yes"], 0);
    eventually("web.1 up", || {
        let ps = heroku(&p, &cli, &["ps", "-a", "hello"]);
        ps.contains("web.1: up").then_some(())
    });

    heroku(&p, &cli, &["ps:scale", "web=2", "-a", "hello"]);
    let ps = eventually("web.2 up", || {
        let ps = heroku(&p, &cli, &["ps", "-a", "hello"]);
        (ps.contains("web.1: up") && ps.contains("web.2: up")).then_some(ps)
    });
    assert!(ps.contains("=== web (Basic): python3 web.py (2)"), "{ps}");

    let port = |dyno: &str| {
        let logs = heroku(
            &p,
            &cli,
            &["logs", "-a", "hello", "--dyno", dyno, "-n", "1500"],
        );
        logs.lines().rev().find_map(|l| {
            l.split_once(&format!("app[{dyno}]: listening on "))?
                .1
                .trim()
                .parse::<u64>()
                .ok()
        })
    };
    let web2 = eventually("web.2's port in its log", || port("web.2"));
    assert_eq!(get(web2).as_deref(), Some("hello from web.2"));

    heroku(&p, &cli, &["ps:restart", "web.2", "-a", "hello"]);
    let restarted = eventually("web.2 restarted on a new port", || {
        port("web.2").filter(|n| *n != web2 && get(*n).is_some())
    });
    assert_eq!(get(restarted).as_deref(), Some("hello from web.2"));
    let logs = heroku(&p, &cli, &["logs", "-a", "hello", "-n", "1500"]);
    assert!(logs.contains("heroku[web.2]: Restarting"), "{logs}");

    let detached = heroku(
        &p,
        &cli,
        &["run:detached", "-a", "hello", "echo one-off says hi"],
    );
    let name = detached
        .split_whitespace()
        .find(|w| w.starts_with("run."))
        .map(|w| w.trim_end_matches([',', '.']).to_owned())
        .unwrap_or_else(|| panic!("no one-off dyno named in:\n{detached}"));
    eventually("the one-off's output in the log", || {
        let logs = heroku(&p, &cli, &["logs", "-a", "hello", "--dyno", &name]);
        (logs.contains(&format!("app[{name}]: one-off says hi"))
            && logs.contains(&format!(
                "heroku[{name}]: State changed from up to complete"
            )))
        .then_some(())
    });
    assert!(
        dynos_of(&p).iter().all(|d| d["name"] != name.as_str()),
        "a finished one-off is gone"
    );
}
