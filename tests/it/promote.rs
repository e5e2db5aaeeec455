//! Promotion, pipelines, rollback and release history, end to end: the real binary against the
//! embedded local platform and, through the Heroku API client, a real `slugplan server`.
//!
//! The slugs are tiny app-only archives (no runtimes, no Go), so every test is quick.

use serde_json::{Value, json};

use crate::common::project::{Project, count};
use crate::common::server::block_on;
use crate::common::{slugplan_snapshot, stderr};

mod gate;
mod history;
mod safety;

const PROMOTE_TO_EU: &[&str] = &[
    "promote",
    "web-staging",
    "--to",
    "web-prod-eu",
    "--json",
    "--yes",
];
const TARGETS: [&str; 3] = ["web-prod-ap", "web-prod-eu", "web-prod-us"];

/// `web-staging` runs slug `web`; three production apps promote from it (in pipeline `web` when
/// `pipeline`), on the embedded local platform.
fn local(pipeline: bool) -> Project {
    web(Project::local(), pipeline)
}

/// The same project deploying through a fresh `slugplan server` started with `flags`.
fn served(pipeline: bool, flags: &[&str]) -> Project {
    web(Project::served(flags), pipeline)
}

fn web(p: Project, pipeline: bool) -> Project {
    p.ctx.write("web/web.js", "console.log('v1')\n");
    write_manifest(&p, pipeline, &[]);
    p
}

/// Writes slug.toml; `more` adds production apps promoting from web-staging. Every apply
/// promotes them (`promote = "auto"`): these tests are about promotions themselves.
fn write_manifest(p: &Project, pipeline: bool, more: &[&str]) {
    let mut text = p.platform_table();
    let app = |stage: &str| {
        let mut lines = String::from("create = true\n");
        if pipeline {
            lines.push_str(&format!("pipeline = \"web\"\nstage = \"{stage}\"\n"));
        }
        lines
    };
    text.push_str("[slugs.web]\nsource = \"web\"\nprocess_types = { web = \"node web.js\" }\n\n");
    text.push_str(&format!(
        "[apps.web-staging]\nslug = \"web\"\n{}\n",
        app("staging")
    ));
    for target in TARGETS.iter().chain(more) {
        text.push_str(&format!(
            "[apps.{target}]\npromote_from = \"web-staging\"\npromote = \"auto\"\n{}\n",
            app("production")
        ));
    }
    p.ctx.write("slug.toml", text);
}

/// `slugplan releases APP --json`, newest first.
fn releases(p: &Project, app: &str) -> Vec<Value> {
    let doc = p.json(&["releases", app, "--json"], 0);
    assert_eq!(doc["format_version"], 1);
    doc["releases"].as_array().unwrap().clone()
}

/// The checksum of what `app` runs (its current, succeeded release).
fn running(p: &Project, app: &str) -> String {
    let releases = releases(p, app);
    let current = releases
        .iter()
        .find(|r| r["current"] == true && r["status"] == "succeeded")
        .unwrap_or_else(|| panic!("{app} runs nothing: {releases:#?}"));
    current["checksum"].as_str().unwrap().to_owned()
}

/// Staging gets a new slug; the production apps still run the old one.
fn new_staging_release(p: &Project, text: &str) {
    p.ctx.write("web/web.js", text);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
}

