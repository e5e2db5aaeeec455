//! Deploying through the Heroku API client to a real `slugplan server`: a second apply writes
//! nothing, drift made by another client is shown and replaced, saved plans apply exactly or are
//! refused as stale, and a failed step is reported by name while a rerun finishes the job.

use serde_json::Value;

use super::{NO_CHANGES, local, served, write_manifest, writes};
use crate::common::{slugplan_snapshot, stderr, stdout};

#[test]
fn through_the_api_a_second_apply_makes_no_write_requests() {
    let p = served(&[]);
    let out = p.ok(&["apply", "--yes"], 0);
    assert!(
        out.trim_end()
            .ends_with("Apply complete! 4 created, 2 built, 2 uploaded, 4 released, 0 unchanged."),
        "{out}"
    );
    let before = p.requests().len();

    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
    let second = p.requests()[before..].to_vec();
    assert!(writes(&second).is_empty(), "writes: {:?}", writes(&second));
    // The token check, each app's running release, and each distinct slug once.
    assert!(second.len() <= 1 + 4 + 2, "{second:#?}");
}

#[test]
fn drift_made_by_another_client_is_reported_and_fixed() {
    let p = served(&[]);
    p.ok(&["apply", "--yes"], 0);
    // Release times have one-second resolution: make the hotfix unmistakably newer than
    // shop-staging's release, so the plan always says replacing it is a downgrade.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.release_by_hand(
        "shop-prod-eu",
        b"a hotfix deployed by hand",
        Some("Hotfix by hand"),
    );

    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @r#"
    exit code: 2
    ----- stdout -----
    Drift: releases made outside slugplan
      ! shop-prod-eu runs v2 (SHA256:6c77cbb43a02…), made outside slugplan: "Hotfix by hand"; this plan replaces it
        v2 is newer than shop-staging's v1: promoting downgrades it; apply needs --allow-downgrade

    slugplan will perform these actions, shown with these symbols:
      » promote

      # promote.shop-prod-eu will be promoted
      » promote.shop-prod-eu
          reason:   runs SHA256:6c77cbb43a02… (v2), declared SHA256:13992b2c045e…; promoted from shop-staging
          checksum: SHA256:6c77cbb43a02… → SHA256:13992b2c045e…
          from:     shop-staging v1 (SHA256:13992b2c045e…)
          target:   runs v2 (SHA256:6c77cbb43a02…), newer than the source
          via:      release of the source's slug id

    Plan: 0 to build, 0 to upload, 1 to release.

    ----- stderr -----
    "#);
    // Replacing a promotion target's newer release is a downgrade, made only when allowed.
    p.ok(&["apply", "--yes", "--allow-downgrade"], 0);
    assert_eq!(p.ok(&["plan", "--detailed-exitcode"], 0).trim(), NO_CHANGES);
}

