//! End-to-end tests of `plan` and `apply`: the real binary against the embedded local platform
//! and, through the Heroku API client, against a real `slugplan server` over loopback.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::TestContext;
use crate::server::support::{Server, block_on, logged_requests};

/// A project with two slugs: `web` (staging, promoted to two production apps) and `worker`.
struct Project {
    ctx: TestContext,
    /// The server the project deploys to (None: the embedded local platform).
    server: Option<(String, String)>,
}

const TOKEN: &str = "deploy-test-token";

impl Project {
    fn local() -> Project {
        Project::new(None)
    }

    fn on(server: &Server) -> Project {
        Project::new(Some((server.url.clone(), TOKEN.to_owned())))
    }

    fn new(server: Option<(String, String)>) -> Project {
        let ctx = TestContext::new();
        ctx.write("web/web.js", "console.log('Hello World')\n");
        ctx.write("worker/worker.js", "setInterval(() => {}, 1000)\n");
        let project = Project { ctx, server };
        project.manifest("");
        project
    }

    /// Writes slug.toml; `extra` is appended.
    fn manifest(&self, extra: &str) {
        let (platform, create) = match &self.server {
            Some((url, _)) => (
                format!("[platform]\nkind = \"heroku\"\napi_url = \"{url}\"\n"),
                "create = true\n",
            ),
            None => (String::new(), ""),
        };
        self.ctx.write(
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
{create}
[apps.shop-prod-us]
promote_from = "shop-staging"
{create}
[apps.shop-worker]
slug = "worker"
{create}
{extra}"#
            ),
        );
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.ctx.command();
        cmd.args(args).stdin(Stdio::null());
        if let Some((_, token)) = &self.server {
            cmd.env("HEROKU_API_KEY", token);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run slugplan")
    }

