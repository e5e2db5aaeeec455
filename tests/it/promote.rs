//! Promotion, pipelines, rollback and release history, end to end: the real binary against the
//! embedded local platform and, through the Heroku API client, a real `slugplan server`.
//!
//! The slugs are tiny app-only archives (no runtimes, no Go), so every test is quick.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::TestContext;

mod history;
mod safety;
use crate::server::support::{Api, Server, block_on, logged_requests};

const TOKEN: &str = "promote-test-token";
const PROMOTE_TO_EU: &[&str] = &[
    "promote",
    "web-staging",
    "--to",
    "web-prod-eu",
    "--json",
    "--yes",
];
const TARGETS: [&str; 3] = ["web-prod-ap", "web-prod-eu", "web-prod-us"];

/// A project: `web-staging` runs slug `web`; three production apps promote from it.
struct Project {
    ctx: TestContext,
    /// The server's URL, when deploying through the API.
    url: Option<String>,
    /// The server's request log.
    log: Option<PathBuf>,
    /// Keeps the server running.
    _server: Option<Server>,
}

impl Project {
    fn local(pipeline: bool) -> Project {
        Project::make(TestContext::new(), None, None, pipeline)
    }

    /// A project deploying through a fresh `slugplan server` started with `flags`.
    fn served(pipeline: bool, flags: &[&str]) -> Project {
        let ctx = TestContext::new();
        let log = ctx.temp.path().join("requests.jsonl");
        let mut args = vec!["--token", TOKEN, "--request-log", log.to_str().unwrap()];
        args.extend_from_slice(flags);
        let server = Server::start(&args);
        let url = server.url.clone();
        Project::make(ctx, Some(server), Some((url, log)), pipeline)
    }

    fn make(
        ctx: TestContext,
        server: Option<Server>,
        at: Option<(String, PathBuf)>,
        pipeline: bool,
    ) -> Project {
        ctx.write("web/web.js", "console.log('v1')\n");
        let (url, log) = at.unzip();
        let project = Project {
            ctx,
            url,
            log,
            _server: server,
        };
        project.manifest(pipeline, &[]);
        project
    }

    /// Writes slug.toml; `more` adds production apps promoting from web-staging.
    fn manifest(&self, pipeline: bool, more: &[&str]) {
        let mut text = match &self.url {
            Some(url) => format!("[platform]\nkind = \"heroku\"\napi_url = \"{url}\"\n"),
            None => String::new(),
        };
        let app = |stage: &str| {
            let mut lines = String::from("create = true\n");
            if pipeline {
                lines.push_str(&format!("pipeline = \"web\"\nstage = \"{stage}\"\n"));
            }
            lines
        };
        text.push_str(
            "[slugs.web]\nsource = \"web\"\nprocess_types = { web = \"node web.js\" }\n\n",
        );
        text.push_str(&format!(
            "[apps.web-staging]\nslug = \"web\"\n{}\n",
            app("staging")
        ));
        for target in TARGETS.iter().chain(more) {
            text.push_str(&format!(
                "[apps.{target}]\npromote_from = \"web-staging\"\n{}\n",
                app("production")
            ));
        }
        self.ctx.write("slug.toml", text);
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd: Command = self.ctx.command();
        cmd.args(args).stdin(Stdio::null());
        if self.url.is_some() {
            cmd.env("HEROKU_API_KEY", TOKEN);
        }
        cmd.output().expect("run slugplan")
    }

    /// Runs, asserts the exit code, and returns stdout.
    fn ok(&self, args: &[&str], code: i32) -> String {
        crate::common::expect_exit(&self.run(args), args, code)
    }

    fn json(&self, args: &[&str], code: i32) -> Value {
        let out = self.ok(args, code);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// `slugplan releases APP --json`, newest first.
    fn releases(&self, app: &str) -> Vec<Value> {
        let doc = self.json(&["releases", app, "--json"], 0);
        assert_eq!(doc["format_version"], 1);
        doc["releases"].as_array().unwrap().clone()
    }

    /// The checksum of what `app` runs (its current, succeeded release).
    fn running(&self, app: &str) -> String {
        let releases = self.releases(app);
        let current = releases
            .iter()
            .find(|r| r["current"] == true && r["status"] == "succeeded")
            .unwrap_or_else(|| panic!("{app} runs nothing: {releases:#?}"));
        current["checksum"].as_str().unwrap().to_owned()
    }

    /// Staging gets a new slug; the production apps still run the old one.
    fn new_staging_release(&self, text: &str) {
        self.ctx.write("web/web.js", text);
        self.ok(&["apply", "--yes", "--target", "web-staging"], 0);
    }

    /// The requests the server logged so far, as (method, path).
    fn requests(&self) -> Vec<(String, String)> {
        let log = self.log.as_deref().expect("a served project");
        logged_requests(log)
    }

    /// Another client uploads `bytes` as a slug of `app` and releases it.
    fn release_by_hand(&self, app: &str, bytes: &'static [u8], description: &str) {
        let api = self.api();
        block_on(async {
            let slug = api.upload_slug(app, bytes, "heroku-24").await;
            api.create(
                &format!("/apps/{app}/releases"),
                json!({"slug": slug["id"], "description": description}),
                "release",
            )
            .await;
        });
    }

    fn api(&self) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: self.url.clone().expect("a served project"),
            auth: Some(format!("Bearer {TOKEN}")),
        }
    }
}

