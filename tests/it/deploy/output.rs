//! How an apply reports: plain progress lines on a pipe and nothing with `--quiet`, a prompt and
//! bars on a terminal, request traces with `-v` that never show the token, and one JSON
//! document with `--json`.

use serde_json::Value;

use super::{local, served};
use crate::common::project::TOKEN;
use crate::common::terminal::on_a_terminal;
use crate::common::{stderr, stdout};

#[test]
fn apply_reports_progress_as_plain_lines_when_stderr_is_a_pipe() {
    // Steps run in parallel here, so the lines come in any order: each must be there.
    let p = local();
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
    // --quiet prints nothing on stderr, and only the closing line on stdout.
    let args = ["apply", "--yes", "--target", "shop-worker"];
    let loud = local().run(&args);
    let quiet = local().run(&[&["-q"][..], &args].concat());
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "");
    // Each project's data directory gives its app its own web port.
    let ports = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let same = |text: String| ports.replace_all(&text, "127.0.0.1:[PORT]").into_owned();
    assert_eq!(
        same(stdout(&quiet)),
        "Apply complete! 1 created, 1 built, 1 uploaded, 1 released, 0 unchanged.\n\
         shop-worker: http://127.0.0.1:[PORT]/ runs no web dyno (formation web=0)\n"
    );
    assert!(
        same(stdout(&loud)).ends_with(&same(stdout(&quiet))),
        "{}",
        stdout(&loud)
    );
}

#[test]
fn apply_asks_on_a_terminal_and_only_yes_applies() {
    // A terminal shows progress bars, redrawn at times of their own: the screen is checked for
    // what matters, not snapshotted.
    let p = local();
    on_a_terminal(&p.ctx, &["apply"], "no\n").assert_shows(
        1,
        &[
            "Do you want to perform these actions?",
            "nothing was applied",
        ],
    );
    let history: serde_json::Value =
        serde_json::from_str(&p.ok(&["history", "--json"], 0)).unwrap();
    assert_eq!(history["entries"], serde_json::json!([]));

    // The declined run already packed the slugs into the cache: nothing is built twice.
    on_a_terminal(&p.ctx, &["apply"], "yes\n").assert_shows(
        0,
        &["Apply complete! 4 created, 0 built, 2 uploaded, 4 released"],
    );
}

#[test]
fn verbose_traces_the_api_requests_but_never_the_token() {
    // A trace is a long log: one line in it is looked for, and the token nowhere.
    let p = served(&[]);
    let out = p.run(&["-v", "apply", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("/apps/shop-staging/releases"),
        "no request traced:\n{all}"
    );
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    let trace = p.run(&["-vv", "plan"]);
    let all = format!("{}{}", stdout(&trace), stderr(&trace));
    assert!(!all.contains(TOKEN), "the token leaked at trace level");
}

#[test]
fn verbose_traces_the_embedded_platforms_calls_too() {
    // Without HTTP there are no requests to trace: each call the local platform answers is.
    let p = local();
    let out = p.run(&["-v", "apply", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("local platform: release slug ") && err.contains(" to shop-staging ("),
        "no release traced:\n{err}"
    );
    let quiet = p.run(&["apply", "--yes"]);
    assert!(
        !stderr(&quiet).contains("local platform: "),
        "traced without -v:\n{}",
        stderr(&quiet)
    );
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
    let p = local();
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
