//! An apply interrupted or raced: `kill -9` in the middle of a release or a promotion converges
//! on rerun without duplicate releases, and a second apply fails fast naming the lock holder or
//! waits for it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{NO_CHANGES, served};
use crate::common::server::block_on;
use crate::common::{slugplan_snapshot, stderr};

/// Waits until `done` holds, polling; panics after `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_apply_killed_mid_release_converges_on_rerun_without_duplicate_releases() {
    kill_at_release_request(1, "/apps/shop-staging/releases");
}

#[test]
fn an_apply_killed_mid_promotion_converges_on_rerun_without_duplicate_releases() {
    kill_at_release_request(2, "/apps/shop-prod-");
}

/// Runs an apply whose releases stay pending for a while, `kill -9`s it once its `nth`
/// release request (to a path starting with `path`) is sent, reruns it, and checks that
/// every app got exactly one release.
fn kill_at_release_request(nth: usize, path: &str) {
    let p = served(&["--release-delay-ms", "1500"]);
    let mut child = p
        .command(&["apply", "--yes", "-j", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let releases_sent = || {
        p.requests()
            .into_iter()
            .filter(|(m, p)| m == "POST" && p.ends_with("/releases"))
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(60), "the release request", || {
        releases_sent().len() >= nth
    });
    let killed_at = releases_sent()[nth - 1].1.clone();
    assert!(killed_at.starts_with(path), "killed at {killed_at}");
    child.kill().expect("kill -9 the apply");
    child.wait().unwrap();

    // What the rerun has left to do depends on how far the first got: only its end is fixed.
    let out = p.ok(&["apply", "--yes"], 0);
    assert!(out.contains("Apply complete!"), "{out}");
    assert_eq!(p.ok(&["plan", "--detailed-exitcode"], 0).trim(), NO_CHANGES);
    let api = p.api();
    for app in [
        "shop-staging",
        "shop-prod-eu",
        "shop-prod-us",
        "shop-worker",
    ] {
        let releases = block_on(api.get(&format!("/apps/{app}/releases"))).body;
        assert_eq!(
            releases.as_array().unwrap().len(),
            1,
            "{app} was released more than once: {releases:#}"
        );
    }
}

#[test]
fn a_second_concurrent_apply_fails_fast_naming_the_holder_or_waits_for_it() {
    let p = served(&["--release-delay-ms", "1500"]);
    let mut first = p
        .command(&["apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = p.path(".slugplan/state/apply.lock");
    wait_until(Duration::from_secs(30), "the lock holder", || {
        std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("\"pid\""))
    });

    let second = slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × another apply is running: pid [PID] on [HOST] (`slugplan apply --yes`), since [TIME]
      help: wait for it to finish, or pass --lock-timeout SECONDS to wait for the lock
    ");
    // The snapshot hides the pid: it must be the first apply's.
    assert!(
        stderr(&second).contains(&format!("pid {}", first.id())),
        "{}",
        stderr(&second)
    );

    let third = p.ok(&["apply", "--yes", "--lock-timeout", "120"], 0);
    assert_eq!(third.trim(), NO_CHANGES);
    assert!(first.wait().unwrap().success());
}
