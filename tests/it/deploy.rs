//! End-to-end tests of `plan` and `apply`: the real binary against the embedded local platform
//! and, through the Heroku API client, against a real `slugplan server` over loopback
//! ([`api`]); interrupted and concurrent applies ([`crash`]); what an apply prints ([`output`]).

mod api;
mod crash;
mod output;

use std::process::Command;

use serde_json::{Value, json};

use crate::common::project::Project;
use crate::common::{run_ok, slugplan_snapshot, stderr, stdout};

/// A project with two slugs: `web` (staging, promoted to two production apps) and `worker`.
fn shop(p: Project) -> Project {
    p.ctx.write("web/web.js", "console.log('Hello World')\n");
    p.ctx
        .write("worker/worker.js", "setInterval(() => {}, 1000)\n");
    write_manifest(&p, "");
    p
}

/// The shop on the embedded local platform.
fn local() -> Project {
    shop(Project::local())
}

/// The shop deploying through a `slugplan server` started with `flags`.
fn served(flags: &[&str]) -> Project {
    shop(Project::served(flags))
}

/// Writes the shop's slug.toml (production promoted by every apply); `extra` is appended.
fn write_manifest(p: &Project, extra: &str) {
    let platform = p.platform_table();
    let create = if p.is_served() { "create = true\n" } else { "" };
    p.ctx.write(
        "slug.toml",
        format!(
            r#"{platform}
[slugs.web]
source = "web"
process_types = {{ web = "node web.js" }}

[slugs.worker]
source = "worker"
process_types = {{ worker = "node worker.js" }}

[apps.shop-staging]
slug = "web"
{create}
[apps.shop-prod-eu]
promote_from = "shop-staging"
promote = "auto"
{create}
[apps.shop-prod-us]
promote_from = "shop-staging"
promote = "auto"
{create}
[apps.shop-worker]
slug = "worker"
{create}
{extra}"#
        ),
    );
}

/// The requests that write: all but `GET`s.
fn writes(requests: &[(String, String)]) -> Vec<&(String, String)> {
    requests.iter().filter(|(m, _)| m != "GET").collect()
}

const NO_CHANGES: &str = "No changes. Every app runs its declared slug.";

#[test]
fn first_apply_deploys_everything_and_the_second_changes_nothing() {
    let p = local();
    // One step at a time, so the progress lines come in a fixed order.
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "-j", "1"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      + create
      ↑ upload
      ~ release
      » promote

      # app.shop-prod-eu will be created
      + app.shop-prod-eu
          reason:   app does not exist yet

      # app.shop-prod-us will be created
      + app.shop-prod-us
          reason:   app does not exist yet

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

      # promote.shop-prod-eu will be promoted
      » promote.shop-prod-eu
          reason:   new app; promoted from shop-staging
          checksum: SHA256:13992b2c045e…
          from:     shop-staging (released earlier in this apply, SHA256:13992b2c045e…)
          target:   runs no release (no slug)
          via:      release of the source's slug id

      # promote.shop-prod-us will be promoted
      » promote.shop-prod-us
          reason:   new app; promoted from shop-staging
          checksum: SHA256:13992b2c045e…
          from:     shop-staging (released earlier in this apply, SHA256:13992b2c045e…)
          target:   runs no release (no slug)
          via:      release of the source's slug id

      # upload.worker→shop-worker will be uploaded
      ↑ upload.worker→shop-worker
          reason:   not on the platform yet
          checksum: SHA256:0a6b1681e1ab…

      # release.shop-worker will be released
      ~ release.shop-worker
          reason:   new app
          checksum: SHA256:0a6b1681e1ab…

    Plan: 4 to create, 2 to build, 2 to upload, 4 to release.
    Apply complete! 4 created, 2 built, 2 uploaded, 4 released, 0 unchanged.
    shop-prod-eu: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it
    shop-prod-us: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it
    shop-staging: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it
    shop-worker: http://127.0.0.1:[PORT]/ runs no web dyno (formation web=0)

    ----- stderr -----
         Packing web (2.56 kB of tar)
         Packing worker (2.56 kB of tar)
        Creating app.shop-prod-eu
            Done app.shop-prod-eu: created [UUID] on heroku-24
        Creating app.shop-prod-us
            Done app.shop-prod-us: created [UUID] on heroku-24
        Creating app.shop-staging
            Done app.shop-staging: created [UUID] on heroku-24
        Creating app.shop-worker
            Done app.shop-worker: created [UUID] on heroku-24
       Uploading upload.web→shop-staging
            Done upload.web→shop-staging: slug [UUID] (175 B) through shop-staging
       Releasing release.shop-staging
            Done release.shop-staging: v1 runs slug [UUID]
       Promoting promote.shop-prod-eu
       Promoting promote.shop-prod-us
            Done promote.shop-prod-eu: v1 runs slug [UUID] (release of the slug id of shop-staging v1)
            Done promote.shop-prod-us: v1 runs slug [UUID] (release of the slug id of shop-staging v1)
       Uploading upload.worker→shop-worker
            Done upload.worker→shop-worker: slug [UUID] (179 B) through shop-worker
       Releasing release.shop-worker
            Done release.shop-worker: v1 runs slug [UUID]
    ");
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
}

