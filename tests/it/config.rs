//! Apps fully declared: config vars and formation, end to end on both platforms (the embedded
//! local one, and a real `slugplan server` through the Heroku client): keys added, changed and
//! removed while foreign keys are left alone, drift on a managed key, config set before the
//! slug's release, rollback bringing config back, scaling up and down, and the reads a no-op
//! plan costs. Secrets are [`secrets`]'; the server's endpoints and Heroku's own CLI against
//! them are [`api`] and [`heroku_cli`].

mod api;
mod heroku_cli;
mod secrets;

use std::collections::BTreeMap;

use serde_json::Value;
use slugplan::platform::heroku::{HerokuPlatform, Token};
use slugplan::platform::local::LocalPlatform;
use slugplan::platform::{Formation, Platform};

use crate::common::project::{Project, TOKEN, count};
use crate::common::server::block_on;
use crate::common::slugplan_snapshot;

/// A shop: one slug with a `web` and a `worker` process type, and app `shop` running it, with
/// `app` appended to its table (config, formation).
fn shop(p: Project, app: &str) -> Project {
    p.ctx.write("web/web.js", "console.log('Hello World')\n");
    write_shop(&p, app);
    p
}

/// Rewrites the shop's manifest with `app` appended to app `shop`'s table.
fn write_shop(p: &Project, app: &str) {
    let platform = p.platform_table();
    let create = if p.is_served() { "create = true\n" } else { "" };
    p.ctx.write(
        "slug.toml",
        format!(
            r#"{platform}
[slugs.web]
source = "web"
process_types = {{ web = "node web.js", worker = "node worker.js" }}

[apps.shop]
slug = "web"
{create}{app}"#
        ),
    );
}

/// The project's platform, as another client sees it.
fn platform(p: &Project) -> Box<dyn Platform> {
    if p.is_served() {
        Box::new(HerokuPlatform::new(&p.server().url, Token::new(TOKEN)).unwrap())
    } else {
        Box::new(LocalPlatform::open(&p.path(".slugplan/platform")).unwrap())
    }
}

/// `app`'s config vars now.
fn config_of(p: &Project, app: &str) -> BTreeMap<String, String> {
    block_on(platform(p).config_vars(app)).unwrap()
}

/// What another client (an add-on, `heroku config:set`) does: sets or unsets config vars.
fn set_by_hand(p: &Project, app: &str, changes: &[(&str, Option<&str>)]) {
    let changes = changes
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
        .collect();
    block_on(platform(p).update_config_vars(app, &changes)).unwrap();
}

/// The config release `version` of `app` was made with.
fn release_config(p: &Project, app: &str, version: u64) -> BTreeMap<String, String> {
    if p.is_served() {
        let path = format!("/apps/{app}/releases/{version}/config-vars");
        let body = block_on(p.api().read(&path, "config-var/definitions/config_vars"));
        serde_json::from_value(body).unwrap()
    } else {
        let local = LocalPlatform::open(&p.path(".slugplan/platform")).unwrap();
        local
            .store()
            .release_config_vars(app, &version.to_string())
            .unwrap()
    }
}

/// `app`'s formation now, as `type=quantity:size` words, by type.
fn formation_of(p: &Project, app: &str) -> Vec<String> {
    let formation: Vec<Formation> = block_on(platform(p).formation(app)).unwrap();
    let mut words: Vec<String> = formation
        .iter()
        .map(|f| format!("{}={}:{}", f.process_type, f.quantity, f.size))
        .collect();
    // The API lists a formation by id: in no particular order of types.
    words.sort();
    words
}