/// The promote steps of an `apply --json` document, by address: (outcome, detail).
fn promote_steps(doc: &Value) -> Vec<(String, String, String)> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["address"].as_str().unwrap().starts_with("promote."))
        .map(|s| {
            (
                s["address"].as_str().unwrap().to_owned(),
                s["outcome"].as_str().unwrap().to_owned(),
                s["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Staging runs a new slug the production apps do not (in pipeline `web`): the plan shows each
/// promotion, and one apply promotes it to all three, building and uploading nothing and making
/// three releases.
fn promote_to_three_production_apps(p: &Project) -> Value {
    let staging = running(p, "web-staging");
    assert_ne!(staging, running(p, "web-prod-eu"));

    // Each promotion with its source release and both checksums, through the pipeline: the
    // same plan on either platform (both tests assert this one snapshot).
    insta::allow_duplicates! {
        slugplan_snapshot!(p.filters(), p.command(&["plan"]), @"
        exit code: 0
        ----- stdout -----
        slugplan will perform these actions, shown with these symbols:
          » promote

          # promote.web-prod-ap will be promoted
          » promote.web-prod-ap
              reason:   runs SHA256:6f688d0dfc99… (v1), declared SHA256:d184cd54bab1…; promoted from web-staging
              checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…
              from:     web-staging v2 (SHA256:d184cd54bab1…)
              target:   runs v1 (SHA256:6f688d0dfc99…)
              via:      pipeline web (one promotion)

          # promote.web-prod-eu will be promoted
          » promote.web-prod-eu
              reason:   runs SHA256:6f688d0dfc99… (v1), declared SHA256:d184cd54bab1…; promoted from web-staging
              checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…
              from:     web-staging v2 (SHA256:d184cd54bab1…)
              target:   runs v1 (SHA256:6f688d0dfc99…)
              via:      pipeline web (one promotion)

          # promote.web-prod-us will be promoted
          » promote.web-prod-us
              reason:   runs SHA256:6f688d0dfc99… (v1), declared SHA256:d184cd54bab1…; promoted from web-staging
              checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…
              from:     web-staging v2 (SHA256:d184cd54bab1…)
              target:   runs v1 (SHA256:6f688d0dfc99…)
              via:      pipeline web (one promotion)

        Plan: 0 to build, 0 to upload, 3 to release.

        ----- stderr -----
        ");
    }

    let doc = p.json(&["apply", "--yes", "--json"], 0);
    assert_eq!(doc["outcome"]["built"], 0, "{doc:#}");
    assert_eq!(doc["outcome"]["uploaded"], 0, "{doc:#}");
    assert_eq!(doc["outcome"]["released"], 3, "{doc:#}");
    let steps = promote_steps(&doc);
    assert_eq!(steps.len(), 3, "{doc:#}");
    for (address, outcome, _) in &steps {
        assert_eq!(outcome, "done", "{address}: {doc:#}");
    }
    for target in TARGETS {
        assert_eq!(running(p, target), staging, "{target}");
        let newest = &releases(p, target)[0];
        assert_eq!(newest["version"], 2);
        assert_eq!(newest["by_slugplan"], true);
    }
    assert_eq!(
        p.ok(&["plan"], 0).trim(),
        "No changes. Every app runs its declared slug."
    );
    doc
}

#[test]
fn staging_promotes_to_three_production_apps_on_the_local_platform() {
    let p = local(true);
    p.ok(&["apply", "--yes"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let doc = promote_to_three_production_apps(&p);
    for (address, _, detail) in promote_steps(&doc) {
        assert!(
            detail.contains("pipeline promotion of web-staging v2"),
            "{address}: {detail}"
        );
    }
}

#[test]
fn through_the_server_one_pipeline_promotion_releases_all_three_targets() {
    let p = served(true, &[]);
    p.ok(&["apply", "--yes"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let before = p.requests().len();
    let doc = promote_to_three_production_apps(&p);
    for (address, _, detail) in promote_steps(&doc) {
        assert!(detail.contains("pipeline promotion"), "{address}: {detail}");
    }
    let sent = p.requests()[before..].to_vec();
    let promotions = count(&sent, "POST", |p| p == "/pipeline-promotions");
    let slugs = count(&sent, "POST", |p| p.ends_with("/slugs"));
    let blobs = count(&sent, "PUT", |p| p.starts_with("/blobs/"));
    let releases = count(&sent, "POST", |p| p.ends_with("/releases"));
    assert_eq!(
        (promotions, slugs, blobs, releases),
        (1, 0, 0, 0),
        "{sent:#?}"
    );

    // With nothing to do, a plan checks the token, reads each app's release, the shared slug
    // once, each coupling and the pipeline: no app reads, no writes.
    let before = p.requests().len();
    p.ok(&["plan", "--detailed-exitcode"], 0);
    let sent = p.requests()[before..].to_vec();
    assert!(sent.iter().all(|(m, _)| m == "GET"), "{sent:#?}");
    assert_eq!(
        count(&sent, "GET", |p| p.starts_with("/apps/")
            && p.matches('/').count() == 2),
        0,
        "{sent:#?}"
    );
    assert!(sent.len() <= 1 + 4 + 1 + 4 + 1, "{sent:#?}");
}

#[test]
fn couplings_that_are_missing_or_differ_are_planned_and_fixed() {
    let p = served(true, &[]);
    let api = p.api();
    block_on(async {
        let web = api
            .create("/pipelines", json!({"name": "web"}), "pipeline")
            .await;
        let other = api
            .create("/pipelines", json!({"name": "other"}), "pipeline")
            .await;
        for app in ["web-prod-eu", "web-prod-us"] {
            api.create("/apps", json!({"name": app}), "app").await;
        }
        api.create(
            "/pipeline-couplings",
            json!({"app": "web-prod-eu", "pipeline": web["id"], "stage": "staging"}),
            "pipeline-coupling",
        )
        .await;
        api.create(
            "/pipeline-couplings",
            json!({"app": "web-prod-us", "pipeline": other["id"], "stage": "production"}),
            "pipeline-coupling",
        )
        .await;
    });
    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      + create
      ↑ upload
      ~ release
      » promote
      & couple to a pipeline

      # app.web-prod-ap will be created
      + app.web-prod-ap
          reason:   app does not exist yet

      # app.web-staging will be created
      + app.web-staging
          reason:   app does not exist yet

      # coupling.web-prod-ap will be coupled
      & coupling.web-prod-ap
          reason:   in no pipeline: couple to web at production

      # coupling.web-prod-eu will be coupled
      & coupling.web-prod-eu
          reason:   coupled to web at staging, declared production

      # coupling.web-prod-us will be coupled
      & coupling.web-prod-us
          reason:   coupled to another pipeline ([UUID]) at production, declared web at production

      # coupling.web-staging will be coupled
      & coupling.web-staging
          reason:   in no pipeline: couple to web at staging

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   forces new slug: first build
          checksum: SHA256:6f688d0dfc99…

      # upload.web→web-staging will be uploaded
      ↑ upload.web→web-staging
          reason:   not on the platform yet
          checksum: SHA256:6f688d0dfc99…

      # release.web-staging will be released
      ~ release.web-staging
          reason:   new app
          checksum: SHA256:6f688d0dfc99…

      # promote.web-prod-ap will be promoted
      » promote.web-prod-ap
          reason:   new app; promoted from web-staging
          checksum: SHA256:6f688d0dfc99…
          from:     web-staging (released earlier in this apply, SHA256:6f688d0dfc99…)
          target:   runs no release (no slug)
          via:      pipeline web (one promotion)

      # promote.web-prod-eu will be promoted
      » promote.web-prod-eu
          reason:   no release yet; promoted from web-staging
          checksum: SHA256:6f688d0dfc99…
          from:     web-staging (released earlier in this apply, SHA256:6f688d0dfc99…)
          target:   runs no release (no slug)
          via:      pipeline web (one promotion)

      # promote.web-prod-us will be promoted
      » promote.web-prod-us
          reason:   no release yet; promoted from web-staging
          checksum: SHA256:6f688d0dfc99…
          from:     web-staging (released earlier in this apply, SHA256:6f688d0dfc99…)
          target:   runs no release (no slug)
          via:      pipeline web (one promotion)

    Plan: 2 to create, 4 to couple, 1 to build, 1 to upload, 4 to release.

    ----- stderr -----
         Packing web (2.56 kB of tar)
    ");

    let before = p.requests().len();
    p.ok(&["apply", "--yes"], 0);
    let sent = p.requests()[before..].to_vec();
    assert_eq!(
        count(&sent, "PATCH", |p| p.starts_with("/pipeline-couplings/")),
        1,
        "{sent:#?}"
    );
    assert_eq!(
        count(&sent, "DELETE", |p| p.starts_with("/pipeline-couplings/")),
        1,
        "{sent:#?}"
    );
    block_on(async {
        let web = api.get("/pipelines/web").await.body;
        for app in TARGETS {
            let coupling = api
                .get(&format!("/apps/{app}/pipeline-couplings"))
                .await
                .body;
            let by_id = format!("/pipeline-couplings/{}", coupling["id"].as_str().unwrap());
            assert_eq!(api.read(&by_id, "pipeline-coupling").await, coupling);
            assert_eq!(coupling["stage"], "production", "{app}: {coupling}");
            assert_eq!(coupling["pipeline"]["id"], web["id"], "{app}: {coupling}");
        }
    });
    assert_eq!(
        p.ok(&["plan"], 0).trim(),
        "No changes. Every app runs its declared slug."
    );
}

#[test]
fn a_failed_target_is_reported_by_name_while_the_others_succeed() {
    // Releases: staging is #1, the three targets #2..#4 in one promotion; #3 fails.
    let p = served(true, &["--fault-release-fail-every", "3"]);
    let out = p.run(&["apply", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = promote_steps(&doc);
    assert_eq!(steps.len(), 3, "{doc:#}");
    let failed: Vec<_> = steps.iter().filter(|s| s.1 == "failed").collect();
    assert_eq!(failed.len(), 1, "{steps:#?}");
    let (address, _, detail) = failed[0];
    let name = address.strip_prefix("promote.").unwrap();
    assert!(
        detail.contains(&format!("promotion to {name} failed")),
        "{detail}"
    );
    assert!(
        doc["error"]["related"][0]["message"]
            .as_str()
            .unwrap()
            .contains(address.as_str()),
        "{doc:#}"
    );
    insta::assert_snapshot!(p.ctx.redact(&stderr(&out)), @"
    × 1 step failed: promote.web-prod-eu
    help: fix the cause and run `slugplan apply` again: finished steps are not redone

    × promote.web-prod-eu: promotion to web-prod-eu failed: the release on the target app failed
    ");
    let staging = running(&p, "web-staging");
    for target in TARGETS.iter().filter(|t| **t != name) {
        assert_eq!(running(&p, target), staging, "{target}");
    }
    assert_eq!(releases(&p, name)[0]["status"], "failed");
}

#[test]
fn promote_releases_the_sources_slug_to_the_manifests_targets_and_reports_json() {
    let p = local(false);
    p.ok(&["apply", "--yes"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let staging = running(&p, "web-staging");

    // Named twice, promoted to once.
    let twice = [PROMOTE_TO_EU, &["--to", "web-prod-eu"]].concat();
    let only = p.json(&twice, 0);
    assert_eq!(only["targets"].as_array().unwrap().len(), 1, "{only:#}");
    assert_eq!(running(&p, "web-prod-eu"), staging);

    let doc = p.json(&["promote", "web-staging", "--json", "--yes"], 0);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["applied"], true);
    assert_eq!(doc["source"]["app"], "web-staging");
    assert_eq!(doc["source"]["version"], 2);
    assert_eq!(doc["source"]["checksum"], staging.as_str());
    assert_eq!(
        (doc["promoted"].as_u64(), doc["unchanged"].as_u64()),
        (Some(2), Some(1))
    );
    let targets = doc["targets"].as_array().unwrap();
    let names: Vec<&str> = targets.iter().map(|t| t["app"].as_str().unwrap()).collect();
    assert_eq!(names, TARGETS);
    for target in targets {
        assert_eq!(target["checksum"], staging.as_str(), "{target}");
        assert_eq!(target["via"], "release");
    }
    let again = p.json(&["promote", "web-staging", "--json", "--yes"], 0);
    assert_eq!(again["applied"], false);
    assert_eq!(
        (again["promoted"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3))
    );
    // The same fields for a target left as it is as for one promoted.
    for target in again["targets"].as_array().unwrap() {
        assert_eq!(target["status"], "unchanged", "{target}");
        assert_eq!(target["checksum"], staging.as_str(), "{target}");
        assert!(target.get("error").is_some(), "{target}");
    }
    // The source itself, named by another app's promotion, is refused by app id.
    slugplan_snapshot!(p.filters(), p.command(&["promote", "web-staging", "--to", "web-staging", "--yes"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × promotion refused for web-staging
      help: nothing was released; fix the targets named below and plan again

      × web-staging is the source app web-staging itself (same app id [UUID])
      help: name a different target app
    ");
    slugplan_snapshot!(p.filters(), p.command(&["history", "--limit", "1"]), @"
    exit code: 0
    ----- stdout -----
    #4 [TIME] slugplan promote web-staging --json --yes (succeeded) on local:[PROJECT]/.slugplan/platform
        [TIME] promoted promote  promote.web-prod-ap
            v2 via release
        [TIME] unchanged promote  promote.web-prod-eu
            v2 via release
        [TIME] promoted promote  promote.web-prod-us
            v2 via release

    ----- stderr -----
    ");
}

#[test]
fn promote_through_a_pipeline_reports_each_target_and_names_the_one_that_failed() {
    // Releases: the first apply makes #1-#4, staging's new one is #5; of the promotion's three
    // (#6-#8, targets in name order) the first fails.
    let p = served(true, &["--fault-release-fail-every", "6"]);
    p.ok(&["apply", "--yes"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let staging = running(&p, "web-staging");
    let before = p.requests().len();
    let out = p.run(&["promote", "web-staging", "--json", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    insta::assert_snapshot!(p.ctx.redact(&stderr(&out)), @"
    × promotion failed for web-prod-ap
    help: the other targets were promoted; fix the cause and run the promotion again
    ");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent = p.requests()[before..].to_vec();
    assert_eq!(
        count(&sent, "POST", |p| p == "/pipeline-promotions"),
        1,
        "{sent:#?}"
    );
    assert_eq!(
        (doc["promoted"].as_u64(), doc["failed"].as_u64()),
        (Some(2), Some(1))
    );
    for target in doc["targets"].as_array().unwrap() {
        assert_eq!(target["via"], "pipeline", "{target}");
        let app = target["app"].as_str().unwrap();
        if app == "web-prod-ap" {
            assert_eq!(target["status"], "failed");
            let error = target["error"].as_str().unwrap();
            assert!(
                error.starts_with("promotion to web-prod-ap failed"),
                "{error}"
            );
        } else {
            assert_eq!(target["status"], "promoted", "{target}");
            assert_eq!(running(&p, app), staging);
        }
    }
    // Run again, only the failed target is left to promote.
    let again = p.json(&["promote", "web-staging", "--json", "--yes"], 0);
    assert_eq!(
        (again["promoted"].as_u64(), again["unchanged"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(running(&p, "web-prod-ap"), staging);
}