fn count(requests: &[(String, String)], method: &str, path: impl Fn(&str) -> bool) -> usize {
    requests
        .iter()
        .filter(|(m, p)| m == method && path(p))
        .count()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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

/// Staging runs a new slug the production apps do not: one apply promotes it to all three. The
/// plan shows each promotion with its source release and both checksums; the apply builds and
/// uploads nothing and makes three releases.
fn promote_to_three_production_apps(p: &Project) -> Value {
    let staging = p.running("web-staging");
    let old = p.running("web-prod-eu");
    assert_ne!(staging, old);

    let plan = p.ok(&["plan"], 0);
    assert!(
        plan.contains("Plan: 0 to build, 0 to upload, 3 to release."),
        "{plan}"
    );
    for target in TARGETS {
        assert!(plan.contains(&format!("» promote.{target}")), "{plan}");
    }
    let short = |c: &str| format!("{}…", &c[..19]);
    assert!(
        plan.contains(&format!("from:     web-staging v2 ({})", short(&staging))),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("target:   runs v1 ({})", short(&old))),
        "{plan}"
    );

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
        assert_eq!(p.running(target), staging, "{target}");
        let newest = &p.releases(target)[0];
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
    let p = Project::local(true);
    p.ok(&["apply", "--yes"], 0);
    p.new_staging_release("console.log('v2')\n");
    let plan = p.ok(&["plan"], 0);
    assert_eq!(
        plan.matches("via:      pipeline web (one promotion)")
            .count(),
        3,
        "{plan}"
    );
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
    let p = Project::served(true, &[]);
    p.ok(&["apply", "--yes"], 0);
    p.new_staging_release("console.log('v2')\n");
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

    // With nothing to do, a plan reads each app's release, the shared slug once, each
    // coupling and the pipeline: no app reads, no writes.
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
    assert!(sent.len() <= 4 + 1 + 4 + 1, "{sent:#?}");
}

#[test]
fn couplings_that_are_missing_or_differ_are_planned_and_fixed() {
    let p = Project::served(true, &[]);
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
    let plan = p.ok(&["plan"], 0);
    assert!(plan.contains("& coupling.web-prod-eu"), "{plan}");
    assert!(
        plan.contains("reason:   coupled to web at staging, declared production"),
        "{plan}"
    );
    assert!(plan.contains("coupled to another pipeline"), "{plan}");
    assert!(plan.contains("Plan: 2 to create, 4 to couple,"), "{plan}");

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
    let p = Project::served(true, &["--fault-release-fail-every", "3"]);
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
        doc["error"].as_str().unwrap().contains(address.as_str()),
        "{doc:#}"
    );
    assert!(stderr(&out).contains(address.as_str()), "{}", stderr(&out));
    let staging = p.running("web-staging");
    for target in TARGETS.iter().filter(|t| **t != name) {
        assert_eq!(p.running(target), staging, "{target}");
    }
    assert_eq!(p.releases(name)[0]["status"], "failed");
}

#[test]
fn promote_releases_the_sources_slug_to_the_manifests_targets_and_reports_json() {
    let p = Project::local(false);
    p.ok(&["apply", "--yes"], 0);
    p.new_staging_release("console.log('v2')\n");
    let staging = p.running("web-staging");

    // Named twice, promoted to once.
    let twice = [PROMOTE_TO_EU, &["--to", "web-prod-eu"]].concat();
    let only = p.json(&twice, 0);
    assert_eq!(only["targets"].as_array().unwrap().len(), 1, "{only:#}");
    assert_eq!(p.running("web-prod-eu"), staging);

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
    assert!(
        again["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["action"] == "no-op")
    );
    // The source itself, named by another app's promotion, is refused by app id.
    let err = p.run(&["promote", "web-staging", "--to", "web-staging", "--yes"]);
    assert_eq!(err.status.code(), Some(1));
    assert!(
        stderr(&err).contains("is the source app web-staging itself"),
        "{}",
        stderr(&err)
    );
    let history = p.ok(&["history", "--limit", "1"], 0);
    assert!(history.contains("promote web-staging"), "{history}");
}

#[test]
fn promote_through_a_pipeline_reports_each_target_and_names_the_one_that_failed() {
    // Releases: the first apply makes #1-#4, staging's new one is #5; of the promotion's three
    // (#6-#8, targets in name order) the first fails.
    let p = Project::served(true, &["--fault-release-fail-every", "6"]);
    p.ok(&["apply", "--yes"], 0);
    p.new_staging_release("console.log('v2')\n");
    let staging = p.running("web-staging");
    let before = p.requests().len();
    let out = p.run(&["promote", "web-staging", "--json", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("promotion failed for web-prod-ap"),
        "{}",
        stderr(&out)
    );
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
            assert_eq!(p.running(app), staging);
        }
    }
    // Run again, only the failed target is left to promote.
    let again = p.json(&["promote", "web-staging", "--json", "--yes"], 0);
    assert_eq!(
        (again["promoted"].as_u64(), again["unchanged"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(p.running("web-prod-ap"), staging);
}
