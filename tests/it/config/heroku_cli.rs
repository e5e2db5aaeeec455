//! Heroku's own CLI against `slugplan server`, after slugplan deployed an app with config and a
//! formation: `heroku config`, `config:set` (a new release), `releases:info` (that release's
//! config), `releases:rollback` (slug and config back) and `ps:scale` show what Heroku would.
//!
//! The CLI runs as `common::heroku_cli` runs it: in a home of its own, kept from anything but
//! the server, required when `CI` is set.

use std::path::Path;

use super::{config_of, releases, shop, vars};
use crate::common::heroku_cli;
use crate::common::project::{Project, TOKEN};

/// Runs `heroku ARGS…` against the project's server and returns its stdout and stderr; fails
/// the test when the command fails.
fn heroku(cli: &Path, p: &Project, args: &[&str]) -> (String, String) {
    let out = heroku_cli::command(cli, &p.ctx.home, &p.server().url, TOKEN, args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run Heroku's CLI: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "heroku {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn herokus_cli_sees_config_releases_rollback_and_formation() {
    let Some(cli) = heroku_cli::or_skip("nothing is checked") else {
        return;
    };
    let p = shop(
        Project::served(&[]),
        "[apps.shop.config]\nGREETING = \"hi\"\n[apps.shop.formation]\nweb = 1\n",
    );
    p.ok(&["apply", "--yes"], 0);

    let (config, _) = heroku(&cli, &p, &["config", "-a", "shop"]);
    assert!(config.contains("=== shop Config Vars"), "{config}");
    assert!(config.contains("GREETING: hi"), "{config}");

    // config:set makes a release, and prints its version.
    let (set, progress) = heroku(&cli, &p, &["config:set", "FOO=bar", "-a", "shop"]);
    assert!(set.contains("FOO: bar"), "{set}");
    assert!(
        progress.contains("Setting FOO and restarting shop... done, v3"),
        "{progress}"
    );
    assert_eq!(releases(&p, "shop")[2], "v3 Set FOO config vars");
    let (info, _) = heroku(&cli, &p, &["releases:info", "v3", "-a", "shop"]);
    assert!(info.contains("FOO:") && info.contains("bar"), "{info}");
    let (info, _) = heroku(&cli, &p, &["releases:info", "v2", "-a", "shop"]);
    assert!(!info.contains("FOO:"), "v2 ran without FOO:\n{info}");

    // A rollback brings v2's slug and config back.
    let (_, progress) = heroku(&cli, &p, &["releases:rollback", "v2", "-a", "shop"]);
    assert!(
        progress.contains("Rolling back shop to v2... done, v4"),
        "{progress}"
    );
    assert_eq!(config_of(&p, "shop"), vars(&[("GREETING", "hi")]));
    let (config, _) = heroku(&cli, &p, &["config", "-a", "shop"]);
    assert!(!config.contains("FOO"), "{config}");

    // ps:scale sends counts as strings; a size rides along.
    let (_, progress) = heroku(
        &cli,
        &p,
        &["ps:scale", "worker=2:Standard-1X", "-a", "shop"],
    );
    assert!(
        progress.contains("now running worker at 2:Standard-1X"),
        "{progress}"
    );
    let (formation, _) = heroku(&cli, &p, &["ps:scale", "-a", "shop"]);
    assert_eq!(formation.trim(), "web=1:Basic worker=2:Standard-1X");

    // slugplan leaves the undeclared worker alone and the config as declared.
    let plan = p.ok(&["plan", "--detailed-exitcode"], 0);
    assert!(
        plan.contains("made outside slugplan: \"Rollback to v2\""),
        "{plan}"
    );
    assert!(
        plan.trim_end()
            .ends_with("No changes. Every app runs its declared slug."),
        "{plan}"
    );
}
