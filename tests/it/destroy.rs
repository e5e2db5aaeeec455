//! Apps that leave the manifest, and `slugplan destroy`: a plan lists the apps slugplan deployed
//! that slug.toml no longer declares (and leaves them running); `destroy` deletes one on the
//! platform once its name is given back, under the apply lock, in the audit log, and slugplan
//! forgets it.

use crate::common::project::{Project, count};
use crate::common::terminal::on_a_terminal;
use crate::common::{hold_apply_lock, slugplan_snapshot, stderr};

/// `web-staging` and `web-old` deployed on the local platform, then `web-old` removed from
/// slug.toml.
fn web_old_left_the_manifest() -> Project {
    left_the_manifest(Project::local())
}

/// The same in `p`.
fn left_the_manifest(p: Project) -> Project {
    let web = format!(
        "{}[slugs.web]\nsource = \"web\"\nprocess_types = {{ web = \"node web.js\" }}\n\n\
         [apps.web-staging]\nslug = \"web\"\ncreate = true\n",
        p.platform_table()
    );
    p.ctx.write("web/web.js", "console.log('v1')\n");
    p.ctx.write(
        "slug.toml",
        format!("{web}\n[apps.web-old]\nslug = \"web\"\ncreate = true\n"),
    );
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("slug.toml", web);
    p
}

#[test]
fn an_app_removed_from_the_manifest_is_listed_left_running_and_destroyed_on_request() {
    let p = web_old_left_the_manifest();
    // Listed, but no change: the plan never deletes.
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @"
    exit code: 0
    ----- stdout -----
    No longer in slug.toml: apps slugplan deployed, left running
      - web-old runs v1 (SHA256:6f688d0dfc99…); `slugplan destroy web-old` deletes it

    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
    let doc = p.json(&["plan", "--json"], 0);
    assert_eq!(doc["undeclared"][0]["app"], "web-old", "{doc:#}");

    // Without a terminal, the name must be given with --confirm; a wrong one deletes nothing.
    slugplan_snapshot!(p.filters(), p.command(&["destroy", "web-old"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × refusing to prompt for confirmation: stdin is not a terminal
      help: pass --confirm web-old to destroy it without a prompt
    ");
    slugplan_snapshot!(p.filters(), p.command(&["destroy", "web-old", "--confirm", "web-staging"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::destroy::confirm

      × the confirmation `web-staging` is not the app's name `web-old`
      help: nothing was deleted; confirm with the app's exact name: --confirm web-old
    ");
    slugplan_snapshot!(p.filters(), p.command(&["destroy", "web-old", "--confirm", "web-old"]), @"
    exit code: 0
    ----- stdout -----
    Destroyed web-old ([UUID]) on local:[PROJECT]/.slugplan/platform.

    ----- stderr -----
    ");

    // Gone from the platform and from slugplan's memory: the plan stops listing it.
    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
    let releases = p.run(&["releases", "web-old"]);
    assert_eq!(releases.status.code(), Some(1));
    assert!(
        stderr(&releases).contains("Couldn't find that app: web-old"),
        "{}",
        stderr(&releases)
    );
    let log = p.json(&["history", "--limit", "1", "--json"], 0)["entries"].clone();
    assert_eq!(
        log[0]["command"],
        "slugplan destroy web-old --confirm web-old"
    );
    assert_eq!(log[0]["outcome"], "succeeded");
    assert_eq!(log[0]["events"][0]["address"], "app.web-old");
    assert_eq!(log[0]["events"][0]["action"], "destroy");
}

#[test]
fn destroy_refuses_an_app_the_manifest_declares_and_waits_for_no_apply() {
    let p = web_old_left_the_manifest();
    let held = hold_apply_lock(&p.path(".slugplan/state"), "a test");
    slugplan_snapshot!(p.filters(), p.command(&["destroy", "web-old", "--confirm", "web-old"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × another apply is running: pid [PID] on [HOST] (`a test`), since [TIME]
      help: wait for it to finish, or pass --lock-timeout SECONDS to wait for the lock
    ");
    drop(held);
    assert_eq!(
        p.json(&["releases", "web-old", "--json"], 0)["releases"][0]["version"],
        1,
        "not deleted while an apply holds the lock"
    );
    slugplan_snapshot!(p.filters(), p.command(&["destroy", "web-staging", "--confirm", "web-staging"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::destroy::declared

      × app `web-staging` is declared in slug.toml
      help: remove [apps.web-staging] from slug.toml first (the next apply would create it again), then destroy it
    ");
    assert_eq!(
        p.json(&["releases", "web-staging", "--json"], 0)["releases"][0]["version"],
        1
    );
}

#[test]
fn on_a_terminal_destroy_asks_for_the_name_back() {
    let p = web_old_left_the_manifest();
    let typo = on_a_terminal(&p.ctx, &["destroy", "web-old"], "web-ol\n");
    typo.assert_shows(
        1,
        &[
            "This deletes web-old (",
            "To proceed, type web-old (or re-run with --confirm web-old):",
            "the confirmation `web-ol` is not the app's name `web-old`",
        ],
    );
    let typed = on_a_terminal(&p.ctx, &["destroy", "web-old"], "web-old\n");
    typed.assert_shows(0, &["Destroyed web-old ("]);
    assert_eq!(p.run(&["releases", "web-old"]).status.code(), Some(1));
}

#[test]
fn through_the_api_destroy_is_one_delete_and_the_app_is_gone() {
    let p = left_the_manifest(Project::served(&[]));
    let doc = p.json(&["plan", "--json"], 0);
    assert_eq!(doc["undeclared"][0]["app"], "web-old", "{doc:#}");
    let before = p.requests().len();
    p.ok(&["destroy", "web-old", "--confirm", "web-old"], 0);
    let sent = p.requests()[before..].to_vec();
    assert_eq!(
        count(&sent, "DELETE", |path| path.starts_with("/apps/")),
        1,
        "{sent:#?}"
    );
    assert_eq!(p.run(&["releases", "web-old"]).status.code(), Some(1));
    let doc = p.json(&["plan", "--json"], 0);
    assert_eq!(doc["undeclared"], serde_json::json!([]), "{doc:#}");
}
