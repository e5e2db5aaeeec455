//! The router end to end: real dynos (the parent module's Python web server) under `slugplan
//! up`, answering through the router on the app's `web_url`; `apply` saying whether what it
//! released came up; a release switch with no failed request; a crashing release that leaves
//! the old one answering.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use regex::Regex;

use super::{Up, eventually, write_project};
use crate::common::project::Project;

/// `GET url` with a fresh connection: the status and the body, or `None` when nothing answers.
fn get(url: &str) -> Option<(u16, String)> {
    let addr = url.strip_prefix("http://")?.trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// The app's URL, as `slugplan open --print` gives it.
fn web_url(p: &Project) -> String {
    p.ok(&["open", "hello", "--print"], 0).trim().to_owned()
}

/// The line `apply` ends with for `hello`.
fn hello_line(output: &str) -> &str {
    output
        .lines()
        .find(|l| l.starts_with("hello: http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no line for hello in:\n{output}"))
}

#[test]
fn apps_answer_through_the_router_and_a_release_switch_loses_no_request() {
    let p = Project::local();
    write_project(&p, "python3 web.py", "hello", 2);
    // Nothing runs the dynos yet: apply says so, and how to run them.
    let output = p.ok(&["apply", "--yes"], 0);
    let line = hello_line(&output);
    assert!(
        line.ends_with(" is not running: start `slugplan up` to run it"),
        "{line}"
    );
    let url = web_url(&p);
    assert!(line.starts_with(&format!("hello: {url} ")), "{line}");

    let _up = Up::start(&p);
    eventually("the app to answer through the router", || {
        get(&url).filter(|(status, _)| *status == 200)
    });
    // web=2: once both are up, requests take turns over them.
    eventually("both web dynos to answer in turn", || {
        let answers: Vec<String> = (0..4).map(|_| get(&url).unwrap().1).collect();
        let turns = answers.windows(2).all(|w| w[0] != w[1]);
        (turns && answers.iter().any(|a| a == "hello from web.1")).then_some(())
    });

    // A new release while a client polls: only 200s, the old answer, then the new one.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (url, stop) = (url.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                seen.push(get(&url));
            }
            seen
        })
    };
    write_project(&p, "python3 web.py", "bonjour", 2);
    let output = p.ok(&["apply", "--yes"], 0);
    let line = hello_line(&output);
    assert!(
        line.ends_with(" is up (web.1, web.2, answered 200)"),
        "{output}"
    );
    // The old dynos stop once the new ones are up: poll on past that.
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let seen = poller.join().unwrap();
    let failed: Vec<_> = seen
        .iter()
        .filter(|s| !matches!(s, Some((200, _))))
        .collect();
    assert!(
        failed.is_empty(),
        "failed requests during the switch: {failed:?}"
    );
    let bodies: Vec<&str> = seen.iter().flatten().map(|(_, b)| b.as_str()).collect();
    let first_new = bodies
        .iter()
        .position(|b| b.starts_with("bonjour"))
        .expect("the new release answered");
    assert!(first_new > 0, "the old release answered first");
    assert!(
        bodies[first_new..].iter().all(|b| b.starts_with("bonjour")),
        "the old release answered after the new one"
    );

    // A release whose command exits at once: apply says so, and the old release still answers.
    write_project(&p, "python3 -c 'raise SystemExit(1)'", "broken", 2);
    let output = p.ok(&["apply", "--yes"], 0);
    let line = hello_line(&output);
    assert!(line.contains(" did not come up: web."), "{line}");
    assert!(line.contains(" crashed"), "{line}");
    let (status, body) = get(&url).unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("bonjour from web."), "{body}");

    // The router's lines are in the app's log, in Heroku's format.
    let logs = p.ok(&["logs", "hello", "-n", "1500", "--dyno", "router"], 0);
    let line = Regex::new(
        r#"heroku\[router\]: at=info method=GET path="/" host=127\.0\.0\.1:\d+ request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" dyno=web\.[12] connect=\d+ms service=\d+ms status=200 bytes=\d+ protocol=http"#,
    )
    .unwrap();
    assert!(line.is_match(&logs), "{logs}");
}
