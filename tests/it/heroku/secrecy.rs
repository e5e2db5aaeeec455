//! The token never shows: not in an error's message, `Debug` or miette report, not in a trace.
//!
//! `every_error_path_keeps_the_token_out` drives every error the client can return and checks
//! each rendering. `all_output_of_every_error_path_is_free_of_the_token` runs that same test in a
//! child process with every trace of every crate (reqwest, hyper, axum, ours) switched on at
//! `TRACE` and written to stderr, and greps the child's whole output. A child process keeps the
//! global subscriber out of the other tests, and a process-wide subscriber sees every thread.

use std::io::Write;
use std::process::Command;

use serde_json::json;
use slugplan::platform::heroku::Token;
use slugplan::platform::{BlobTarget, Platform, PlatformError};

use super::{Progress, TOKEN, canned, impatient, refusing_url, slug_file};
use crate::common::figures;
use crate::common::http::{FakeServer, Reply, Seen};

/// Set in the child process: install a global `TRACE` subscriber writing to stderr.
const TRACE_ALL: &str = "SLUGPLAN_TEST_TRACE_ALL";

/// How many error paths [`every_error_rendered`] drives.
const ERROR_PATHS: usize = 14;

/// An error as a user could ever see it: its message, its `Debug`, and miette's report.
fn render(err: PlatformError) -> String {
    let plain = format!("{err}\n{err:?}");
    format!("{plain}\n{:?}", miette::Report::new(err))
}

/// Answers with an error chosen by the path, so one server serves every error path.
fn failing(seen: &Seen, index: usize) -> Reply {
    match seen.segments().as_slice() {
        ["apps", "unauthorized"] => {
            Reply::error(401, "unauthorized", "Invalid credentials provided.")
        }
        ["apps", "forbidden"] => Reply::error(403, "forbidden", "You do not have access."),
        ["apps", "missing"] => Reply::error(404, "not_found", "Couldn't find that app."),
        ["apps", "limited"] => Reply::error(429, "rate_limit", "Slow down."),
        ["apps", "broken"] => Reply::error(503, "unavailable", "Down."),
        ["apps", "garbled"] => Reply::json(200, &json!({ "not": "an app" })),
        ["apps", _, "releases"] => {
            Reply::error(422, "invalid_params", "Slug not compatible with stack.")
        }
        ["pipeline-couplings"] => Reply::error(409, "conflict", "Already coupled."),
        ["blobs", _] => Reply::error(403, "forbidden", "Request has expired"),
        _ => canned::heroku(seen, index),
    }
}

/// Every error the client returns, rendered.
async fn every_error_rendered() -> Vec<String> {
    let api = FakeServer::start(failing);
    let heroku = impatient(&api.url, 20);
    let mut shown = vec![format!("{heroku:?}")];
    for app in [
        "unauthorized",
        "forbidden",
        "missing",
        "limited",
        "broken",
        "garbled",
    ] {
        shown.push(render(heroku.app(app).await.unwrap_err()));
    }
    let release = heroku.create_release("example", canned::SLUG_ID, "x").await;
    shown.push(render(release.unwrap_err()));
    let coupling = heroku
        .create_coupling("example", canned::PIPELINE_ID, "staging")
        .await;
    shown.push(render(coupling.unwrap_err()));

    let temp = tempfile::tempdir().unwrap();
    let (path, _) = slug_file(temp.path(), 10);
    let target = BlobTarget {
        method: "put".into(),
        url: format!("{}/blobs/x?X-Amz-Signature=sig", api.url),
    };
    let expired = heroku
        .upload_blob(&target, &path, &Progress::default())
        .await;
    let expired = render(expired.unwrap_err());
    assert!(expired.contains("blob_rejected"), "{expired}");
    assert!(
        !expired.contains("X-Amz-Signature"),
        "the signature stays out: {expired}"
    );
    shown.push(expired);
    let absent = temp.path().join("absent.tgz");
    let missing = heroku
        .upload_blob(&target, &absent, &Progress::default())
        .await;
    shown.push(render(missing.unwrap_err()));
    assert!(
        api.seen()
            .iter()
            .any(|s| s.header("authorization") == Some(&format!("Bearer {TOKEN}"))),
        "the token was in play"
    );

    let offline = impatient(&refusing_url(), 10);
    shown.push(render(offline.app("example").await.unwrap_err()));

    let home = tempfile::tempdir().unwrap();
    let netrc = format!("machine api.heroku.com password {TOKEN} {TOKEN}\n");
    std::fs::write(home.path().join(".netrc"), netrc).unwrap();
    let unparsable = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap_err();
    shown.push(format!("{:?}", miette::Report::new(unparsable)));
    let nowhere = home.path().join("none");
    let missing = Token::resolve(None, Some(&nowhere), "api.heroku.com").unwrap_err();
    shown.push(format!("{:?}", miette::Report::new(missing)));
    shown
}

#[tokio::test]
async fn every_error_path_keeps_the_token_out() {
    if std::env::var_os(TRACE_ALL).is_some() {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .init();
    }
    let shown = every_error_rendered().await;
    assert_eq!(shown.len(), ERROR_PATHS, "every error path ran");
    let mut stderr = std::io::stderr();
    for text in &shown {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
        writeln!(stderr, "{text}").unwrap();
    }
}

#[test]
fn all_output_of_every_error_path_is_free_of_the_token() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "heroku::secrecy::every_error_path_keeps_the_token_out",
            "--exact",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(TRACE_ALL, "1")
        .output()
        .unwrap();
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the child failed:\n{all}");
    assert!(all.contains("1 passed"), "the child ran the test:\n{all}");
    assert!(
        all.contains("heroku api"),
        "the client's traces are there:\n{all}"
    );
    assert!(
        all.contains("hyper"),
        "the HTTP stack's traces are there too"
    );
    assert!(
        all.contains("Invalid credentials provided."),
        "the errors are there"
    );
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    assert!(
        !all.contains("do-not-print"),
        "part of the token leaked:\n{all}"
    );
    assert!(
        !all.contains("X-Amz-Signature"),
        "a blob signature leaked:\n{all}"
    );
    figures::print(
        "secrets (the API token through every client error path, traced at TRACE)",
        &[("error paths", ERROR_PATHS as u64), ("secrets found", 0)],
    );
}