#[test]
fn changing_one_file_rebuilds_only_its_slug_and_releases_only_its_apps() {
    let p = local();
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("web/web.js", "console.log('Hello again')\n");

    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode", "--no-build"]), @"
    exit code: 2
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      ↑ upload
      ~ release
      » promote

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   not built yet (checksum known after build)
          checksum: (known after build)

      # upload.web→shop-staging will be uploaded
      ↑ upload.web→shop-staging
          reason:   not on the platform yet
          checksum: (known after build)

      # release.shop-staging will be released
      ~ release.shop-staging
          reason:   declared slug not built yet
          checksum: (known after build)

      # promote.shop-prod-eu will be promoted
      » promote.shop-prod-eu
          reason:   declared slug not built yet; promoted from shop-staging
          checksum: (known after build)
          from:     shop-staging (released earlier in this apply, no slug)
          target:   runs v1 (SHA256:13992b2c045e…)
          via:      release of the source's slug id

      # promote.shop-prod-us will be promoted
      » promote.shop-prod-us
          reason:   declared slug not built yet; promoted from shop-staging
          checksum: (known after build)
          from:     shop-staging (released earlier in this apply, no slug)
          target:   runs v1 (SHA256:13992b2c045e…)
          via:      release of the source's slug id

    Plan: 1 to build, 1 to upload, 3 to release.

    ----- stderr -----
    ");
    // The worker is untouched: it is nowhere in the plan.
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @"
    exit code: 2
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      ↑ upload
      ~ release
      » promote

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   forces new slug: web.js changed
          checksum: SHA256:1fa82709fbb2…

      # upload.web→shop-staging will be uploaded
      ↑ upload.web→shop-staging
          reason:   not on the platform yet
          checksum: SHA256:1fa82709fbb2…

      # release.shop-staging will be released
      ~ release.shop-staging
          reason:   runs SHA256:13992b2c045e… (v1), declared SHA256:1fa82709fbb2…
          checksum: SHA256:13992b2c045e… → SHA256:1fa82709fbb2…

      # promote.shop-prod-eu will be promoted
      » promote.shop-prod-eu
          reason:   runs SHA256:13992b2c045e… (v1), declared SHA256:1fa82709fbb2…; promoted from shop-staging
          checksum: SHA256:13992b2c045e… → SHA256:1fa82709fbb2…
          from:     shop-staging (released earlier in this apply, SHA256:1fa82709fbb2…)
          target:   runs v1 (SHA256:13992b2c045e…)
          via:      release of the source's slug id

      # promote.shop-prod-us will be promoted
      » promote.shop-prod-us
          reason:   runs SHA256:13992b2c045e… (v1), declared SHA256:1fa82709fbb2…; promoted from shop-staging
          checksum: SHA256:13992b2c045e… → SHA256:1fa82709fbb2…
          from:     shop-staging (released earlier in this apply, SHA256:1fa82709fbb2…)
          target:   runs v1 (SHA256:13992b2c045e…)
          via:      release of the source's slug id

    Plan: 1 to build, 1 to upload, 3 to release.

    ----- stderr -----
         Packing web (2.56 kB of tar)
    ");

    p.ctx
        .write("web/web.js", "console.log('Hello a third time')\n");
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "-j", "1"]), @"
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
          checksum: SHA256:da750ffc3e1c…

      # upload.web→shop-staging will be uploaded
      ↑ upload.web→shop-staging
          reason:   not on the platform yet
          checksum: SHA256:da750ffc3e1c…

      # release.shop-staging will be released
      ~ release.shop-staging
          reason:   runs SHA256:13992b2c045e… (v1), declared SHA256:da750ffc3e1c…
          checksum: SHA256:13992b2c045e… → SHA256:da750ffc3e1c…

      # promote.shop-prod-eu will be promoted
      » promote.shop-prod-eu
          reason:   runs SHA256:13992b2c045e… (v1), declared SHA256:da750ffc3e1c…; promoted from shop-staging
          checksum: SHA256:13992b2c045e… → SHA256:da750ffc3e1c…
          from:     shop-staging (released earlier in this apply, SHA256:da750ffc3e1c…)
          target:   runs v1 (SHA256:13992b2c045e…)
          via:      release of the source's slug id

      # promote.shop-prod-us will be promoted
      » promote.shop-prod-us
          reason:   runs SHA256:13992b2c045e… (v1), declared SHA256:da750ffc3e1c…; promoted from shop-staging
          checksum: SHA256:13992b2c045e… → SHA256:da750ffc3e1c…
          from:     shop-staging (released earlier in this apply, SHA256:da750ffc3e1c…)
          target:   runs v1 (SHA256:13992b2c045e…)
          via:      release of the source's slug id

    Plan: 1 to build, 1 to upload, 3 to release.
    Apply complete! 1 built, 1 uploaded, 3 released, 1 unchanged.
    shop-prod-eu: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it
    shop-prod-us: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it
    shop-staging: http://127.0.0.1:[PORT]/ is not running: start `slugplan up` to run it

    ----- stderr -----
         Packing web (2.56 kB of tar)
       Uploading upload.web→shop-staging
            Done upload.web→shop-staging: slug [UUID] (182 B) through shop-staging
       Releasing release.shop-staging
            Done release.shop-staging: v2 runs slug [UUID]
       Promoting promote.shop-prod-eu
       Promoting promote.shop-prod-us
            Done promote.shop-prod-eu: v2 runs slug [UUID] (release of the slug id of shop-staging v2)
            Done promote.shop-prod-us: v2 runs slug [UUID] (release of the slug id of shop-staging v2)
    ");
}

