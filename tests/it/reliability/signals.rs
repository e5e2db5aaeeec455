//! Ctrl-C and `SIGTERM` mid-apply: the first stops the scheduling of new steps, lets the running
//! ones finish, and reports what was done and what was not (exit 130); a second Ctrl-C exits at
//! once; before anything is applied, the first one does. Every rerun converges with no
//! duplicate release, and no lock is left behind.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{all_duplicates, pipeline_project, secrets_found, spawn_apply, wait_until};
use crate::common::figures;
use crate::common::project::Project;

const NO_CHANGES: &str = "No changes. Every app runs its declared slug.";

/// Starts `slugplan apply --yes -j 1` (one step at a time, so what is running when a signal
/// arrives is known), capturing stderr.
fn one_step_at_a_time(p: &Project) -> Child {
    spawn_apply(p, "1", Stdio::piped())
}

/// Sends `signal` (`INT`, `TERM`) to `child`.
fn send(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Waits for `child` to end; returns its exit code (None: killed by a signal), its stderr, and
/// how long it took.
fn finish(mut child: Child) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait for the apply");
    (status.code(), stderr, started.elapsed())
}

/// Waits until the server has answered a request `matches` accepts.
fn wait_for_request(p: &Project, what: &str, matches: impl Fn(&str, &str) -> bool) {
    wait_until(Duration::from_secs(90), what, || {
        p.requests().iter().any(|(m, path)| matches(m, path))
    });
}

/// Reruns the apply, which must finish, and checks the plan after it is clean and no app got a
/// slug twice in a row.
fn converges(p: &Project) {
    let out = p.ok(&["apply", "--yes"], 0);
    assert!(
        out.contains("Apply complete!") || out.trim() == NO_CHANGES,
        "{out}"
    );
    assert_eq!(p.ok(&["plan", "--detailed-exitcode"], 0).trim(), NO_CHANGES);
    let duplicates = all_duplicates(p);
    assert!(duplicates.is_empty(), "{duplicates:#?}");
}

/// The lines of `stderr` from the interruption on, with the project's filters applied.
fn from_interruption(p: &Project, stderr: &str) -> String {
    let at = stderr
        .find("warning: interrupted")
        .unwrap_or_else(|| panic!("no interruption reported:\n{stderr}"));
    p.ctx.redact(&stderr[at..])
}

#[test]
fn the_first_sigint_or_sigterm_finishes_the_running_step_and_reports_what_was_not_run() {
    let (mut stopped, mut duplicates, mut secrets) = (0, 0, 0);
    for signal in ["INT", "TERM"] {
        let p = pipeline_project(&["--release-delay-ms", "1000"]);
        let apply = one_step_at_a_time(&p);
        // The staging release is being waited for: that step runs on, the others wait.
        wait_for_request(&p, "the staging release", |m, path| {
            m == "POST" && path == "/apps/web-staging/releases"
        });
        send(&apply, signal);
        let (code, stderr, _) = finish(apply);
        assert_eq!(code, Some(130), "SIG{signal}:\n{stderr}");
        insta::allow_duplicates! {
            insta::assert_snapshot!(from_interruption(&p, &stderr), @"
            warning: interrupted: no new step will start; waiting for the running ones to finish (press Ctrl-C again to stop at once)
                    Done release.web-staging: v1 runs slug [UUID]
                 Not run promote.web-prod-ap: the apply was interrupted first
                 Not run promote.web-prod-eu: the apply was interrupted first
                 Not run promote.web-prod-us: the apply was interrupted first
                 Not run upload.worker→worker: the apply was interrupted first
                 Not run release.worker: the apply was interrupted first
                 Not run release.worker-eu: the apply was interrupted first
                Finished app.web-prod-ap, app.web-prod-eu, app.web-prod-us, app.web-staging, app.worker, app.worker-eu, coupling.web-prod-eu, coupling.web-prod-us, coupling.web-staging, release.web-staging, upload.web→web-staging
                 Not run promote.web-prod-ap, promote.web-prod-eu, promote.web-prod-us, upload.worker→worker, release.worker, release.worker-eu
            slugplan::apply::interrupted

              × interrupted: 11 steps finished, 6 not run
              help: run `slugplan apply` again to finish: what is done is not redone
            ");
        }
        stopped += 1;
        converges(&p);
        duplicates += all_duplicates(&p).len() as u64;
        secrets += secrets_found(&p, &[stderr]);
    }
    assert_eq!(secrets, 0, "the token was printed or stored");
    figures::print(
        "SIGINT/SIGTERM mid-apply",
        &[
            ("signals", 2),
            ("stopped cleanly", stopped),
            ("converged", stopped),
            ("duplicates", duplicates),
            ("secrets found", secrets),
        ],
    );
}

#[test]
fn a_second_sigint_stops_at_once_and_the_rerun_resumes_the_pending_release() {
    let p = pipeline_project(&["--release-delay-ms", "5000"]);
    let apply = one_step_at_a_time(&p);
    wait_for_request(&p, "the staging release", |m, path| {
        m == "POST" && path == "/apps/web-staging/releases"
    });
    send(&apply, "INT");
    std::thread::sleep(Duration::from_millis(200));
    send(&apply, "INT");
    let (code, stderr, took) = finish(apply);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "took {took:?}: it waited for the release"
    );
    assert!(
        stderr.contains("interrupted again: stopping now"),
        "{stderr}"
    );
    converges(&p);
}

#[test]
fn a_sigint_before_anything_is_applied_stops_at_once_changing_nothing() {
    // Every request takes a while, so the plan is still being made when the signal comes.
    let p = pipeline_project(&["--fault-latency-ms", "300"]);
    let apply = one_step_at_a_time(&p);
    wait_for_request(&p, "the first read", |m, _| m == "GET");
    send(&apply, "INT");
    let (code, stderr, took) = finish(apply);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        stderr.contains("Interrupted before applying anything: the platform is unchanged"),
        "{stderr}"
    );
    let writes = p.requests().into_iter().filter(|(m, _)| m != "GET").count();
    assert_eq!(writes, 0, "nothing was applied");
}
