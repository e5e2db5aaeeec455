//! `slugplan releases` and `slugplan rollback`: an app's history with checksums and who made
//! each release, and going back in it without building or uploading. A rollback is an
//! apply-like operation: under the apply lock, in the audit log, slugplan's in `releases` and in
//! the next plan, which says the app runs an older release than declared.

use std::time::Duration;

use super::{local, new_staging_release, releases, running, served};
use crate::common::{hold_apply_lock, slugplan_snapshot};

/// Staging and the three production apps run v1, then v2 (each apply promotes), a second
/// apart (releases are timed to the second), and a second passes: a rollback made now is newer
/// by the clock than every release before it.
fn everyone_on_v2() -> crate::common::project::Project {
    let p = local(false);
    p.ok(&["apply", "--yes"], 0);
    std::thread::sleep(Duration::from_millis(1100));
    p.ctx.write("web/web.js", "console.log('v2')\n");
    p.ok(&["apply", "--yes"], 0);
    std::thread::sleep(Duration::from_millis(1100));
    p
}

#[test]
fn rollback_to_v1_after_two_releases_runs_v1s_checksum() {
    let p = local(false);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let history = releases(&p, "web-staging");
    let (v2, v1) = (&history[0], &history[1]);
    assert_eq!(
        (v2["version"].as_u64(), v1["version"].as_u64()),
        (Some(2), Some(1))
    );
    assert_ne!(v1["checksum"], v2["checksum"]);

    let doc = p.json(&["rollback", "web-staging", "--to", "v1", "--json"], 0);
    let rollback = &doc["rollback"];
    assert_eq!(rollback["to_version"], 1, "{doc:#}");
    assert_eq!(rollback["from_version"], 2, "{doc:#}");
    assert_eq!(rollback["version"], 3, "{doc:#}");
    assert_eq!(rollback["checksum"], v1["checksum"], "{doc:#}");
    assert_eq!(running(&p, "web-staging"), v1["checksum"].as_str().unwrap());

    // By default: the release before the running one, here v2.
    slugplan_snapshot!(p.filters(), p.command(&["rollback", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    Rolled back web-staging to v2: v4 runs slug [UUID] (SHA256:d184cd54bab1…).

    ----- stderr -----
    ");
    assert_eq!(running(&p, "web-staging"), v2["checksum"].as_str().unwrap());

    slugplan_snapshot!(p.filters(), p.command(&["releases", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    === web-staging Releases
    v4    SHA256:d184cd54bab1…        succeeded  current  slugplan  [TIME]  Rollback to v2
    v3    SHA256:6f688d0dfc99…        succeeded           slugplan  [TIME]  Rollback to v1
    v2    SHA256:d184cd54bab1…        succeeded           slugplan  [TIME]  Deploy web SHA256:d184cd54bab1… (slugplan)
    v1    SHA256:6f688d0dfc99…        succeeded           slugplan  [TIME]  Deploy web SHA256:6f688d0dfc99… (slugplan)

    ----- stderr -----
    ");
    slugplan_snapshot!(p.filters(), p.command(&["rollback", "web-staging", "--to", "v9"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × reading release v9 of web-staging
      ╰─▶   × not found: Couldn't find that release: 9 of web-staging
    ");
}

#[test]
fn releases_tells_slugplans_releases_from_others_by_state_or_marker() {
    let p = served(false, &[]);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    p.release_by_hand("web-staging", b"by hand", Some("Deployed by hand"));
    p.release_by_hand(
        "web-staging",
        b"another machine",
        Some("Deploy web SHA256:abc (slugplan)"),
    );
    let history = releases(&p, "web-staging");
    let made: Vec<(u64, bool)> = history
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["by_slugplan"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(made, [(3, true), (2, false), (1, true)]);
    for release in &history {
        assert!(release["checksum"].as_str().unwrap().starts_with("SHA256:"));
    }
    slugplan_snapshot!(p.filters(), p.command(&["releases", "web-staging"]), @"
    exit code: 0
    ----- stdout -----
    === web-staging Releases
    v3    SHA256:4bca39b228bf…        succeeded  current  slugplan  [TIME]  Deploy web SHA256:abc (slugplan)
    v2    SHA256:c9616cb59d02…        succeeded                     [TIME]  Deployed by hand
    v1    SHA256:6f688d0dfc99…        succeeded           slugplan  [TIME]  Deploy web SHA256:6f688d0dfc99… (slugplan)

    ----- stderr -----
    ");
    let limited = p.json(&["releases", "web-staging", "--limit", "1", "--json"], 0);
    assert_eq!(limited["releases"].as_array().unwrap().len(), 1);
}

#[test]
fn a_rolled_back_target_runs_an_older_release_than_declared_and_apply_promotes_it_again() {
    let p = everyone_on_v2();
    p.ok(&["rollback", "web-prod-eu"], 0);
    // `releases` and the plan agree: slugplan made the rollback. The plan says so plainly: not
    // "made outside slugplan", and not a downgrade that needs --allow-downgrade.
    let history = releases(&p, "web-prod-eu");
    assert_eq!(history[0]["description"], "Rollback to v1");
    assert_eq!(history[0]["by_slugplan"], true);
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @"
    exit code: 2
    ----- stdout -----
    Rolled back: apps running an older release than slug.toml declares
      < web-prod-eu runs v3, a rollback to v1 (SHA256:6f688d0dfc99…); declared SHA256:d184cd54bab1…: this plan releases the declared slug again

    slugplan will perform these actions, shown with these symbols:
      » promote

      # promote.web-prod-eu will be promoted
      » promote.web-prod-eu
          reason:   runs SHA256:6f688d0dfc99… (v3, a rollback to v1), an older release than declared SHA256:d184cd54bab1…; promoted from web-staging
          checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…
          from:     web-staging v2 (SHA256:d184cd54bab1…)
          target:   runs v3 (SHA256:6f688d0dfc99…)
          via:      release of the source's slug id

    Plan: 0 to build, 0 to upload, 1 to release.

    ----- stderr -----
    ");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes"]), @"
    exit code: 0
    ----- stdout -----
    Rolled back: apps running an older release than slug.toml declares
      < web-prod-eu runs v3, a rollback to v1 (SHA256:6f688d0dfc99…); declared SHA256:d184cd54bab1…: this plan releases the declared slug again

    slugplan will perform these actions, shown with these symbols:
      » promote

      # promote.web-prod-eu will be promoted
      » promote.web-prod-eu
          reason:   runs SHA256:6f688d0dfc99… (v3, a rollback to v1), an older release than declared SHA256:d184cd54bab1…; promoted from web-staging
          checksum: SHA256:6f688d0dfc99… → SHA256:d184cd54bab1…
          from:     web-staging v2 (SHA256:d184cd54bab1…)
          target:   runs v3 (SHA256:6f688d0dfc99…)
          via:      release of the source's slug id

    Plan: 0 to build, 0 to upload, 1 to release.
    Apply complete! 0 built, 0 uploaded, 1 released, 3 unchanged.
    web-prod-eu: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it

    ----- stderr -----
       Promoting promote.web-prod-eu
            Done promote.web-prod-eu: v4 runs slug [UUID] (release of the slug id of web-staging v2)
    ");
    assert_eq!(running(&p, "web-prod-eu"), running(&p, "web-staging"));

    // The audit log has the rollback, between the applies.
    let log = p.json(&["history", "--limit", "2", "--json"], 0)["entries"].clone();
    let rollback = &log[1];
    assert_eq!(
        rollback["command"], "slugplan rollback web-prod-eu",
        "{log:#}"
    );
    assert_eq!(rollback["outcome"], "succeeded");
    let events = rollback["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{log:#}");
    assert_eq!(
        (
            &events[0]["address"],
            &events[0]["action"],
            &events[0]["outcome"]
        ),
        (
            &"release.web-prod-eu".into(),
            &"rollback".into(),
            &"done".into()
        )
    );
}

#[test]
fn promoting_a_rolled_back_source_downgrades_targets_that_took_its_newer_slug() {
    let p = everyone_on_v2();
    p.ok(&["rollback", "web-staging"], 0);
    // The rollback is newest by the clock, but it runs v1's slug: production runs a newer one.
    slugplan_snapshot!(p.filters(), p.command(&["promote", "web-staging", "--to", "web-prod-eu", "--yes"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::promote::downgrade

      × promoting would downgrade web-prod-eu: each runs a release newer than web-staging's v3, a rollback to v1
      help: nothing was released; pass --allow-downgrade to overwrite them (promoting a rolled-back web-staging rolls them back too)
    ");
    let v2 = running(&p, "web-prod-eu");
    p.ok(
        &[
            "promote",
            "web-staging",
            "--to",
            "web-prod-eu",
            "--allow-downgrade",
            "--yes",
        ],
        0,
    );
    assert_ne!(running(&p, "web-prod-eu"), v2);
    assert_eq!(running(&p, "web-prod-eu"), running(&p, "web-staging"));
}

#[test]
fn rollback_takes_the_apply_lock_and_a_failed_one_is_in_the_audit_log() {
    let p = local(false);
    p.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    new_staging_release(&p, "console.log('v2')\n");
    let v2 = running(&p, "web-staging");
    let held = hold_apply_lock(&p.path(".slugplan/state"), "a test");
    slugplan_snapshot!(p.filters(), p.command(&["rollback", "web-staging"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × another apply is running: pid [PID] on [HOST] (`a test`), since [TIME]
      help: wait for it to finish, or pass --lock-timeout SECONDS to wait for the lock
    ");
    assert_eq!(running(&p, "web-staging"), v2, "nothing rolled back");
    drop(held);

    p.run(&["rollback", "web-staging", "--to", "v9"]);
    let log = p.json(&["history", "--limit", "1", "--json"], 0)["entries"].clone();
    assert_eq!(log[0]["command"], "slugplan rollback web-staging --to v9");
    assert!(
        log[0]["outcome"].as_str().unwrap().starts_with("failed: "),
        "{log:#}"
    );
    assert_eq!(log[0]["events"][0]["outcome"], "failed");
}
