//! The database going away in the middle of an apply: the apply fails saying so, nothing is
//! half-written in the state, and once the database is back a rerun converges.

use std::time::Duration;

use super::{NO_CHANGES, Team, finish, wait_until};
use crate::common::postgres::PgCluster;

#[test]
fn the_database_stopped_mid_apply_fails_it_clearly_and_a_rerun_converges() {
    // A cluster of its own: this test stops it.
    let cluster = PgCluster::start(false);
    let team = Team::on(&cluster, &["--release-delay-ms", "1500"]);
    let apply = team.spawn(&team.a, &["apply", "--yes", "-j", "1"]);
    wait_until(Duration::from_secs(60), "the first release request", || {
        team.requests()
            .iter()
            .any(|(m, p)| m == "POST" && p.ends_with("/releases"))
    });
    cluster.stop();
    let out = finish(apply, "the cut-off apply");
    let stderr = team.a.redact(&String::from_utf8_lossy(&out.stderr));
    let stderr = stderr.replace(&team.database, "[DB]");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    insta::assert_snapshot!(stderr, @"
         Packing web (2.56 kB of tar)
         Packing worker (2.56 kB of tar)
        Creating app.shop-prod
            Done app.shop-prod: created [UUID] on heroku-24
        Creating app.shop-staging
            Done app.shop-staging: created [UUID] on heroku-24
        Creating app.shop-worker
            Done app.shop-worker: created [UUID] on heroku-24
       Uploading upload.web→shop-staging
            Done upload.web→shop-staging: slug [UUID] (175 B) through shop-staging
       Releasing release.shop-staging
          Failed release.shop-staging: recording in the state: PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable: cannot record a release: connection closed
    slugplan::state::postgres

      × PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable: cannot record a step in the audit log
      ╰─▶ connection closed
      help: each write is one statement or one transaction, so nothing was half-written: once the database answers, run the command again
    ");

    cluster.restart();
    let rerun = team.ok(&team.a, &["apply", "--yes"], 0);
    assert!(rerun.contains("Apply complete!"), "{rerun}");
    assert_eq!(team.ok(&team.a, &["plan"], 0).trim(), NO_CHANGES);
    team.assert_in_sync(&team.b);
    team.assert_one_release_each();
    // The audit log tells the story: the first apply never finished, the rerun did.
    let history = team.json(&team.b, &["history", "--json"], 0);
    let outcomes: Vec<&serde_json::Value> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["outcome"])
        .collect();
    assert_eq!(
        outcomes,
        [&serde_json::json!("succeeded"), &serde_json::Value::Null],
        "{history:#}"
    );
}

#[test]
fn an_unreachable_database_fails_before_anything_is_done() {
    let ctx = crate::common::TestContext::new();
    super::write_shop(&ctx, "http://127.0.0.1:9", "");
    // A port nothing listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "postgres://deploy:{}@127.0.0.1:{port}/slugplan?sslmode=disable",
        crate::common::postgres::PASSWORD_IN_URL
    );
    let out = ctx
        .command()
        .args(["apply", "--yes"])
        .env("SLUGPLAN_STATE_URL", &url)
        .output()
        .unwrap();
    super::assert_output_clean(&out, "apply");
    insta::assert_snapshot!(crate::common::snapshot::apply_filters(
        &crate::common::snapshot::format_output(&out),
        &ctx.filters()
    ), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::connect

      × cannot connect to the PostgreSQL state postgres://deploy:****@127.0.0.1:[PORT]/slugplan?sslmode=disable
      ├─▶ error connecting to server
      ╰─▶ Connection refused (os error 111)
      help: check the URL (SLUGPLAN_STATE_URL or [state] url), that the database is up, and its sslmode; nothing was done
    ");
}
