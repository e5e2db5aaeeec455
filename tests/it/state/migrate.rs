//! `slugplan state migrate`: local → PostgreSQL → local gives back exactly what there was,
//! the copy is what the other backend then uses, and state at the destination is never
//! overwritten unless asked.

use std::path::Path;

use super::{NO_CHANGES, Team};
use crate::common::slugplan_snapshot;

/// Every row of the local state, table by table, as text.
fn dump(state_db: &Path) -> Vec<(String, Vec<String>)> {
    let conn = rusqlite::Connection::open(state_db).unwrap();
    ["uploads", "releases", "slug_keys", "applies", "events"]
        .into_iter()
        .map(|table| {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |row| {
                    Ok((0..columns)
                        .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join(" | "))
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (table.to_owned(), rows)
        })
        .collect()
}

/// Switches `ctx`'s manifest to `backend`.
fn use_backend(ctx: &crate::common::TestContext, backend: &str) {
    let path = ctx.dir.join("slug.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace("backend = \"postgres\"", "backend = \"@\"")
        .replace("backend = \"local\"", "backend = \"@\"")
        .replace("backend = \"@\"", &format!("backend = \"{backend}\""));
    std::fs::write(path, text).unwrap();
}

#[test]
fn local_to_postgres_and_back_is_identical_and_each_copy_is_the_one_used() {
    let team = Team::new(&[]);
    let a = &team.a;
    use_backend(a, "local");
    team.ok(a, &["apply", "--yes"], 0);
    // A second apply with a change, so there are several applies, events and releases.
    a.write("web/web.js", "console.log('v2')\n");
    team.ok(a, &["apply", "--yes"], 0);
    let state_db = a.dir.join(".slugplan/state/state.db");
    let before = dump(&state_db);
    assert_eq!(before[3].1.len(), 2, "two applies: {before:#?}");

    slugplan_snapshot!(team.filters(a), team.command(a, &["state", "migrate", "--to", "postgres"]), @r#"
    exit code: 0
    ----- stdout -----
    Copied 3 uploads, 5 releases, 2 slug keys, 2 applies with 11 events
      from the local state in ./.slugplan/state
      to   the PostgreSQL state postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable (workspace project)

    ----- stderr -----
    warning: slug.toml still uses the local state: set `[state] backend = "postgres"` to use the copy
    "#);
    use_backend(a, "postgres");
    // The copy is the state now: the team's releases are known, nothing to do, no drift.
    assert_eq!(team.ok(a, &["plan"], 0).trim(), NO_CHANGES);
    slugplan_snapshot!(team.filters(a), team.command(a, &["state", "show"]), @"
    exit code: 0
    ----- stdout -----
    backend    postgres
    url        postgres://postgres:****@127.0.0.1:[PORT]/[DB]?sslmode=disable
    workspace  project
    schema     version 2 (this slugplan knows 2)
    lock       free
    records    3 uploads, 5 releases, 2 slug keys, 2 applies with 11 events

    ----- stderr -----
    ");
    // Runner B, which never had a local state, sees the same history.
    let history = team.json(&team.b, &["history", "--json"], 0);
    assert_eq!(history["entries"].as_array().unwrap().len(), 2);

    // Back to local: refused while the local state is there, then replaced in one go.
    slugplan_snapshot!(team.filters(a), team.command(a, &["state", "migrate", "--to", "local"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::state::not_empty

      × the local state in ./.slugplan/state already holds state (3 uploads, 5 releases, 2 slug keys, 2 applies with 11 events)
      help: pass --replace to overwrite it with the copy, in the same transaction
    ");
    team.ok(a, &["state", "migrate", "--to", "local", "--replace"], 0);
    assert_eq!(dump(&state_db), before, "the round trip changes nothing");

    // Into a checkout that has no local state yet, the same.
    let b_db = team.b.dir.join(".slugplan/state/state.db");
    team.ok(&team.b, &["state", "migrate", "--to", "local"], 0);
    assert_eq!(dump(&b_db), before);
}
