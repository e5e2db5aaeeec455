//! Integration tests: the local platform runs what it releases. Real dynos (a small Python web
//! server, `/usr/bin/python3`) under `slugplan up` or `slugplan server`, real HTTP to their
//! ports, the state `slugplan ps` reads, the lines `slugplan logs` prints; a new release
//! replaces the old one only once it is up; a crashing release leaves the old one serving; a
//! crashed dyno restarts; `kill -9` of the supervisor leaves no dyno running. The Heroku CLI's
//! `ps`, `ps:scale`, `ps:restart`, `logs` and `run:detached` are in [`heroku_cli`]; how
//! slugs are unpacked (off the loop, and when they cannot be) in [`unpack`].

mod heroku_cli;
mod through_the_router;
mod unpack;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::project::Project;
use crate::common::slugplan_snapshot;

/// The dynos' web server: answers `GREETING from DYNO`, prints where it listens.
const WEB_PY: &str = r#"import http.server, os
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "hello") + " from " + os.environ["DYNO"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        print("GET", self.path, flush=True)
port = int(os.environ["PORT"])
print("listening on", port, flush=True)
http.server.HTTPServer(("127.0.0.1", port), Hello).serve_forever()
"#;

/// Writes the project: one slug whose `web` runs `web` (a command), one app `hello` with
/// `GREETING` and `web` dynos.
fn write_project(p: &Project, web: &str, greeting: &str, web_count: u32) {
    p.ctx.write("app/web.py", WEB_PY);
    let manifest = format!(
        r#"{platform}
[slugs.web]
source = "app"
process_types = {{ web = "{web}" }}

[apps.hello]
slug = "web"
{create}
[apps.hello.config]
GREETING = "{greeting}"

[apps.hello.formation]
web = {web_count}
"#,
        platform = p.platform_table(),
        create = p.create_key(),
    );
    p.ctx.write("slug.toml", manifest);
}

/// `slugplan up` in the project (its stdout in `up.out`), killed when dropped (its dynos die
/// with it).
struct Up(Child);

impl Up {
    fn start(p: &Project) -> Up {
        Up::start_with(p, &[])
    }

    fn start_with(p: &Project, flags: &[&str]) -> Up {
        let mut args = vec!["up", "--stop-timeout", "5"];
        args.extend_from_slice(flags);
        let out = std::fs::File::create(p.ctx.temp.path().join("up.out")).unwrap();
        let child = p
            .command(&args)
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("start slugplan up");
        Up(child)
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 50 ms until it gives a value, for at most 20 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `hello`'s dynos as `slugplan ps --json` lists them.
fn dynos(p: &Project) -> Vec<Value> {
    let ps = p.json(&["ps", "hello", "--json"], 0);
    ps["apps"][0]["dynos"].as_array().unwrap().clone()
}

/// `hello`'s dynos as the server's API lists them.
fn dynos_of(p: &Project) -> Vec<Value> {
    let answer = crate::common::server::block_on(p.api().get("/apps/hello/dynos"));
    answer.body.as_array().unwrap().clone()
}

/// The body `GET /` on loopback `port` answers, if it answers.
fn get(port: u64) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", u16::try_from(port).ok()?)).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
}

/// The port of `hello`'s up dyno `name` of the current release.
fn up_port(p: &Project, name: &str) -> Option<u64> {
    dynos(p)
        .iter()
        .find(|d| d["name"] == name && d["state"] == "up" && d["previous_release"] == false)
        .and_then(|d| d["port"].as_u64())
}

#[test]
fn up_runs_the_current_release_and_a_new_one_replaces_it_once_up() {
    let p = Project::local();
    write_project(&p, "python3 web.py", "hello", 1);
    p.ok(&["apply", "--yes"], 0);
    let dynos_before = dynos(&p);
    assert_eq!(dynos_before[0]["state"], "down", "no supervisor runs yet");
    let mut up = Up::start(&p);
    let port = eventually("web.1 up", || up_port(&p, "web.1"));
    assert_eq!(get(port).as_deref(), Some("hello from web.1"));
    let mut filters = vec![
        (r"port \d+", "port [PORT]"),
        (r"for \d+[smhd]", "for [AGE]"),
    ];
    filters.extend(p.filters());
    slugplan_snapshot!(filters, p.command(&["ps"]), @"
    exit code: 0
    ----- stdout -----
    === hello
    web.1      up        port [PORT] for [AGE]     v2              python3 web.py

    ----- stderr -----
    ");

    write_project(&p, "python3 web.py", "bonjour", 1);
    p.ok(&["apply", "--yes"], 0);
    let new_port = eventually("the new release's web.1 up", || {
        up_port(&p, "web.1").filter(|n| *n != port)
    });
    assert_eq!(get(new_port).as_deref(), Some("bonjour from web.1"));
    eventually("the old release's dyno stopped", || {
        (get(port).is_none() && dynos(&p).iter().all(|d| d["previous_release"] == false))
            .then_some(())
    });

    let logs = p.ok(&["logs", "hello", "-n", "100"], 0);
    for expected in [
        "heroku[web.1]: Starting process with command `python3 web.py`",
        "app[web.1]: listening on",
        "heroku[web.1]: State changed from starting to up",
        "heroku[web.1]: Stopping all processes with SIGTERM",
    ] {
        assert!(logs.contains(expected), "{expected:?} not in:\n{logs}");
    }
    let only_app = p.ok(&["logs", "hello", "--source", "app"], 0);
    assert!(
        only_app.lines().all(|l| l.contains(" app[web.1]: ")),
        "{only_app}"
    );

    // Ctrl-C's SIGTERM: every dyno stopped, and up exits 0.
    let pid = up.0.id().to_string();
    crate::common::run_ok(std::process::Command::new("kill").args(["-TERM", &pid]));
    let status = eventually("up to exit", || up.0.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    assert_eq!(get(new_port), None);
    assert_eq!(dynos(&p)[0]["state"], "down");
    // up printed the apps' log lines as they came.
    let printed = std::fs::read_to_string(p.ctx.temp.path().join("up.out")).unwrap();
    assert!(printed.contains("hello: "), "{printed}");
    assert!(printed.contains(" app[web.1]: listening on "), "{printed}");
    assert!(
        printed.contains(" heroku[web.1]: State changed from starting to up"),
        "{printed}"
    );
}

#[test]
fn a_web_dyno_that_never_binds_its_port_is_crashed_by_the_boot_timeout() {
    let p = Project::local();
    write_project(&p, "sleep 600", "hello", 1);
    p.ok(&["apply", "--yes"], 0);
    let _up = Up::start_with(&p, &["--boot-timeout", "1"]);
    let crashed = eventually("web.1 crashed", || {
        dynos(&p).into_iter().find(|d| d["state"] == "crashed")
    });
    assert_eq!(crashed["detail"], "Error R10 (Boot timeout)");
    let logs = p.ok(&["logs", "hello"], 0);
    assert!(
        logs.contains(
            "heroku[web.1]: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 1 seconds of launch"
        ),
        "{logs}"
    );
}

#[test]
fn a_release_that_crashes_leaves_the_old_one_serving_and_restarts_with_backoff() {
    let p = Project::local();
    write_project(&p, "python3 web.py", "hello", 2);
    p.ok(&["apply", "--yes"], 0);
    let _up = Up::start(&p);
    let ports: Vec<u64> = ["web.1", "web.2"]
        .iter()
        .map(|name| eventually(name, || up_port(&p, name)))
        .collect();
    assert_ne!(ports[0], ports[1]);
    for (port, name) in ports.iter().zip(["web.1", "web.2"]) {
        assert_eq!(get(*port), Some(format!("hello from {name}")));
    }

    // A release whose command exits at once: crashed, restarted, and the old one still serves.
    write_project(&p, "python3 -c 'raise SystemExit(3)'", "hello", 2);
    p.ok(&["apply", "--yes"], 0);
    let crashed = eventually("the new release's web.1 crashed", || {
        dynos(&p).into_iter().find(|d| {
            d["name"] == "web.1" && d["previous_release"] == false && d["state"] == "crashed"
        })
    });
    assert_eq!(crashed["detail"], "Process exited with status 3");
    eventually("a second start after the backoff", || {
        let logs = p.ok(&["logs", "hello", "--dyno", "web.1", "-n", "1500"], 0);
        (logs.matches("Process exited with status 3").count() >= 2).then_some(())
    });
    for (port, name) in ports.iter().zip(["web.1", "web.2"]) {
        assert_eq!(
            get(*port),
            Some(format!("hello from {name}")),
            "still serving"
        );
    }
    let previous = dynos(&p)
        .into_iter()
        .filter(|d| d["previous_release"] == true && d["state"] == "up")
        .count();
    assert_eq!(previous, 2, "ps shows the previous release's dynos serving");
}

/// The live (not zombie) processes whose environment has `MARKER=marker`.
fn marked(marker: &str) -> Vec<u32> {
    let needle = format!("MARKER={marker}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                let after = stat.rsplit_once(") ")?.1.to_owned();
                after.chars().next()
            })
            .is_none_or(|state| state == 'Z' || state == 'X');
        if !zombie
            && environ
                .split(|b| *b == 0)
                .any(|var| var == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn deleting_an_app_stops_its_dynos() {
    let p = Project::served(&[]);
    let marker = format!("dyno-delete-{}", std::process::id());
    write_marked(&p, "python3 web.py", &marker);
    p.ok(&["apply", "--yes"], 0);
    eventually("web.1 running", || {
        (marked(&marker).len() >= 3).then_some(())
    });
    let answer = crate::common::server::block_on(p.api().call(
        reqwest::Method::DELETE,
        "/apps/hello",
        None,
        None,
    ));
    assert!(answer.status.is_success(), "{}", answer.body);
    eventually("the deleted app's dyno gone", || {
        marked(&marker).is_empty().then_some(())
    });
}

/// The project of [`write_project`], its dynos' environment marked with `MARKER=marker`.
fn write_marked(p: &Project, web: &str, marker: &str) {
    write_project(p, web, "hello", 1);
    let manifest = std::fs::read_to_string(p.path("slug.toml")).unwrap();
    p.ctx.write(
        "slug.toml",
        manifest.replace(
            "GREETING = \"hello\"",
            &format!("GREETING = \"hello\"\nMARKER = \"{marker}\""),
        ),
    );
}

#[test]
fn no_dyno_outlives_a_supervisor_killed_with_sigkill() {
    let p = Project::served(&[]);
    let marker = format!("dyno-test-{}", std::process::id());
    // A grandchild in the background as well as the server: the whole group must go.
    write_marked(&p, "sleep 600 & python3 web.py", &marker);
    let manifest = std::fs::read_to_string(p.path("slug.toml")).unwrap();
    p.ctx
        .write("slug.toml", manifest.replace("web = 1", "web = 2"));
    p.ok(&["apply", "--yes"], 0);
    let running = eventually("both dynos and their sleeps running", || {
        let pids = marked(&marker);
        // Each dyno: the launcher, its shell, python and sleep.
        (pids.len() >= 8).then_some(pids)
    });
    // slugplan's own Heroku client reads the server's dynos and its log sessions.
    eventually("ps showing web.1 and web.2 up", || {
        let ps = p.json(&["ps", "hello", "--json"], 0);
        let dynos: Vec<(String, String)> = ps["apps"][0]["dynos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["name"].to_string(), d["state"].to_string()))
            .collect();
        let up = |name: &str| (format!("{name:?}"), "\"up\"".to_owned());
        (dynos == [up("web.1"), up("web.2")]).then_some(())
    });
    let logs = p.ok(&["logs", "hello", "--dyno", "web.2"], 0);
    assert!(logs.contains("app[web.2]: listening on"), "{logs}");
    assert!(!logs.contains("[web.1]"), "{logs}");
    let pid = p.server().child.id().to_string();
    crate::common::run_ok(std::process::Command::new("kill").args(["-9", &pid]));
    eventually("every process of the dynos gone", || {
        marked(&marker).is_empty().then_some(())
    });
    assert!(running.len() >= 8);
}

/// The port `hello`'s `web.1` says in the log it listens on, once it answers there (what a
/// client of a server sees: Heroku's dyno schema has no port).
fn answering_web_1(p: &Project) -> u64 {
    let port = eventually("web.1 listening", || {
        let logs = p.ok(&["logs", "hello", "--dyno", "web.1"], 0);
        logs.lines().find_map(|l| {
            l.split_once("app[web.1]: listening on ")?
                .1
                .trim()
                .parse::<u64>()
                .ok()
        })
    });
    eventually("web.1 answering", || get(port));
    port
}

#[test]
fn logs_tail_streams_new_lines_through_a_log_session() {
    let p = Project::served(&[]);
    write_project(&p, "python3 web.py", "hello", 1);
    p.ok(&["apply", "--yes"], 0);
    let port = answering_web_1(&p);
    // slugplan's Heroku client tails the server's log session: a request made after it
    // started shows up.
    let mut tail = p
        .command(&["logs", "hello", "--tail", "--source", "app", "-n", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        assert!(get(port).is_some());
        if let Ok(line) = seen.recv_timeout(Duration::from_millis(200)) {
            found = Some(line);
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let line = found.expect("a line of the tailed log");
    assert!(line.ends_with(" app[web.1]: GET /"), "{line}");
}
