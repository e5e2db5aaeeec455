//! `kill -9` during applies that release and promote through a `slugplan server`: at planned
//! moments (right after the pipeline promotion is sent; after the platform made a promotion's,
//! a rollback's or a config change's release, before slugplan recorded it) and at staggered
//! ones (after the n-th write request, plus a few milliseconds). Every rerun converges, no app
//! gets the same slug twice in a row, slugplan's own releases are never drift, and the plan
//! afterwards is clean.

use std::process::{Child, Stdio};
use std::time::Duration;

use super::{
    APPS, all_duplicates, pipeline_project, releases, secrets_found, spawn_apply, wait_until,
};
use crate::common::figures;
use crate::common::project::Project;
use crate::common::{expect_exit, stderr};

const NO_CHANGES: &str = "No changes. Every app runs its declared slug.";

/// The write requests the server has answered, from the `skip`-th on.
fn writes_since(p: &Project, skip: usize) -> Vec<(String, String)> {
    p.requests()
        .into_iter()
        .skip(skip)
        .filter(|(method, _)| method != "GET")
        .collect()
}

/// Waits until the server has answered a write to `path`, from the `skip`-th request on.
fn wait_for_write(p: &Project, skip: usize, path: &str) {
    wait_until(Duration::from_secs(90), path, || {
        writes_since(p, skip)
            .iter()
            .any(|(_, written)| written == path)
    });
}

/// `kill -9`s `child` unless it has ended already; says whether it was killed.
fn kill_9(child: &mut Child) -> bool {
    let running = child.try_wait().expect("poll the apply").is_none();
    if running {
        child.kill().expect("kill -9 the apply");
    }
    child.wait().expect("reap the apply");
    running
}

/// Reruns the apply, which must finish, and checks the plan after it is clean; returns what
/// both printed.
fn converge(p: &Project) -> Vec<String> {
    let apply = p.run(&["apply", "--yes"]);
    let out = expect_exit(&apply, &["apply", "--yes"], 0);
    assert!(
        out.contains("Apply complete!") || out.trim() == NO_CHANGES,
        "{out}"
    );
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    let planned = expect_exit(&plan, &["plan", "--detailed-exitcode"], 0);
    assert_eq!(planned.trim(), NO_CHANGES);
    vec![out, stderr(&apply), planned, stderr(&plan)]
}

#[test]
fn a_kill_right_after_the_pipeline_promotion_is_sent_never_promotes_twice() {
    // The targets' releases stay pending long enough for the rerun to find them in flight.
    let p = pipeline_project(&["--release-delay-ms", "3000"]);
    let mut apply = spawn_apply(&p, "2", Stdio::null());
    wait_for_write(&p, 0, "/pipeline-promotions");
    assert!(kill_9(&mut apply), "the apply ended before the kill");

    converge(&p);
    let sent = writes_since(&p, 0);
    let promotions = sent
        .iter()
        .filter(|(_, path)| path == "/pipeline-promotions")
        .count();
    assert_eq!(promotions, 1, "promoted twice: {sent:#?}");
    for app in APPS {
        let made = releases(&p, app);
        assert_eq!(
            made.len(),
            1,
            "{app} was released more than once: {made:#?}"
        );
    }
}

/// Sends `signal` (`STOP`, `KILL`) to `child` with kill(1).
fn signal(child: &Child, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} failed");
}

#[test]
fn a_kill_after_the_pipeline_promotion_released_but_before_it_was_recorded_is_no_drift() {
    // Frozen as soon as the promotion reaches the platform, killed once the platform has
    // released every target: the apply never recorded those releases (nor, perhaps, the
    // promotion), and the platform described them without slugplan's suffix.
    let p = pipeline_project(&["--release-delay-ms", "200"]);
    let mut apply = spawn_apply(&p, "2", Stdio::null());
    wait_for_write(&p, 0, "/pipeline-promotions");
    signal(&apply, "STOP");
    let promoted = |app: &str| {
        releases(&p, app).last().is_some_and(|r| {
            r.status == slugplan::platform::ReleaseStatus::Succeeded
                && r.description.starts_with("Promote web-staging")
        })
    };
    wait_until(Duration::from_secs(90), "the promoted releases", || {
        ["web-prod-eu", "web-prod-us"].into_iter().all(promoted)
    });
    assert!(kill_9(&mut apply), "the apply ended before the kill");

    let out = converge(&p);
    assert!(!out[0].contains("Drift"), "{out:#?}");
    assert!(
        out[0].contains("Apply complete!") || out[0].trim() == NO_CHANGES,
        "{out:#?}"
    );
    assert!(all_duplicates(&p).is_empty(), "{:#?}", all_duplicates(&p));
}

