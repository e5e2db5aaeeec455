//! The PostgreSQL schema: created once even when runners start together, and a schema from
//! a newer slugplan refused with nothing changed.

use super::Team;
use crate::common::postgres::PgCluster;
use crate::common::slugplan_snapshot;

#[test]
fn runners_starting_together_on_a_fresh_database_migrate_it_once() {
    let team = Team::new(&[]);
    let children: Vec<_> = (0..4)
        .map(|i| {
            let ctx = if i % 2 == 0 { &team.a } else { &team.b };
            team.spawn(ctx, &["state", "show", "--json"])
        })
        .collect();
    for child in children {
        assert!(super::finish(child, "state show").status.success());
    }
    let rows = PgCluster::shared().query(
        &team.database,
        "SELECT version, by_slugplan FROM slugplan.schema_migrations",
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(rows, [["1", version], ["2", version]]);
}

#[test]
fn a_schema_from_a_newer_slugplan_is_refused_untouched() {
    let cluster = PgCluster::shared();
    let team = Team::new(&[]);
    team.ok(&team.a, &["apply", "--yes"], 0);
    let database = &team.database;
    // What a newer slugplan leaves: one more migration.
    cluster.execute(
        database,
        "CREATE TABLE slugplan.from_the_future (x text);
         INSERT INTO slugplan.schema_migrations VALUES (3, 'then', '99.0.0')",
    );
    let tables = "SELECT string_agg(table_name, ',' ORDER BY table_name)
                  FROM information_schema.tables WHERE table_schema = 'slugplan'";
    let before = (
        cluster.query(database, tables),
        cluster.query(database, "SELECT COUNT(*) FROM slugplan.applies"),
    );
    for args in [&["plan"][..], &["state", "show"], &["history"]] {
        let out = team.command(&team.b, args).output().unwrap();
        super::assert_output_clean(&out, "a refused command");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    slugplan_snapshot!(team.filters(&team.b), team.command(&team.b, &["apply", "--yes"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::newer_schema

      × the PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable has schema version 3, newer than this slugplan knows (2)
      help: upgrade slugplan to the version that migrated it; nothing was changed
    ");
    let after = (
        cluster.query(database, tables),
        cluster.query(database, "SELECT COUNT(*) FROM slugplan.applies"),
    );
    assert_eq!(after, before, "nothing was written");
}
