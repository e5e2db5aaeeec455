//! Two runners, one PostgreSQL state: what one did, the other knows (uploads, releases, the
//! audit log), and one apply at a time across both, released the moment its holder dies.

use std::time::{Duration, Instant};

use slugplan::state::postgres::PostgresState;
use slugplan::state::{DatabaseUrl, LockHolder, State};

use super::{NO_CHANGES, Team, finish, wait_until};
use crate::common::postgres::PgCluster;
use crate::common::server::block_on;
use crate::common::slugplan_snapshot;

#[test]
fn runner_b_reuses_a_upload_knows_a_releases_and_history_shows_both() {
    let team = Team::new(&[]);
    // A uploads the web slug and stops there (as if killed between upload and release).
    let out = team.ok(
        &team.a,
        &["apply", "--yes", "--target", "upload.web→shop-staging"],
        0,
    );
    assert!(out.contains("1 uploaded"), "{out}");

    // B, a fresh checkout with an empty cache, builds the same bytes and finds A's upload:
    // its plan releases that slug by id.
    let applied = team.json(&team.b, &["apply", "--yes", "--json"], 0);
    assert_eq!(
        applied["outcome"]["uploaded"], 1,
        "only the worker: {applied:#}"
    );
    let steps = applied["plan"]["steps"].as_array().unwrap();
    let web_upload = steps
        .iter()
        .find(|s| s["address"] == "upload.web→shop-staging")
        .expect("the web upload step");
    assert_eq!(web_upload["action"], "no-op", "{web_upload:#}");
    assert!(web_upload["slug_id"].is_string(), "{web_upload:#}");
    assert_eq!(
        web_upload["reason"],
        format!(
            "already on the platform as slug {} (uploaded through shop-staging earlier)",
            web_upload["slug_id"].as_str().unwrap()
        ),
    );
    let uploads = team
        .requests()
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/slugs"))
        .count();
    assert_eq!(uploads, 2, "one web slug (A's) and one worker slug (B's)");

    // Both see the platform as the team left it: nothing to do, and no drift.
    assert_eq!(team.ok(&team.b, &["plan"], 0).trim(), NO_CHANGES);
    team.assert_in_sync(&team.a);
    // When the declared slug changes, the release B made is the team's own, not drift.
    team.a.write("web/web.js", "console.log('Hello again')\n");
    let plan = team.ok(&team.a, &["plan", "--json", "--no-build"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["drift"], serde_json::json!([]), "{plan:#}");

    // And the audit log is one, whichever runner reads it.
    let history = team.json(&team.a, &["history", "--json"], 0)["entries"].clone();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history:#}");
    assert_eq!(
        history,
        team.json(&team.b, &["history", "--json"], 0)["entries"]
    );
    let events = |apply: &serde_json::Value| {
        apply["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["outcome"].as_str().unwrap(),
                    e["address"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        events(&history[1]),
        ["done app.shop-staging", "done upload.web→shop-staging"],
        "A's apply"
    );
    assert!(
        events(&history[0]).contains(&"done release.shop-staging".to_owned()),
        "B's apply: {history:#}"
    );
}

#[test]
fn a_second_runner_fails_at_once_naming_the_holder_with_its_ci_job_or_waits() {
    let team = Team::new(&["--release-delay-ms", "1500"]);
    let first = team
        .command(&team.a, &["apply", "--yes"])
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "team/shop")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let holder = team.wait_for_holder(&team.b);
    assert_eq!(holder, u64::from(first.id()));

    // What B is told, and what `state show` says meanwhile.
    let started = Instant::now();
    let second = team.command(&team.b, &["apply", "--yes"]).output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait"
    );
    super::assert_output_clean(&second, "the refused apply");
    assert_eq!(second.status.code(), Some(1));
    // The message wraps where the host name's length puts it: compare it unwrapped.
    let flat = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    };
    let said = flat(&String::from_utf8_lossy(&second.stderr));
    for part in [
        format!("× another apply is running: pid {} on ", first.id()),
        " (`slugplan apply --yes`), since ".to_owned(),
        ", CI job https://github.com/team/shop/actions/runs/4242".to_owned(),
        "help: wait for it to finish, or pass --lock-timeout SECONDS to wait for the lock"
            .to_owned(),
    ] {
        assert!(said.contains(&flat(&part)), "{part:?} in {said}");
    }
    let mut filters = team.filters(&team.b);
    filters.insert(0, (r"records .*", "records [COUNTS]"));
    slugplan_snapshot!(filters, team.command(&team.b, &["state", "show"]), @"
    exit code: 0
    ----- stdout -----
    backend    postgres
    url        postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable
    workspace  project
    schema     version 2 (this slugplan knows 2)
    lock       held by pid [PID] on [HOST] (`slugplan apply --yes`), since [TIME], CI job https://github.com/team/shop/actions/runs/4242
    records [COUNTS]

    ----- stderr -----
    ");

    let third = team.ok(&team.b, &["apply", "--yes", "--lock-timeout", "120"], 0);
    assert!(
        third.ends_with("0 uploaded, 0 released, 3 unchanged.\n"),
        "{third}"
    );
    assert!(finish(first, "runner A's apply").status.success());
    let shown = team.json(&team.b, &["state", "show", "--json"], 0);
    assert_eq!(
        shown["lock"],
        serde_json::Value::Null,
        "released: {shown:#}"
    );
}

#[test]
fn plan_never_takes_the_lock_an_apply_needs() {
    let team = Team::new(&[]);
    let url = DatabaseUrl::parse(&team.url).unwrap();
    block_on(async {
        // Another runner's apply holds the workspace's lock for as long as this test runs.
        let state = PostgresState::open(&url, "project").await.unwrap();
        let holder = LockHolder::this_process("slugplan apply --yes", None);
        let _lock = state.lock_applies(&holder, Duration::ZERO).await.unwrap();

        let started = Instant::now();
        let planned = team.command(&team.b, &["plan"]).output().unwrap();
        super::assert_output_clean(&planned, "the plan made while the lock is held");
        let said = String::from_utf8_lossy(&planned.stdout);
        assert!(
            planned.status.success() && said.contains("3 to create"),
            "{said}{}",
            String::from_utf8_lossy(&planned.stderr)
        );
        assert!(started.elapsed() < Duration::from_secs(30), "it waited");

        // The lock is still this test's: an apply is refused, naming it.
        let applied = team.command(&team.b, &["apply", "--yes"]).output().unwrap();
        assert_eq!(applied.status.code(), Some(1));
        let refused = String::from_utf8_lossy(&applied.stderr);
        assert!(
            refused.contains(&format!(
                "another apply is running: pid {}",
                std::process::id()
            )),
            "{refused}"
        );
    });
}

#[test]
fn kill_9_of_the_holder_lets_the_next_runner_in_at_once_and_it_converges() {
    let team = Team::new(&["--release-delay-ms", "1500"]);
    let mut first = team.spawn(&team.a, &["apply", "--yes", "-j", "1"]);
    team.wait_for_holder(&team.b);
    wait_until(Duration::from_secs(60), "the first release request", || {
        team.requests()
            .iter()
            .any(|(m, p)| m == "POST" && p.ends_with("/releases"))
    });
    first.kill().expect("kill -9 runner A");
    first.wait().unwrap();

    // The database drops the lock with A's connection: B gets it without waiting.
    let killed = Instant::now();
    wait_until(Duration::from_secs(5), "the lock to be released", || {
        team.json(&team.b, &["state", "show", "--json"], 0)["lock"].is_null()
    });
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    let out = team.ok(&team.b, &["apply", "--yes", "--lock-timeout", "0"], 0);
    assert!(out.contains("Apply complete!"), "{out}");
    assert_eq!(team.ok(&team.b, &["plan"], 0).trim(), NO_CHANGES);
    team.assert_in_sync(&team.a);
    team.assert_one_release_each();
    let history = team.json(&team.b, &["history", "--json"], 0)["entries"].clone();
    assert_eq!(
        history[1]["outcome"],
        serde_json::Value::Null,
        "A's apply was cut short"
    );
    assert_eq!(history[0]["outcome"], "succeeded");
}

#[test]
fn a_connection_dropped_while_waiting_for_the_lock_is_opened_again() {
    let cluster = PgCluster::shared();
    let team = Team::new(&["--release-delay-ms", "1500"]);
    let database = &team.database;
    let first = team.spawn(&team.a, &["apply", "--yes", "-j", "1"]);
    team.wait_for_holder(&team.b);
    let waiting = team.spawn(&team.b, &["apply", "--yes", "--lock-timeout", "120"]);

    // B's lock connection is the one of the two that does not hold the lock.
    let waiter = format!(
        "SELECT a.pid FROM pg_stat_activity a
         WHERE a.datname = '{database}' AND a.application_name = '{}'
           AND NOT EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)",
        slugplan::state::postgres::LOCK_APPLICATION_NAME
    );
    let mut terminated = None;
    wait_until(
        Duration::from_secs(30),
        "runner B to wait for the lock",
        || {
            terminated = cluster
                .query("postgres", &waiter)
                .first()
                .map(|row| row[0].clone());
            terminated.is_some()
        },
    );
    let pid = terminated.unwrap();
    cluster.execute("postgres", &format!("SELECT pg_terminate_backend({pid})"));

    assert!(finish(first, "runner A's apply").status.success());
    let out = finish(waiting, "runner B's apply");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with("0 uploaded, 0 released, 3 unchanged.\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the connection waiting for the apply lock closed"),
        "{stderr}"
    );
}

#[test]
fn a_no_op_plan_costs_one_round_trip_per_kind_of_question_however_many_apps() {
    let cluster = PgCluster::shared();
    let team = Team::new(&[]);
    let database = &team.database;
    team.ok(&team.a, &["apply", "--yes"], 0);
    let count = |args: &[&str]| {
        let before = cluster.statements(database);
        team.ok(&team.a, args, 0);
        cluster.statements(database) - before
    };
    // Six statements in four round trips: the schema version; the apps with managed config
    // and the apps deployed (sent together); the slug keys; the uploads and the releases
    // made (sent together).
    assert_eq!(count(&["plan"]), 6, "{}", cluster.log());
    // And the apply lock: taken with its holder row, and cleared.
    assert_eq!(count(&["apply", "--yes"]), 8, "{}", cluster.log());
    // Three times the apps, the same questions.
    let extra: String = (1..=6)
        .map(|n| format!("\n[apps.shop-extra-{n}]\nslug = \"web\"\ncreate = true\n"))
        .collect();
    super::write_shop(&team.a, &team.server.url, &extra);
    team.ok(&team.a, &["apply", "--yes"], 0);
    assert_eq!(count(&["plan"]), 6, "{}", cluster.log());
}