#[test]
fn a_kill_after_a_rollback_released_but_before_it_was_recorded_is_no_drift() {
    let p = pipeline_project(&["--release-delay-ms", "200"]);
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("web/web.js", "console.log('v2')\n");
    p.ok(&["apply", "--yes"], 0);
    let seen = p.requests().len();
    let mut rollback = p
        .command(&["rollback", "web-staging"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start slugplan rollback");
    wait_for_write(&p, seen, "/apps/web-staging/releases");
    signal(&rollback, "STOP");
    wait_until(Duration::from_secs(90), "the rollback release", || {
        releases(&p, "web-staging").last().is_some_and(|r| {
            r.status == slugplan::platform::ReleaseStatus::Succeeded
                && r.description == "Rollback to v1"
        })
    });
    assert!(kill_9(&mut rollback), "the rollback ended before the kill");

    let plan = p.run(&["plan"]);
    let out = expect_exit(&plan, &["plan"], 0);
    assert!(!out.contains("made outside slugplan"), "{out}");
    // Still running an older slug than declared: the next apply releases the declared one.
    assert!(out.contains("~ release.web-staging"), "{out}");
}

#[test]
fn a_kill_after_a_config_change_released_but_before_it_was_recorded_is_no_drift() {
    // Every answer comes late, so the apply is still waiting for the one after the config
    // change when it is frozen.
    let p = Project::served(&["--fault-latency-ms", "300"]);
    p.ctx.write("web/web.js", "console.log('v1')\n");
    let manifest = |greeting: &str| {
        format!(
            "{}\n[slugs.web]\nsource = \"web\"\nprocess_types = {{ web = \"node web.js\" }}\n\n\
             [apps.shop]\nslug = \"web\"\ncreate = true\n\n[apps.shop.config]\nGREETING = \"{greeting}\"\n",
            p.platform_table()
        )
    };
    p.ctx.write("slug.toml", manifest("hi"));
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("slug.toml", manifest("hola"));
    let seen = p.requests().len();
    // The platform makes the config release with its answer: frozen then, the apply never
    // recorded it.
    let mut apply = spawn_apply(&p, "2", Stdio::null());
    wait_for_write(&p, seen, "/apps/shop/config-vars");
    signal(&apply, "STOP");
    assert!(kill_9(&mut apply), "the apply ended before the kill");
    assert_eq!(
        releases(&p, "shop").last().map(|r| r.description.as_str()),
        Some("Set GREETING config vars")
    );

    let out = converge(&p);
    assert!(
        !out.join("\n").contains("made outside slugplan"),
        "{out:#?}"
    );
}

/// How many rounds the campaign runs; a round whose apply ends before its kill point counts as
/// a round but not as a kill.
const ROUNDS: usize = 14;
/// The kills the campaign must reach.
const KILLS: u64 = 12;

#[test]
fn kill_9_at_staggered_moments_of_applies_with_promotions_always_converges() {
    let p = pipeline_project(&["--release-delay-ms", "400"]);
    let (mut kills, mut converged) = (0, 0);
    let mut outputs = Vec::new();
    for round in 0..ROUNDS {
        // Every round changes the web slug (a release, then promotions); every third the
        // worker's too.
        p.ctx
            .write("web/web.js", format!("console.log('v{}')\n", round + 1));
        if round % 3 == 2 {
            p.ctx.write(
                "worker/worker.js",
                format!("setInterval(() => {{}}, {})\n", 1000 + round),
            );
        }
        let seen = p.requests().len();
        let mut apply = spawn_apply(&p, "2", Stdio::null());
        // The kill point: after the n-th write of this apply, n cycling through what a round
        // writes (slugs, blobs, releases, the promotion), then up to 0.3 s more, so kills land
        // before, during and after each request and while releases are pending.
        let nth = round % 5 + 1;
        let extra = Duration::from_millis((round as u64 * 71) % 300);
        wait_until(Duration::from_secs(90), "the kill point", || {
            writes_since(&p, seen).len() >= nth || apply.try_wait().unwrap().is_some()
        });
        std::thread::sleep(extra);
        if kill_9(&mut apply) {
            kills += 1;
        }
        outputs.extend(converge(&p));
        converged += 1;
        let duplicates = all_duplicates(&p);
        assert!(
            duplicates.is_empty(),
            "round {round} (killed after write {nth} + {extra:?}): {duplicates:#?}"
        );
    }
    assert!(
        kills >= KILLS,
        "only {kills} of {ROUNDS} rounds were killed mid-apply"
    );
    let secrets = secrets_found(&p, &outputs);
    assert_eq!(secrets, 0, "the token was printed or stored");
    figures::print(
        "kill -9 during apply with promotions",
        &[
            ("rounds", ROUNDS as u64),
            ("kills", kills),
            ("converged", converged),
            ("duplicates", all_duplicates(&p).len() as u64),
            ("secrets found", secrets),
        ],
    );
}