#[test]
fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let p = served(&[]);
    // The plan is the one the first apply shows (pinned there); saving it says how to apply it.
    let saved = p.run(&["plan", "-out", "first.plan", "-j", "1"]);
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    insta::assert_snapshot!(p.ctx.redact(&stderr(&saved)), @"
    Packing web (2.56 kB of tar)
    Packing worker (2.56 kB of tar)
      Saved the plan to first.plan; apply exactly it with `slugplan apply first.plan`
    ");
    // Applying it shows exactly that plan, then does it.
    let applied = p.ok(&["apply", "first.plan"], 0);
    assert_eq!(
        applied,
        format!(
            "{}Apply complete! 4 created, 2 built, 2 uploaded, 4 released, 0 unchanged.\n",
            stdout(&saved)
        )
    );

    // Planned, then someone releases: the plan no longer describes the platform.
    p.ctx.write("worker/worker.js", "// v2\n");
    p.ok(&["plan", "--out", "second.plan"], 0);
    p.release_by_hand("shop-worker", b"by hand", None);
    slugplan_snapshot!(p.filters(), p.command(&["apply", "second.plan"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::plan::stale

      × plan is stale: shop-worker runs release [UUID] now, the plan saw [UUID]
      help: run `slugplan plan -out FILE` again, review it, then apply the new file
    ");

    // A manifest edit makes a saved plan stale too.
    p.ok(&["plan", "--out", "third.plan"], 0);
    write_manifest(&p, "# edited\n");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "third.plan"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::plan::stale

      × plan is stale: the manifest changed since the plan was made
      help: run `slugplan plan -out FILE` again, review it, then apply the new file
    ");
}

#[test]
fn a_failed_release_fails_the_apply_naming_the_app_and_a_rerun_finishes() {
    // Every second release the server sees fails. One step at a time and without the
    // promotions (which go out together, in either order), that is always shop-worker's.
    let p = served(&["--fault-release-fail-every", "2"]);
    let targets = ["--target", "shop-staging", "--target", "shop-worker"];
    let first = [&["apply", "--yes", "-j", "1"][..], &targets].concat();
    slugplan_snapshot!(p.filters(), p.command(&first), @"
    exit code: 1
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      + create
      ↑ upload
      ~ release

      # app.shop-staging will be created
      + app.shop-staging
          reason:   app does not exist yet

      # app.shop-worker will be created
      + app.shop-worker
          reason:   app does not exist yet

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   forces new slug: first build
          checksum: SHA256:13992b2c045e…

      # slug.worker@heroku-24 will be built
      * slug.worker@heroku-24
          reason:   forces new slug: first build
          checksum: SHA256:0a6b1681e1ab…

      # upload.web→shop-staging will be uploaded
      ↑ upload.web→shop-staging
          reason:   not on the platform yet
          checksum: SHA256:13992b2c045e…

      # release.shop-staging will be released
      ~ release.shop-staging
          reason:   new app
          checksum: SHA256:13992b2c045e…

      # upload.worker→shop-worker will be uploaded
      ↑ upload.worker→shop-worker
          reason:   not on the platform yet
          checksum: SHA256:0a6b1681e1ab…

      # release.shop-worker will be released
      ~ release.shop-worker
          reason:   new app
          checksum: SHA256:0a6b1681e1ab…

    Plan: 2 to create, 2 to build, 2 to upload, 2 to release.

    ----- stderr -----
         Packing web (2.56 kB of tar)
         Packing worker (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       release.shop-staging, release.shop-worker
      also needed: app.shop-staging (create)
                   app.shop-worker (create)
                   slug.web@heroku-24 (build)
                   slug.worker@heroku-24 (build)
                   upload.web→shop-staging (upload)
                   upload.worker→shop-worker (upload)
        Creating app.shop-staging
            Done app.shop-staging: created [UUID] on heroku-24
        Creating app.shop-worker
            Done app.shop-worker: created [UUID] on heroku-24
       Uploading upload.web→shop-staging
            Done upload.web→shop-staging: slug [UUID] (175 B) through shop-staging
       Releasing release.shop-staging
            Done release.shop-staging: v1 runs slug [UUID]
       Uploading upload.worker→shop-worker
            Done upload.worker→shop-worker: slug [UUID] (179 B) through shop-worker
       Releasing release.shop-worker
          Failed release.shop-worker: release v1 of shop-worker failed
      × 1 step failed: release.shop-worker
      help: fix the cause and run `slugplan apply` again: finished steps are not redone

      × release.shop-worker: release v1 of shop-worker failed
    ");
    let history: Value = serde_json::from_str(&p.ok(&["history", "--json"], 0)).unwrap();
    insta::assert_snapshot!(history["entries"][0]["outcome"].as_str().unwrap(), @"failed: 1 step failed: release.shop-worker");

    // Every second release fails on this server, so a few reruns finish the job, and none
    // redoes what already succeeded.
    let mut finished = false;
    for _ in 0..6 {
        if p.run(&["apply", "--yes", "-j", "1"]).status.success() {
            finished = true;
            break;
        }
    }
    assert!(finished, "reruns never converged");
    assert_eq!(p.ok(&["plan", "--detailed-exitcode"], 0).trim(), NO_CHANGES);
}

#[test]
fn an_upload_the_blob_store_refuses_fails_its_step_and_skips_what_depends_on_it() {
    // Upload URLs expire at once: the platform error is the step's cause, printed once (it
    // used to appear both in the step error's message and as its source).
    let p = served(&["--blob-url-ttl", "0"]);
    let out = p.run(&["apply", "--yes", "--target", "shop-worker"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The plan (as a fresh project plans it, on either platform), and no closing line.
    let plan = local().ok(&["plan", "--target", "shop-worker"], 0);
    assert_eq!(stdout(&out), plan);
    insta::assert_snapshot!(p.ctx.redact(&stderr(&out)), @"
         Packing worker (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       release.shop-worker
      also needed: app.shop-worker (create)
                   slug.worker@heroku-24 (build)
                   upload.worker→shop-worker (upload)
        Creating app.shop-worker
            Done app.shop-worker: created [UUID] on heroku-24
       Uploading upload.worker→shop-worker
          Failed upload.worker→shop-worker: uploading the archive: platform error 403 (expired): Request has expired: create a new slug for a fresh upload URL (request id [UUID])
          Failed release.shop-worker: not run: a step it depends on failed
      × 1 step failed: upload.worker→shop-worker
      help: fix the cause and run `slugplan apply` again: finished steps are not redone

      × upload.worker→shop-worker: uploading the archive
      ╰─▶   × platform error 403 (expired): Request has expired: create a new slug for a fresh upload URL (request id [UUID])
    ");
}