/// `app`'s releases, oldest first, as `vN description`.
fn releases(p: &Project, app: &str) -> Vec<String> {
    let rows: Value = p.json(&["releases", app, "--json"], 0);
    let mut rows: Vec<String> = rows["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("v{} {}", r["version"], r["description"].as_str().unwrap()))
        .collect();
    rows.reverse();
    rows
}

/// Runs `scenario` on the embedded local platform and through a `slugplan server`, as two tests
/// (`local_<scenario>`, `served_<scenario>`). Both platforms print the same, so a snapshot the
/// scenario takes holds for both.
macro_rules! on_both_platforms {
    ($scenario:ident) => {
        mod $scenario {
            use super::*;

            #[test]
            fn local() {
                insta::allow_duplicates! { $scenario(Project::local()) }
            }

            #[test]
            fn served() {
                insta::allow_duplicates! { $scenario(Project::served(&[])) }
            }
        }
    };
}

/// `p`'s filters, and one that drops the lines the local platform's apply ends with (each
/// released app's URL and whether it came up), which an apply through the server's API does not
/// print: so one snapshot holds on both platforms.
fn same_on_both(p: &Project) -> Vec<(&str, &str)> {
    let mut filters = p.filters();
    filters.insert(
        0,
        (
            r"(?m)^[a-z0-9-]+: http://127\.0\.0\.1:\d+/ (is|did|runs|cannot) .*\n",
            "",
        ),
    );
    filters
}

/// Asserts that a plan of `p` changes nothing.
fn no_changes(p: &Project) {
    assert_eq!(
        p.ok(&["plan", "--detailed-exitcode"], 0).trim(),
        "No changes. Every app runs its declared slug."
    );
}

/// `(key, value)` pairs as a config map.
fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn keys_added_changed_and_removed_while_foreign_keys_stay(p: Project) {
    let p = shop(
        p,
        "[apps.shop.config]\nGREETING = \"hi\"\nREGION = \"eu\"\n",
    );
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(
        config_of(&p, "shop"),
        vars(&[("GREETING", "hi"), ("REGION", "eu")])
    );
    // An add-on's key: not slugplan's to touch.
    set_by_hand(&p, "shop", &[("DATABASE_URL", Some("postgres://addon/db"))]);
    write_shop(
        &p,
        "[apps.shop.config]\nGREETING = \"hello\"\nNEW_KEY = \"x\"\n",
    );
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @r#"
    exit code: 2
    ----- stdout -----
    Drift: releases made outside slugplan
      ! shop runs v3 (SHA256:13992b2c045e…), made outside slugplan: "Set DATABASE_URL config vars"; it already runs the declared slug

    slugplan will perform these actions, shown with these symbols:
      $ set config vars

      # config.shop will be configured
      $ config.shop
          reason:   config vars: 1 to add, 1 to change, 1 to remove
          ~ config.shop: GREETING "hi" → "hello"
          + config.shop: NEW_KEY "x"
          - config.shop: REGION "eu"

    Plan: 0 to build, 0 to upload, 0 to release, 1 to configure.

    ----- stderr -----
    "#);
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(
        config_of(&p, "shop"),
        vars(&[
            ("DATABASE_URL", "postgres://addon/db"),
            ("GREETING", "hello"),
            ("NEW_KEY", "x")
        ])
    );
    no_changes(&p);

    // No config table any more: what slugplan set goes, the add-on's key stays.
    write_shop(&p, "");
    slugplan_snapshot!(same_on_both(&p), p.command(&["apply", "--yes"]), @r#"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      $ set config vars

      # config.shop will be configured
      $ config.shop
          reason:   config vars: 2 to remove
          - config.shop: GREETING "hello"
          - config.shop: NEW_KEY "x"

    Plan: 0 to build, 0 to upload, 0 to release, 1 to configure.
    Apply complete! 0 built, 0 uploaded, 0 released, 1 configured, 1 unchanged.

    ----- stderr -----
     Configuring config.shop
            Done config.shop: v5: unset GREETING, NEW_KEY
    "#);
    assert_eq!(
        config_of(&p, "shop"),
        vars(&[("DATABASE_URL", "postgres://addon/db")])
    );
    no_changes(&p);
}

on_both_platforms!(keys_added_changed_and_removed_while_foreign_keys_stay);

fn a_managed_key_changed_by_hand_is_drift_and_put_back(p: Project) {
    let p = shop(p, "[apps.shop.config]\nGREETING = \"hi\"\nTOKEN = \"t\"\n");
    p.ok(&["apply", "--yes"], 0);
    set_by_hand(&p, "shop", &[("GREETING", Some("hola")), ("TOKEN", None)]);
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @r#"
    exit code: 2
    ----- stdout -----
    Drift: releases made outside slugplan
      ! shop runs v3 (SHA256:13992b2c045e…), made outside slugplan: "Set GREETING and remove TOKEN config vars"; it already runs the declared slug

    Drift: config vars changed outside slugplan
      ! shop: GREETING is "hola", not what slugplan set; this plan sets it back
      ! shop: TOKEN was unset, not what slugplan set; this plan sets it back

    slugplan will perform these actions, shown with these symbols:
      $ set config vars

      # config.shop will be configured
      $ config.shop
          reason:   config vars: 1 to add, 1 to change
          ~ config.shop: GREETING "hola" → "hi"
          + config.shop: TOKEN "t"

    Plan: 0 to build, 0 to upload, 0 to release, 1 to configure.

    ----- stderr -----
    "#);
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(
        config_of(&p, "shop"),
        vars(&[("GREETING", "hi"), ("TOKEN", "t")])
    );
    // slugplan's own config release is no drift.
    no_changes(&p);
}

on_both_platforms!(a_managed_key_changed_by_hand_is_drift_and_put_back);

fn config_is_set_before_the_release_that_needs_it(p: Project) {
    let p = shop(p, "[apps.shop.config]\nGREETING = \"hi\"\n");
    p.ok(&["apply", "--yes"], 0);
    // New code and new config in one apply: the config first, so the new slug's release
    // already carries it.
    p.ctx
        .write("web/web.js", "console.log(process.env.GREETING)\n");
    write_shop(&p, "[apps.shop.config]\nGREETING = \"hello\"\n");
    p.ok(&["apply", "--yes"], 0);
    let releases = releases(&p, "shop");
    assert_eq!(releases.len(), 4, "{releases:?}");
    assert_eq!(releases[0], "v1 Set GREETING config vars");
    assert!(releases[1].starts_with("v2 Deploy web "), "{releases:?}");
    assert_eq!(releases[2], "v3 Set GREETING config vars");
    assert!(releases[3].starts_with("v4 Deploy web "), "{releases:?}");
    assert_eq!(release_config(&p, "shop", 2), vars(&[("GREETING", "hi")]));
    assert_eq!(
        release_config(&p, "shop", 3),
        vars(&[("GREETING", "hello")]),
        "the old slug with the new config"
    );
    assert_eq!(
        release_config(&p, "shop", 4),
        vars(&[("GREETING", "hello")])
    );
}

on_both_platforms!(config_is_set_before_the_release_that_needs_it);

fn rollback_brings_the_earlier_config_back(p: Project) {
    let p = shop(p, "[apps.shop.config]\nGREETING = \"hi\"\n");
    p.ok(&["apply", "--yes"], 0);
    write_shop(&p, "[apps.shop.config]\nGREETING = \"hello\"\n");
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(config_of(&p, "shop"), vars(&[("GREETING", "hello")]));
    // The release before v3 (the config change) is v2: its slug and its config.
    slugplan_snapshot!(p.filters(), p.command(&["rollback", "shop"]), @"
    exit code: 0
    ----- stdout -----
    Rolled back shop to v2: v4 runs slug [UUID] (SHA256:13992b2c045e…).

    ----- stderr -----
    ");
    assert_eq!(config_of(&p, "shop"), vars(&[("GREETING", "hi")]));
    assert_eq!(release_config(&p, "shop", 4), vars(&[("GREETING", "hi")]));
    // The manifest still says hello: the next plan puts it back.
    let plan = p.ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.contains(r#"~ config.shop: GREETING "hi" → "hello""#),
        "{plan}"
    );
}

on_both_platforms!(rollback_brings_the_earlier_config_back);

fn formation_scales_up_and_down_and_leaves_undeclared_types_alone(p: Project) {
    let p = shop(
        p,
        "[apps.shop.formation]\nweb = 1\nworker = { quantity = 2, size = \"standard-1x\" }\n",
    );
    slugplan_snapshot!(
        same_on_both(&p),
        p.command(&["apply", "--yes", "-j", "1"]),
        name = "formation_first_apply"
    );
    assert_eq!(
        formation_of(&p, "shop"),
        ["web=1:Basic", "worker=2:Standard-1X"]
    );
    no_changes(&p);
    // Down, and web no longer declared: scaled by hand, it stays as it is.
    write_shop(&p, "[apps.shop.formation]\nworker = 0\n");
    let updates = [slugplan::platform::FormationUpdate {
        process_type: "web".into(),
        quantity: Some(3),
        size: Some("standard-2x".into()),
    }];
    block_on(platform(&p).update_formation("shop", &updates)).unwrap();
    slugplan_snapshot!(same_on_both(&p), p.command(&["apply", "--yes"]), @r"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      ↕ scale

      # formation.shop.worker will be scaled
      ↕ formation.shop.worker
          reason:   runs 2 × Standard-1X, declared 0
          quantity: 2 → 0

    Plan: 0 to build, 0 to upload, 0 to release, 1 to scale.
    Apply complete! 0 built, 0 uploaded, 0 released, 1 scaled, 1 unchanged.

    ----- stderr -----
         Scaling formation.shop.worker
            Done formation.shop.worker: worker: 2 × Standard-1X → 0 × Standard-1X
    ");
    assert_eq!(
        formation_of(&p, "shop"),
        ["web=3:Standard-2X", "worker=0:Standard-1X"]
    );
}

on_both_platforms!(formation_scales_up_and_down_and_leaves_undeclared_types_alone);

#[test]
fn a_process_type_the_slug_lacks_or_an_unknown_size_is_refused_at_validate() {
    let p = shop(
        Project::local(),
        "[apps.shop.formation]\nclock = 1\nweb = { quantity = 2, size = \"standard-3x\" }\n",
    );
    slugplan_snapshot!(p.filters(), p.command(&["validate"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::manifest::invalid

      × slug.toml has 2 problems

    slugplan::manifest::unknown_process_type

      × app `shop` scales process type `clock`, which slug `web` does not have
        ╭─[slug.toml:9:1]
      8 │ [apps.shop.formation]
      9 │ clock = 1
        · ──┬──
        ·   ╰── not a process type of slug `web`
     10 │ web = { quantity = 2, size = "standard-3x" }
        ╰────
      help: slug `web` has: web, worker

    slugplan::manifest::dyno_size

      × app `shop`: `standard-3x` is not a dyno size of Heroku's Cedar generation, the one that runs slugs
        ╭─[slug.toml:10:30]
      9 │ clock = 1
     10 │ web = { quantity = 2, size = "standard-3x" }
        ·                              ──────┬──────
        ·                                    ╰── unknown dyno size
        ╰────
      help: e.g. eco, basic, standard-1x, standard-2x, performance-m, performance-l (any case); Private-* and Shield-* in Spaces
    "#);
}

#[test]
fn a_no_op_plan_reads_config_and_formation_only_of_the_apps_that_declare_them() {
    let p = shop(
        Project::served(&[]),
        "[apps.shop.config]\nGREETING = \"hi\"\n[apps.shop.formation]\nweb = 1\n\n\
         [apps.plain]\nslug = \"web\"\ncreate = true\n",
    );
    p.ok(&["apply", "--yes"], 0);
    let before = p.requests().len();
    p.ok(&["plan", "--detailed-exitcode"], 0);
    let requests = p.requests()[before..].to_vec();
    let reads = |suffix: &str| -> Vec<&str> {
        let mut paths: Vec<&str> = requests
            .iter()
            .filter(|(_, path)| path.ends_with(suffix))
            .map(|(_, path)| path.as_str())
            .collect();
        paths.sort_unstable();
        paths
    };
    // Each app its releases page (the one slug both run, once): at most 2 reads per app;
    // and the config and the formation of the one app that declares them.
    assert_eq!(
        reads("/releases"),
        ["/apps/plain/releases", "/apps/shop/releases"]
    );
    assert_eq!(
        count(&requests, "GET", |p| p.contains("/slugs/")),
        1,
        "{requests:#?}"
    );
    assert_eq!(reads("/config-vars"), ["/apps/shop/config-vars"]);
    assert_eq!(reads("/formation"), ["/apps/shop/formation"]);
    // (The token check before planning is the command's, not the apps'.)
    let app_reads = requests.iter().filter(|(_, p)| p.starts_with("/apps/"));
    assert_eq!(app_reads.count(), 5, "{requests:#?}");
    assert!(requests.iter().all(|(m, _)| m == "GET"), "{requests:#?}");
}

#[test]
fn a_promoted_app_keeps_its_own_config() {
    let p = shop(
        Project::local(),
        "[apps.shop.config]\nGREETING = \"staging\"\n\n\
         [apps.shop-prod]\npromote_from = \"shop\"\npromote = \"auto\"\n\
         [apps.shop-prod.config]\nGREETING = \"production\"\n",
    );
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(config_of(&p, "shop"), vars(&[("GREETING", "staging")]));
    assert_eq!(
        config_of(&p, "shop-prod"),
        vars(&[("GREETING", "production")])
    );
    // A new slug promoted: production runs it with its own config.
    p.ctx.write("web/web.js", "console.log('v2')\n");
    p.ok(&["apply", "--yes"], 0);
    let prod = releases(&p, "shop-prod");
    let last = prod.len() as u64;
    assert_eq!(
        release_config(&p, "shop-prod", last),
        vars(&[("GREETING", "production")]),
        "{prod:?}"
    );
}

/// Staging and production run one slug; staging gets new code (`apply --target shop`), then,
/// a second later (release times have one-second resolution), production's config changes by
/// hand: a newer release than staging's, of production's old slug.
fn production_behind_with_newer_config(promote: &str) -> Project {
    let p = shop(
        Project::local(),
        &format!(
            "[apps.shop-prod]\npromote_from = \"shop\"\npromote = \"{promote}\"\n\
             config = {{ GREETING = \"hi\" }}\n"
        ),
    );
    p.ok(&["apply", "--yes"], 0);
    p.ok(&["promote", "shop", "--yes"], 0);
    p.ctx.write("web/web.js", "console.log('v2')\n");
    p.ok(&["apply", "--yes", "--target", "shop"], 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    set_by_hand(&p, "shop-prod", &[("FEATURE", Some("on"))]);
    p
}

#[test]
fn a_promotion_target_newer_only_by_its_config_is_no_downgrade() {
    let p = production_behind_with_newer_config("auto");
    let plan = p.ok(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("» promote.shop-prod"), "{plan}");
    assert!(
        !plan.contains("downgrade"),
        "a config change is no newer deploy:\n{plan}"
    );
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(
        config_of(&p, "shop-prod")["FEATURE"],
        "on",
        "a foreign key, kept"
    );

    // `slugplan promote` judges it alike.
    let p = production_behind_with_newer_config("manual");
    let out = p.ok(&["promote", "shop", "--yes"], 0);
    assert!(!out.contains("downgrade"), "{out}");
}