#[test]
fn plan_json_is_a_versioned_document_with_stable_op_names() {
    #[derive(serde::Deserialize)]
    struct Doc {
        format_version: u32,
        steps: Vec<Step>,
        summary: Summary,
    }
    #[derive(serde::Deserialize)]
    struct Step {
        address: String,
        action: String,
        after: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Summary {
        build: usize,
        upload: usize,
        release: usize,
    }
    let p = local();
    let doc: Doc = serde_json::from_str(&p.ok(&["plan", "--json"], 0)).expect("plan JSON");
    assert_eq!(doc.format_version, 1);
    assert_eq!(
        (doc.summary.build, doc.summary.upload, doc.summary.release),
        (2, 2, 4)
    );
    let step = |address: &str| {
        doc.steps
            .iter()
            .find(|s| s.address == address)
            .unwrap_or_else(|| panic!("no step {address}"))
    };
    assert_eq!(step("release.shop-staging").action, "release");
    assert_eq!(step("promote.shop-prod-eu").action, "promote");
    assert_eq!(step("upload.web→shop-staging").action, "upload");
    let checksum = step("slug.web@heroku-24")
        .after
        .clone()
        .expect("a checksum");
    assert!(
        checksum.starts_with("SHA256:") && checksum.len() == 71,
        "{checksum}"
    );
}

#[test]
fn a_target_applies_one_app_and_what_it_needs() {
    let p = local();
    slugplan_snapshot!(p.filters(), p.command(&["apply", "--yes", "--target", "shop-worker"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      + create
      ↑ upload
      ~ release

      # app.shop-worker will be created
      + app.shop-worker
          reason:   app does not exist yet

      # slug.worker@heroku-24 will be built
      * slug.worker@heroku-24
          reason:   forces new slug: first build
          checksum: SHA256:0a6b1681e1ab…

      # upload.worker→shop-worker will be uploaded
      ↑ upload.worker→shop-worker
          reason:   not on the platform yet
          checksum: SHA256:0a6b1681e1ab…

      # release.shop-worker will be released
      ~ release.shop-worker
          reason:   new app
          checksum: SHA256:0a6b1681e1ab…

    Plan: 1 to create, 1 to build, 1 to upload, 1 to release.
    Apply complete! 1 created, 1 built, 1 uploaded, 1 released, 0 unchanged.
    shop-worker: http://127.0.0.1:[PORT]/ runs no web dyno (formation web=0)

    ----- stderr -----
         Packing worker (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       release.shop-worker
      also needed: app.shop-worker (create)
                   slug.worker@heroku-24 (build)
                   upload.worker→shop-worker (upload)
        Creating app.shop-worker
            Done app.shop-worker: created [UUID] on heroku-24
       Uploading upload.worker→shop-worker
            Done upload.worker→shop-worker: slug [UUID] (179 B) through shop-worker
       Releasing release.shop-worker
            Done release.shop-worker: v1 runs slug [UUID]
    ");
    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @"
    exit code: 0
    ----- stdout -----
    slugplan will perform these actions, shown with these symbols:
      * build
      + create
      ↑ upload
      ~ release
      » promote

      # app.shop-prod-eu will be created
      + app.shop-prod-eu
          reason:   app does not exist yet

      # app.shop-prod-us will be created
      + app.shop-prod-us
          reason:   app does not exist yet

      # app.shop-staging will be created
      + app.shop-staging
          reason:   app does not exist yet

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   forces new slug: first build
          checksum: SHA256:13992b2c045e…

      # upload.web→shop-staging will be uploaded
      ↑ upload.web→shop-staging
          reason:   not on the platform yet
          checksum: SHA256:13992b2c045e…

      # release.shop-staging will be released
      ~ release.shop-staging
          reason:   new app
          checksum: SHA256:13992b2c045e…

      # promote.shop-prod-eu will be promoted
      » promote.shop-prod-eu
          reason:   new app; promoted from shop-staging
          checksum: SHA256:13992b2c045e…
          from:     shop-staging (released earlier in this apply, SHA256:13992b2c045e…)
          target:   runs no release (no slug)
          via:      release of the source's slug id

      # promote.shop-prod-us will be promoted
      » promote.shop-prod-us
          reason:   new app; promoted from shop-staging
          checksum: SHA256:13992b2c045e…
          from:     shop-staging (released earlier in this apply, SHA256:13992b2c045e…)
          target:   runs no release (no slug)
          via:      release of the source's slug id

    Plan: 3 to create, 1 to build, 1 to upload, 3 to release.

    ----- stderr -----
         Packing web (2.56 kB of tar)
    ");
}

#[test]
fn apply_refuses_to_prompt_without_a_terminal() {
    let p = local();
    let out = p.run(&["apply", "--target", "shop-worker"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The plan is shown (as a fresh project plans it), then the prompt refused.
    let plan = local().ok(&["plan", "--target", "shop-worker"], 0);
    assert_eq!(stdout(&out), plan);
    insta::assert_snapshot!(p.ctx.redact(&stderr(&out)), @"
         Packing worker (2.56 kB of tar)
    warning: targeting is in effect: this plan may not be everything slug.toml asks for
      named:       release.shop-worker
      also needed: app.shop-worker (create)
                   slug.worker@heroku-24 (build)
                   upload.worker→shop-worker (upload)
      × refusing to prompt for confirmation: stdin is not a terminal
      help: pass --yes (or --auto-approve) to apply without a prompt, or apply a saved plan
    ");
    let history: Value = serde_json::from_str(&p.ok(&["history", "--json"], 0)).unwrap();
    assert_eq!(history["entries"], json!([]), "nothing was applied");
}

#[test]
fn history_records_every_step_of_every_apply() {
    let p = local();
    p.ok(&["apply", "--yes"], 0);
    let history: Value = serde_json::from_str(&p.ok(&["history", "--json"], 0)).unwrap();
    assert_eq!(history["format_version"], 1);
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["outcome"], "succeeded");
    let events = entries[0]["events"].as_array().unwrap();
    let addresses: Vec<&str> = events
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert!(addresses.contains(&"release.shop-staging"), "{addresses:?}");
    assert!(addresses.contains(&"promote.shop-prod-us"), "{addresses:?}");
    assert_eq!(
        events.len(),
        10,
        "4 creates, 2 uploads, 2 releases, 2 promotions"
    );
}

#[test]
fn a_binary_too_new_for_the_stack_is_refused_before_packing() {
    let mut p = local();
    std::fs::create_dir_all(p.path("tools/bin")).unwrap();
    std::fs::copy("/usr/bin/bash", p.path("tools/bin/bash")).expect("copy bash");
    write_manifest(
        &p,
        r#"
[runtimes.tools]
path = "tools"
dest = "tools"
"#,
    );
    let text = std::fs::read_to_string(p.path("slug.toml"))
        .unwrap()
        .replace(
            "source = \"worker\"\n",
            "source = \"worker\"\nruntimes = [\"tools\"]\nstack = \"heroku-22\"\n",
        );
    p.ctx.write("slug.toml", text);
    // Which glibc this machine's bash needs depends on the machine; that it is too new does not.
    let out = p.run(&["plan"]);
    assert!(stderr(&out).contains("GLIBC_2."), "{}", stderr(&out));
    p.ctx.add_filter(r"GLIBC_2\.\d+", "GLIBC_2.[MINOR]");
    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched tools (cached)
      × slug `worker` cannot be built for its stack
      ╰─▶   × ./tools/bin/bash needs GLIBC_2.[MINOR], but stack heroku-22 has glibc 2.35
            help: use a build of this runtime made for heroku-22 (or an older glibc), or a newer stack

        ╭─[slug.toml:9:9]
      8 │ runtimes = ["tools"]
      9 │ stack = "heroku-22"
        ·         ─────┬─────
        ·              ╰── the stack it is built for
     10 │ process_types = { worker = "node worker.js" }
        ╰────
    "#);
}

#[test]
fn a_relative_file_url_runtime_is_locked_and_deployed_from_beside_the_manifest() {
    let p = local();
    p.ctx
        .write("rt-src/rt-1.0/bin/tool", "#!/bin/sh\necho tool\n");
    std::fs::create_dir_all(p.path("runtimes")).unwrap();
    run_ok(
        Command::new("tar")
            .args(["czf", "runtimes/rt-1.0.tar.gz", "-C", "rt-src", "rt-1.0"])
            .current_dir(&p.ctx.dir),
    );
    std::fs::remove_dir_all(p.path("rt-src")).unwrap();
    let text = std::fs::read_to_string(p.path("slug.toml"))
        .unwrap()
        .replace(
            "source = \"worker\"\n",
            "source = \"worker\"\nruntimes = [\"rt\"]\n",
        )
        + "\n[runtimes.rt]\nurl = \"file:runtimes/rt-1.0.tar.gz\"\nstrip_components = 1\ndest = \"rt-1.0\"\n";
    p.ctx.write("slug.toml", text);

    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × runtime `rt`: no sha256 for file:runtimes/rt-1.0.tar.gz in slug.toml or slug.lock
        ╭─[slug.toml:27:7]
     26 │ [runtimes.rt]
     27 │ url = "file:runtimes/rt-1.0.tar.gz"
        ·       ──────────────┬──────────────
        ·                     ╰── no sha256 for this URL here or in slug.lock
     28 │ strip_components = 1
        ╰────
      help: run `slugplan lock` to pin it, or set `sha256` in [runtimes.rt]
    "#);
    p.ok(&["lock"], 0);
    let lock = std::fs::read_to_string(p.path("slug.lock")).unwrap();
    assert!(
        lock.contains("url = \"file:runtimes/rt-1.0.tar.gz\""),
        "{lock}"
    );
    p.ok(&["apply", "--yes"], 0);

    // The manifest, its lock and the archive travel together: a copy elsewhere plans clean.
    let moved = p.ctx.temp.path().join("moved");
    run_ok(Command::new("cp").args(["-r"]).arg(&p.ctx.dir).arg(&moved));
    let out = p
        .command(&["plan", "--detailed-exitcode"])
        .current_dir(&moved)
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), NO_CHANGES, "{}", stderr(&out));
}

#[test]
fn a_saved_plan_whose_slug_checksum_was_edited_is_refused() {
    let p = local();
    p.ok(&["plan", "-out", "edited.plan"], 0);
    let path = p.path("edited.plan");
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for step in plan["steps"].as_array_mut().unwrap() {
        if step["step"]["kind"] == "assemble_slug" && step["step"]["slug"] == "web" {
            // Once looked up as the cache file `slugs-v1/../../elsewhere.tgz`.
            step["after"] = Value::from("SHA256:../../elsewhere");
        }
    }
    std::fs::write(&path, plan.to_string()).unwrap();
    slugplan_snapshot!(p.filters(), p.command(&["apply", "edited.plan"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::plan::bad_checksum

      × the plan's checksum of slug `web` is not a slug checksum
      ╰─▶ checksum "SHA256:../../elsewhere" must be SHA256: followed by 64 lowercase hex digits
      help: make a new one with `slugplan plan -out FILE`
    "#);
}

/// Planning reads the platform; it writes nothing there: a plan on a fresh project leaves no
/// local platform database behind (issue 16, point 7), and the plan it saves names the
/// platform exactly as the apply that then creates it does.
#[test]
fn a_plan_creates_no_local_platform_database() {
    let p = local();
    p.ok(&["plan", "-out", "fresh.plan"], 0);
    p.ok(&["plan", "--no-build", "--json"], 0);
    assert!(
        !p.path(".slugplan/platform").exists(),
        "plan created the local platform's data directory"
    );
    p.ok(&["apply", "fresh.plan"], 0);
    assert!(p.path(".slugplan/platform/platform.db").is_file());
    slugplan_snapshot!(p.filters(), p.command(&["plan"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
}