    /// Runs and asserts the exit code, returning stdout.
    fn ok(&self, args: &[&str], code: i32) -> String {
        crate::common::expect_exit(&self.run(args), args, code)
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.ctx.dir.join(rel)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn server(extra: &[&str]) -> Server {
    let mut args = vec!["--token", TOKEN];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// The requests the server logged, as (method, path).
fn requests(log: &Path) -> Vec<(String, String)> {
    logged_requests(log)
}

fn writes(requests: &[(String, String)]) -> Vec<&(String, String)> {
    requests.iter().filter(|(m, _)| m != "GET").collect()
}

const FIRST_APPLY: &str =
    "Apply complete! 4 created, 2 built, 2 uploaded, 4 released, 0 unchanged.";

#[test]
fn first_apply_deploys_everything_and_the_second_changes_nothing() {
    let p = Project::local();
    let out = p.ok(&["apply", "--yes"], 0);
    assert!(
        out.contains("Plan: 4 to create, 2 to build, 2 to upload, 4 to release."),
        "{out}"
    );
    assert!(out.trim_end().ends_with(FIRST_APPLY), "{out}");

    let out = p.ok(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(out.trim(), "No changes. Every app runs its declared slug.");
    let out = p.ok(&["apply", "--yes"], 0);
    assert_eq!(out.trim(), "No changes. Every app runs its declared slug.");
}

#[test]
fn changing_one_file_rebuilds_only_its_slug_and_releases_only_its_apps() {
    let p = Project::local();
    p.ok(&["apply", "--yes"], 0);
    p.ctx.write("web/web.js", "console.log('Hello again')\n");

    let out = p.ok(&["plan", "--detailed-exitcode", "--no-build"], 2);
    assert!(out.contains("(known after build)"), "{out}");
    let out = p.ok(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("forces new slug: web.js changed"), "{out}");
    assert!(
        out.contains("Plan: 1 to build, 1 to upload, 3 to release."),
        "{out}"
    );
    assert!(
        !out.contains("shop-worker"),
        "the worker is untouched:\n{out}"
    );

    p.ctx
        .write("web/web.js", "console.log('Hello a third time')\n");
    let out = p.ok(&["apply", "--yes"], 0);
    assert!(
        out.trim_end()
            .ends_with("Apply complete! 1 built, 1 uploaded, 3 released, 1 unchanged."),
        "{out}"
    );
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
    let p = Project::local();
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
    assert_eq!(
        step(
            "upload.web→shop-prod-eu"
                .replace("prod-eu", "staging")
                .as_str()
        )
        .action,
        "upload"
    );
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
    let p = Project::local();
    let out = p.ok(&["apply", "--yes", "--target", "shop-worker"], 0);
    assert!(
        out.trim_end()
            .ends_with("Apply complete! 1 created, 1 built, 1 uploaded, 1 released, 0 unchanged."),
        "{out}"
    );
    assert!(!out.contains("shop-staging"), "{out}");
    let out = p.ok(&["plan"], 0);
    assert!(
        out.contains("Plan: 3 to create, 1 to build, 1 to upload, 3 to release."),
        "{out}"
    );
}

#[test]
fn apply_refuses_to_prompt_without_a_terminal() {
    let p = Project::local();
    let out = p.run(&["apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing to prompt"),
        "{}",
        stderr(&out)
    );
    assert!(
        p.ok(&["history", "--json"], 0).trim() == "[]",
        "nothing was applied"
    );
}

#[test]
fn history_records_every_step_of_every_apply() {
    let p = Project::local();
    p.ok(&["apply", "--yes"], 0);
    let history: Value = serde_json::from_str(&p.ok(&["history", "--json"], 0)).unwrap();
    let entries = history.as_array().unwrap();
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
    let p = Project::local();
    std::fs::create_dir_all(p.path("tools/bin")).unwrap();
    std::fs::copy("/usr/bin/bash", p.path("tools/bin/bash")).expect("copy bash");
    p.manifest(
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
    let out = p.run(&["plan"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("tools/bin/bash") && err.contains("GLIBC_2."),
        "{err}"
    );
}

#[test]
fn through_the_api_a_second_apply_makes_no_write_requests() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("requests.jsonl");
    let server = server(&["--request-log", log.to_str().unwrap()]);
    let p = Project::on(&server);
    let out = p.ok(&["apply", "--yes"], 0);
    assert!(out.trim_end().ends_with(FIRST_APPLY), "{out}");
    let before = requests(&log).len();

    let out = p.ok(&["apply", "--yes"], 0);
    assert_eq!(out.trim(), "No changes. Every app runs its declared slug.");
    let second = requests(&log)[before..].to_vec();
    assert!(writes(&second).is_empty(), "writes: {:?}", writes(&second));
    // Each app's running release, and each distinct slug once.
    assert!(second.len() <= 4 + 2, "{second:#?}");
}

#[test]
fn drift_made_by_another_client_is_reported_and_fixed() {
    let server = server(&[]);
    let p = Project::on(&server);
    p.ok(&["apply", "--yes"], 0);

    let mut api = server.api();
    api.auth = Some(format!("Bearer {TOKEN}"));
    block_on(async {
        let slug = api
            .upload_slug("shop-prod-eu", b"a hotfix deployed by hand", "heroku-24")
            .await;
        api.create(
            "/apps/shop-prod-eu/releases",
            json!({"slug": slug["id"], "description": "Hotfix by hand"}),
            "release",
        )
        .await;
    });

    let out = p.ok(&["plan", "--detailed-exitcode"], 2);
    assert!(
        out.contains("Drift: releases made outside slugplan"),
        "{out}"
    );
    assert!(out.contains("shop-prod-eu runs v2"), "{out}");
    assert!(
        out.contains("\"Hotfix by hand\"; this plan replaces it"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to build, 0 to upload, 1 to release."),
        "{out}"
    );
    // The hotfix may be a second newer than shop-staging's release: replacing a promotion
    // target's newer release is a downgrade, which apply makes only when allowed.
    p.ok(&["apply", "--yes", "--allow-downgrade"], 0);
    assert_eq!(
        p.ok(&["plan", "--detailed-exitcode"], 0).trim(),
        "No changes. Every app runs its declared slug."
    );
}

#[test]
fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let server = server(&[]);
    let p = Project::on(&server);
    p.ok(&["plan", "-out", "first.plan"], 0);
    let out = p.ok(&["apply", "first.plan"], 0);
    assert!(out.trim_end().ends_with(FIRST_APPLY), "{out}");

    // Planned, then someone releases: the plan no longer describes the platform.
    p.ctx.write("worker/worker.js", "// v2\n");
    p.ok(&["plan", "--out", "second.plan"], 0);
    let mut api = server.api();
    api.auth = Some(format!("Bearer {TOKEN}"));
    block_on(async {
        let slug = api
            .upload_slug("shop-worker", b"by hand", "heroku-24")
            .await;
        api.create(
            "/apps/shop-worker/releases",
            json!({"slug": slug["id"]}),
            "release",
        )
        .await;
    });
    let out = p.run(&["apply", "second.plan"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("plan is stale"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("shop-worker runs release"),
        "{}",
        stderr(&out)
    );

    // A manifest edit makes a saved plan stale too.
    p.ok(&["plan", "--out", "third.plan"], 0);
    p.manifest("# edited\n");
    let out = p.run(&["apply", "third.plan"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the manifest changed"),
        "{}",
        stderr(&out)
    );
}

/// Waits until `done` holds, polling; panics after `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_apply_killed_mid_release_converges_on_rerun_without_duplicate_releases() {
    kill_at_release_request(1, "/apps/shop-staging/releases");
}

#[test]
fn an_apply_killed_mid_promotion_converges_on_rerun_without_duplicate_releases() {
    kill_at_release_request(2, "/apps/shop-prod-");
}

/// Runs an apply whose releases stay pending for a while, `kill -9`s it once its `nth`
/// release request (to a path starting with `path`) is sent, reruns it, and checks that
/// every app got exactly one release.
fn kill_at_release_request(nth: usize, path: &str) {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("requests.jsonl");
    let server = server(&[
        "--request-log",
        log.to_str().unwrap(),
        "--release-delay-ms",
        "1500",
    ]);
    let p = Project::on(&server);
    let mut child = p
        .command(&["apply", "--yes", "-j", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let releases_sent = || {
        requests(&log)
            .into_iter()
            .filter(|(m, p)| m == "POST" && p.ends_with("/releases"))
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(60), "the release request", || {
        releases_sent().len() >= nth
    });
    let killed_at = releases_sent()[nth - 1].1.clone();
    assert!(killed_at.starts_with(path), "killed at {killed_at}");
    child.kill().expect("kill -9 the apply");
    child.wait().unwrap();

    let out = p.ok(&["apply", "--yes"], 0);
    assert!(out.contains("Apply complete!"), "{out}");
    assert_eq!(
        p.ok(&["plan", "--detailed-exitcode"], 0).trim(),
        "No changes. Every app runs its declared slug."
    );
    let mut api = server.api();
    api.auth = Some(format!("Bearer {TOKEN}"));
    for app in [
        "shop-staging",
        "shop-prod-eu",
        "shop-prod-us",
        "shop-worker",
    ] {
        let releases = block_on(api.get(&format!("/apps/{app}/releases"))).body;
        assert_eq!(
            releases.as_array().unwrap().len(),
            1,
            "{app} was released more than once: {releases:#}"
        );
    }
}

#[test]
fn a_second_concurrent_apply_fails_fast_naming_the_holder_or_waits_for_it() {
    let server = server(&["--release-delay-ms", "1500"]);
    let p = Project::on(&server);
    let mut first = p
        .command(&["apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = p.path(".slugplan/state/apply.lock");
    wait_until(Duration::from_secs(30), "the lock holder", || {
        std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("\"pid\""))
    });

    let second = p.run(&["apply", "--yes"]);
    assert_eq!(second.status.code(), Some(1));
    let err = stderr(&second);
    assert!(err.contains("another apply is running"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");

    let third = p.ok(&["apply", "--yes", "--lock-timeout", "120"], 0);
    assert_eq!(
        third.trim(),
        "No changes. Every app runs its declared slug."
    );
    assert!(first.wait().unwrap().success());
}

#[test]
fn a_relative_file_url_runtime_is_locked_and_deployed_from_beside_the_manifest() {
    let p = Project::local();
    p.ctx
        .write("rt-src/rt-1.0/bin/tool", "#!/bin/sh\necho tool\n");
    std::fs::create_dir_all(p.path("runtimes")).unwrap();
    let status = Command::new("tar")
        .args(["czf", "runtimes/rt-1.0.tar.gz", "-C", "rt-src", "rt-1.0"])
        .current_dir(&p.ctx.dir)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(p.path("rt-src")).unwrap();
    let text = std::fs::read_to_string(p.path("slug.toml"))
        .unwrap()
        .replace(
            "source = \"worker\"\n",
            "source = \"worker\"\nruntimes = [\"rt\"]\n",
        )
        + "\n[runtimes.rt]\nurl = \"file:runtimes/rt-1.0.tar.gz\"\nstrip_components = 1\ndest = \"rt-1.0\"\n";
    p.ctx.write("slug.toml", text);

    let refused = p.run(&["plan"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("slugplan lock"),
        "{}",
        stderr(&refused)
    );
    p.ok(&["lock"], 0);
    let lock = std::fs::read_to_string(p.path("slug.lock")).unwrap();
    assert!(
        lock.contains("url = \"file:runtimes/rt-1.0.tar.gz\""),
        "{lock}"
    );
    p.ok(&["apply", "--yes"], 0);

    // The manifest, its lock and the archive travel together: a copy elsewhere plans clean.
    let moved = p.ctx.temp.path().join("moved");
    let status = Command::new("cp")
        .args(["-r"])
        .arg(&p.ctx.dir)
        .arg(&moved)
        .status()
        .unwrap();
    assert!(status.success());
    let out = p
        .ctx
        .command()
        .args(["plan", "--detailed-exitcode"])
        .current_dir(&moved)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "No changes. Every app runs its declared slug.",
        "{}",
        stderr(&out)
    );
}

#[test]
fn apply_reports_progress_as_plain_lines_when_stderr_is_a_pipe() {
    let p = Project::local();
    let out = p.run(&["apply", "--yes"]);
    assert!(out.status.success());
    let err = stderr(&out);
    for line in [
        "Packing web (",
        "Creating app.shop-staging",
        "Uploading upload.web→shop-staging",
        "Done release.shop-staging: v1 runs slug",
        "Done promote.shop-prod-eu: v1 runs slug",
    ] {
        assert!(err.contains(line), "no `{line}` in:\n{err}");
    }
    let quiet = Project::local();
    let out = quiet.run(&["-q", "apply", "--yes"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "", "--quiet prints nothing on stderr");
}

/// Runs `slugplan ARGS` on a pseudo-terminal (util-linux `script`), typing `input`; returns
/// the exit code and everything the terminal showed.
fn on_a_terminal(p: &Project, args: &str, input: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let template = p.ctx.command();
    let mut script = Command::new("script");
    script
        .args(["-qefc"])
        .arg(format!(
            "{} {args}",
            crate::common::slugplan_bin().display()
        ))
        .arg("/dev/null")
        .current_dir(&p.ctx.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    let mut child = script.spawn().expect("spawn script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn apply_asks_on_a_terminal_and_only_yes_applies() {
    let p = Project::local();
    let (code, screen) = on_a_terminal(&p, "apply", "no\n");
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("Do you want to perform these actions?"),
        "{screen}"
    );
    assert!(screen.contains("nothing was applied"), "{screen}");
    assert!(p.ok(&["history", "--json"], 0).trim() == "[]");

    let (code, screen) = on_a_terminal(&p, "apply", "yes\n");
    assert_eq!(code, Some(0), "{screen}");
    // The declined run already packed the slugs into the cache: nothing is built twice.
    assert!(
        screen.contains("Apply complete! 4 created, 0 built, 2 uploaded, 4 released"),
        "{screen}"
    );
}

#[test]
fn verbose_traces_the_api_requests_but_never_the_token() {
    let server = server(&[]);
    let p = Project::on(&server);
    let out = p.run(&["-v", "apply", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        all.contains("/apps/shop-staging/releases"),
        "no request traced:\n{all}"
    );
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    let trace = p.run(&["-vv", "plan"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&trace.stdout),
        stderr(&trace)
    );
    assert!(!all.contains(TOKEN), "the token leaked at trace level");
}

#[test]
fn apply_json_reports_the_plan_the_outcome_and_every_step() {
    #[derive(serde::Deserialize)]
    struct Doc {
        format_version: u32,
        applied: bool,
        outcome: Outcome,
        error: Option<String>,
        steps: Vec<Step>,
        plan: Value,
    }
    #[derive(serde::Deserialize)]
    struct Outcome {
        created: usize,
        built: usize,
        uploaded: usize,
        released: usize,
        unchanged: usize,
    }
    #[derive(serde::Deserialize)]
    struct Step {
        address: String,
        outcome: String,
        detail: String,
    }
    let p = Project::local();
    let out = p.run(&["apply", "--yes", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "--json keeps progress off stderr too");
    let doc: Doc = serde_json::from_slice(&out.stdout).expect("one JSON document on stdout");
    assert_eq!(doc.format_version, 1);
    assert!(doc.applied && doc.error.is_none());
    let o = &doc.outcome;
    assert_eq!(
        (o.created, o.built, o.uploaded, o.released, o.unchanged),
        (4, 2, 2, 4, 0)
    );
    assert_eq!(doc.plan["format_version"], 1);
    let release = doc
        .steps
        .iter()
        .find(|s| s.address == "release.shop-staging")
        .expect("the release step");
    assert_eq!(release.outcome, "done");
    assert!(
        release.detail.starts_with("v1 runs slug "),
        "{}",
        release.detail
    );
}
