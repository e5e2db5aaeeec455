//! The state URL's password never shows: not in any command's output (`-v`, `-vv`,
//! `RUST_LOG=trace`, `--json`, errors), not in the audit log, not in the database's rows; and
//! a manifest that writes one down is refused without quoting it.

use super::{Team, assert_no_password, assert_output_clean};
use crate::common::TestContext;
use crate::common::postgres::{PASSWORD_IN_URL, PgCluster};
use crate::common::slugplan_snapshot;

#[test]
fn the_password_shows_in_no_output_and_no_record() {
    let cluster = PgCluster::shared();
    let team = Team::new(&[]);
    let a = &team.a;
    let commands: &[&[&str]] = &[
        &["-vv", "apply", "--yes"],
        &["-v", "plan"],
        &["plan", "--json"],
        &["apply", "--yes", "--json"],
        &["history"],
        &["history", "--json"],
        &["state", "show"],
        &["state", "show", "--json"],
        &["releases", "shop-staging", "--json"],
        &["validate", "--json"],
    ];
    for args in commands {
        team.ok(a, args, 0);
    }
    let out = team
        .command(a, &["plan"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_output_clean(&out, "RUST_LOG=trace plan");
    assert!(out.status.success());

    // Failing commands: a wrong password, a refused connection, an sslmode libpq lacks.
    let database = &team.database;
    let wrong = team
        .url
        .replace(PASSWORD_IN_URL, &format!("{PASSWORD_IN_URL}-wrong"));
    let closed = team.url.replace(&format!(":{}/", cluster.port), ":9/");
    let bad_mode = format!("{}&sslmode=sometimes", team.url);
    for url in [wrong, closed, bad_mode] {
        for args in [&["-vv", "apply", "--yes"][..], &["state", "show", "--json"]] {
            let out = team
                .command(a, args)
                .env("SLUGPLAN_STATE_URL", &url)
                .output()
                .unwrap();
            assert_output_clean(&out, &format!("{args:?} with a bad URL"));
            assert_eq!(out.status.code(), Some(1));
        }
    }
    slugplan_snapshot!(
        team.filters(a),
        team.command(a, &["state", "show"]).env(
            "SLUGPLAN_STATE_URL",
            team.url.replace(PASSWORD_IN_URL, "not-it")
        ),
        @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::connect

      × cannot connect to the PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable
      ├─▶ db error
      ╰─▶ FATAL: password authentication failed for user "postgres"
      help: check the URL (SLUGPLAN_STATE_URL or [state] url), that the database is up, and its sslmode; nothing was done
    "#
    );

    // Nothing slugplan stored holds it either.
    let rows = cluster.query(
        database,
        "SELECT string_agg(t::text, ' ') FROM (
             SELECT row_to_json(a)::text AS t FROM slugplan.applies a
             UNION ALL SELECT row_to_json(e)::text FROM slugplan.events e
             UNION ALL SELECT row_to_json(u)::text FROM slugplan.uploads u
             UNION ALL SELECT row_to_json(r)::text FROM slugplan.releases r
             UNION ALL SELECT row_to_json(h)::text FROM slugplan.lock_holders h) rows",
    );
    assert_no_password(&rows[0][0], "the state's rows");
}

#[test]
fn a_manifest_that_writes_the_password_down_is_refused_without_showing_it() {
    let ctx = TestContext::new();
    ctx.write("web/web.js", "console.log('hi')\n");
    ctx.write(
        "slug.toml",
        format!(
            "[state]\nbackend = \"postgres\"\nurl = \"postgres://deploy:{PASSWORD_IN_URL}@db.example.com/slugplan\"\nworkspace = \"no spaces allowed\"\n\n[slugs.web]\nsource = \"web\"\n"
        ),
    );
    for args in [
        &["validate"][..],
        &["validate", "--json"],
        &["state", "show"],
    ] {
        let out = ctx.run(args);
        assert_output_clean(&out, &format!("{args:?}"));
        assert_eq!(out.status.code(), Some(1));
    }
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["validate"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::manifest::invalid

      × slug.toml has 2 problems

    slugplan::manifest::state_url

      × [state] url holds a password, and slug.toml is committed
       ╭─[slug.toml:3:7]
     2 │ backend = "postgres"
     3 │ url = "postgres://deploy:***************************@db.example.com/slugplan"
       ·       ───────────────────────────────────┬───────────────────────────────────
       ·                                          ╰── a password in the manifest
     4 │ workspace = "no spaces allowed"
       ╰────
      help: set the whole URL in SLUGPLAN_STATE_URL (a CI secret) and write url = "${SLUGPLAN_STATE_URL}", or leave url out

    slugplan::manifest::workspace

      × [state] workspace `no spaces allowed` is not a valid workspace name
       ╭─[slug.toml:4:13]
     3 │ url = "postgres://deploy:***************************@db.example.com/slugplan"
     4 │ workspace = "no spaces allowed"
       ·             ─────────┬─────────
       ·                      ╰── invalid workspace name
     5 │
       ╰────
      help: workspace names match ^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$
    "#);
}
