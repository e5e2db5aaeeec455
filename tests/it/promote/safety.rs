//! Promotion safety end to end: targets refused before anything is released (another stack,
//! Fir), a source whose newest release failed or that runs nothing, and a target newer than its
//! source (drift that needs `--allow-downgrade`).

use serde_json::json;

use super::{
    PROMOTE_TO_EU, block_on, new_staging_release, releases, running, served, write_manifest,
};
use crate::common::{slugplan_snapshot, stderr, stdout};

#[test]
fn targets_on_another_stack_or_of_the_fir_generation_are_refused_at_plan_time() {
    let p = served(false, &[]);
    p.ok(&["apply", "--yes"], 0);
    let api = p.api();
    block_on(async {
        api.create(
            "/apps",
            json!({"name": "web-prod-old", "stack": "heroku-22"}),
            "app",
        )
        .await;
        api.create(
            "/apps",
            json!({"name": "web-prod-fir", "generation": "fir"}),
            "app",
        )
        .await;
    });
    write_manifest(&p, false, &["web-prod-old", "web-prod-fir"]);
    new_staging_release(&p, "console.log('v2')\n");

    let before = p.requests().len();
    let plan = slugplan_snapshot!(p.filters(), p.command(&["plan"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × promotion refused for web-prod-fir, web-prod-old
      help: nothing was released; fix the targets named below and plan again

      × web-prod-fir is a Fir-generation app, which runs OCI images, not slugs
      help: remove web-prod-fir from the promotion, or deploy it with a container image

      × web-prod-old runs on heroku-22, but web-staging's slug was built for heroku-24
      help: move web-prod-old to heroku-24 (`heroku stack:set heroku-24 -a web-prod-old`), or build a slug for heroku-22
    ");
    // Apply refuses with the same words, before anything is released.
    let apply = p.run(&["apply", "--yes"]);
    assert_eq!(
        (apply.status.code(), stdout(&apply), stderr(&apply)),
        (plan.status.code(), stdout(&plan), stderr(&plan))
    );
    let sent = p.requests()[before..].to_vec();
    assert!(
        sent.iter().all(|(m, _)| m == "GET"),
        "nothing written: {sent:#?}"
    );
    assert!(releases(&p, "web-prod-old").is_empty());
    assert_eq!(releases(&p, "web-prod-eu")[0]["version"], 1);
}

#[test]
fn a_failed_or_missing_newest_release_of_the_source_is_not_what_gets_promoted() {
    // Every second release fails: staging's v1 succeeds, its v2 fails.
    let p = served(false, &["--fault-release-fail-every", "2"]);
    let api = p.api();
    block_on(async {
        for app in ["web-staging", "web-prod-eu"] {
            api.create("/apps", json!({"name": app}), "app").await;
        }
    });
    slugplan_snapshot!(p.filters(), p.command(&["promote", "web-staging", "--to", "web-prod-eu", "--yes"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × web-staging has no successful current release to promote
      help: release to web-staging first; a pending or failed newest release is not what it runs
    ");

    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    let v1 = running(&p, "web-staging");
    p.ctx.write("web/web.js", "console.log('v2')\n");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "--target", "web-staging"]), @"
    exit code: 1
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      ↑ upload
      ~ release

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   forces new slug: web.js changed
          checksum: SHA256:d184cd54bab1…

      # upload.web→web-staging will be uploaded
      ↑ upload.web→web-staging
          reason:   not on the platform yet
          checksum: SHA256:d184cd54bab1…

      # release.web-staging will be released
      ~ release.web-staging
          reason:   runs SHA256:6f688d0dfc99… (v1), declared SHA256:d184cd54bab1…
          checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…

    Plan: 1 to build, 1 to upload, 1 to release.

    ----- stderr -----
         Packing web (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       release.web-staging
      also needed: slug.web@heroku-24 (build)
                   upload.web→web-staging (upload)
       Uploading upload.web→web-staging
            Done upload.web→web-staging: slug [UUID] (166 B) through web-staging
       Releasing release.web-staging
          Failed release.web-staging: release v2 of web-staging failed
      × 1 step failed: release.web-staging
      help: fix the cause and run `slugplan apply` again: finished steps are not redone

      × release.web-staging: release v2 of web-staging failed
    ");
    assert_eq!(releases(&p, "web-staging")[0]["status"], "failed");

    let doc = p.json(PROMOTE_TO_EU, 0);
    assert_eq!(doc["source"]["version"], 1, "{doc:#}");
    assert_eq!(running(&p, "web-prod-eu"), v1);
}

#[test]
fn a_target_newer_than_its_source_is_drift_and_needs_allow_downgrade() {
    let p = served(false, &[]);
    p.ok(&["apply", "--yes"], 0);
    // Release times have one-second resolution: make the hotfix unmistakably newer.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.release_by_hand("web-prod-eu", b"hotfix", Some("Hotfix by hand"));
    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @r#"
    exit code: 0
    ----- stdout -----
    Drift: releases made outside slugplan
      ! web-prod-eu runs v2 (SHA256:eda660b86a32…), made outside slugplan: "Hotfix by hand"; this plan replaces it
        v2 is newer than web-staging's v1: promoting downgrades it; apply needs --allow-downgrade

    slugplan will perform these actions, shown with these symbols:
      » promote

      # promote.web-prod-eu will be promoted
      » promote.web-prod-eu
          reason:   runs SHA256:eda660b86a32… (v2), declared SHA256:6f688d0dfc99…; promoted from web-staging
          checksum: SHA256:eda660b86a32… → SHA256:6f688d0dfc99…
          from:     web-staging v1 (SHA256:6f688d0dfc99…)
          target:   runs v2 (SHA256:eda660b86a32…), newer than the source
          via:      release of the source's slug id

    Plan: 0 to build, 0 to upload, 1 to release.

    ----- stderr -----
    "#);

    let before = p.requests().len();
    let plan = p.ok(&["plan"], 0);
    let out = p.run(&["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), plan, "the plan, then the refusal");
    insta::assert_snapshot!(p.ctx.redact(&stderr(&out)), @"
    slugplan::apply::downgrade

      × promoting would downgrade promote.web-prod-eu: each runs a release newer than its source's
      help: nothing was released; pass --allow-downgrade to overwrite them
    ");
    let sent = p.requests()[before..].to_vec();
    assert!(
        sent.iter().all(|(m, _)| m == "GET"),
        "nothing written: {sent:#?}"
    );

    p.ok(&["apply", "--yes", "--allow-downgrade"], 0);
    assert_eq!(running(&p, "web-prod-eu"), running(&p, "web-staging"));
}
