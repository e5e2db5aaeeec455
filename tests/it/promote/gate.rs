//! Who promotes, and what `--target` takes along: `promote = "manual"` (the default) leaves a
//! promotion to `slugplan promote`, and a plan only says the target is behind; a promotion named
//! by `--target` promotes what its source runs now, without releasing the source first, and the
//! plan warns that targeting is in effect, listing what it added.

use super::{local, new_staging_release, releases, running};
use crate::common::project::Project;
use crate::common::slugplan_snapshot;

/// Staging runs slug `web`; production promotes from it, by hand (no `promote` key).
fn by_hand() -> Project {
    let p = Project::local();
    p.ctx.write("web/web.js", "console.log('v1')\n");
    p.ctx.write(
        "slug.toml",
        r#"[slugs.web]
source = "web"
process_types = { web = "node web.js" }

[apps.web-staging]
slug = "web"

[apps.web-prod]
promote_from = "web-staging"
"#,
    );
    p
}

#[test]
fn by_default_apply_releases_the_source_only_and_the_plan_says_production_is_behind() {
    let p = by_hand();
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "-j", "1"]), @r#"
    exit code: 0
    ----- stdout -----
    Promotions waiting (promote = "manual"):
      - web-prod will be behind web-staging: after this apply, run `slugplan promote web-staging`
          runs nothing yet, web-staging gets SHA256:6f688d0dfc99…

    slugplan will perform these actions, shown with these symbols:
      * build
      + create
      ↑ upload
      ~ release

      # app.web-prod will be created
      + app.web-prod
          reason:   app does not exist yet

      # app.web-staging will be created
      + app.web-staging
          reason:   app does not exist yet

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

    Plan: 2 to create, 1 to build, 1 to upload, 1 to release.
    Apply complete! 2 created, 1 built, 1 uploaded, 1 released, 1 unchanged.
    web-staging: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it

    ----- stderr -----
         Packing web (2.56 kB of tar)
        Creating app.web-prod
            Done app.web-prod: created [UUID] on heroku-24
        Creating app.web-staging
            Done app.web-staging: created [UUID] on heroku-24
       Uploading upload.web→web-staging
            Done upload.web→web-staging: slug [UUID] (166 B) through web-staging
       Releasing release.web-staging
            Done release.web-staging: v1 runs slug [UUID]
    "#);
    assert!(releases(&p, "web-prod").is_empty(), "nothing promoted");
    // Being behind is no change: CI's drift gate stays green.
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @r#"
    exit code: 0
    ----- stdout -----
    Promotions waiting (promote = "manual"):
      - web-prod is behind web-staging: run `slugplan promote web-staging`
          runs nothing yet, web-staging runs SHA256:6f688d0dfc99…

    No changes to apply. Promotions wait for `slugplan promote`.

    ----- stderr -----
    "#);
    p.ok(&["promote", "web-staging", "--yes"], 0);
    assert_eq!(running(&p, "web-prod"), running(&p, "web-staging"));
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");

    // An edit: staging is released; production will be behind it once that is done.
    p.ctx.write("web/web.js", "console.log('v2')\n");
    let doc = p.json(&["plan", "--json", "--detailed-exitcode"], 2);
    assert_eq!(doc["behind"][0]["app"], "web-prod", "{doc:#}");
    assert_eq!(doc["behind"][0]["source_planned"], true, "{doc:#}");
    assert_eq!(doc["summary"]["release"], 1, "{doc:#}");
}

#[test]
fn naming_a_manual_promotion_with_target_promotes_what_its_source_runs_now() {
    let p = by_hand();
    p.ok(&["apply", "--yes"], 0);
    // Staging's source changes, but only production is named: staging is not built, uploaded or
    // released; production gets what staging runs now.
    p.ctx.write("web/web.js", "console.log('v2')\n");
    let staging = running(&p, "web-staging");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "--target", "web-prod"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      » promote

      # promote.web-prod will be promoted
      » promote.web-prod
          reason:   no release yet; promoted from web-staging
          checksum: SHA256:6f688d0dfc99…
          from:     web-staging v1 (SHA256:6f688d0dfc99…)
          target:   runs no release (no slug)
          via:      release of the source's slug id

    Plan: 0 to build, 0 to upload, 1 to release.
    Apply complete! 0 built, 0 uploaded, 1 released, 0 unchanged.
    web-prod: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it

    ----- stderr -----
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       promote.web-prod
      also needed: nothing that changes
      promote.web-prod promotes what web-staging runs now (not targeted, web-staging is not released first)
       Promoting promote.web-prod
            Done promote.web-prod: v1 runs slug [UUID] (release of the slug id of web-staging v1)
    ");
    assert_eq!(running(&p, "web-prod"), staging);
    assert_eq!(
        running(&p, "web-staging"),
        staging,
        "staging left as it was"
    );
}

#[test]
fn a_targeted_auto_promotion_no_longer_drags_its_sources_release_in() {
    // Every apply promotes here; staging's source changes.
    let p = local(false);
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("web/web.js", "console.log('v2')\n");
    // web-prod-eu runs what staging runs now: nothing to do, and nothing of staging's.
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--target", "web-prod-eu"]), @"
    exit code: 0
    ----- stdout -----
    No changes to the targeted steps.

    ----- stderr -----
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       promote.web-prod-eu
      also needed: nothing that changes
    ");
    // Named together, staging is released first and the promotion takes its new slug.
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--target", "web-prod-eu", "--target", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      ↑ upload
      ~ release
      » promote

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

      # promote.web-prod-eu will be promoted
      » promote.web-prod-eu
          reason:   runs SHA256:6f688d0dfc99… (v1), declared SHA256:d184cd54bab1…; promoted from web-staging
          checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…
          from:     web-staging (released earlier in this apply, SHA256:d184cd54bab1…)
          target:   runs v1 (SHA256:6f688d0dfc99…)
          via:      release of the source's slug id

    Plan: 1 to build, 1 to upload, 2 to release.

    ----- stderr -----
         Packing web (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       promote.web-prod-eu, release.web-staging
      also needed: slug.web@heroku-24 (build)
                   upload.web→web-staging (upload)
    ");

    // Once staging is ahead, the promotion alone catches up with it.
    new_staging_release(&p, "console.log('v3')\n");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "--target", "web-prod-eu"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      » promote

      # promote.web-prod-eu will be promoted
      » promote.web-prod-eu
          reason:   runs SHA256:6f688d0dfc99… (v1), web-staging runs SHA256:82a1b30b9d3c… (v2); promoted from web-staging
          checksum: SHA256:6f688d0dfc99… → SHA256:82a1b30b9d3c…
          from:     web-staging v2 (SHA256:82a1b30b9d3c…)
          target:   runs v1 (SHA256:6f688d0dfc99…)
          via:      release of the source's slug id

    Plan: 0 to build, 0 to upload, 1 to release.
    Apply complete! 0 built, 0 uploaded, 1 released, 0 unchanged.
    web-prod-eu: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it

    ----- stderr -----
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       promote.web-prod-eu
      also needed: nothing that changes
      promote.web-prod-eu promotes what web-staging runs now (not targeted, web-staging is not released first)
       Promoting promote.web-prod-eu
            Done promote.web-prod-eu: v2 runs slug [UUID] (release of the slug id of web-staging v2)
    ");
    assert_eq!(running(&p, "web-prod-eu"), running(&p, "web-staging"));
    assert_ne!(running(&p, "web-prod-us"), running(&p, "web-staging"));
}
