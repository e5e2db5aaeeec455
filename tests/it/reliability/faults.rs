//! A flaky platform: an apply of six apps through a `slugplan server` answering `429` to every
//! 3rd request, `503` to every 7th and cutting off every 11th reply halfway converges in one run,
//! with no duplicate release; a platform that is always down, always `429` or always `503` fails
//! the command in a bounded, configured time with one line per retry, and so does one that
//! never answers; a wrong token fails before anything is built, naming the configured host.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{all_duplicates, pipeline_project, secrets_found};
use crate::common::figures;
use crate::common::project::Project;
use crate::common::server::Server;
use crate::common::{TestContext, slugplan_snapshot, stderr};

const NO_CHANGES: &str = "No changes. Every app runs its declared slug.";

/// The server's faults: `429` every 3rd request, `503` every 7th, a reply cut off every 11th.
const FAULTS: [&str; 6] = [
    "--fault-429-every",
    "3",
    "--fault-5xx-every",
    "7",
    "--fault-drop-body-every",
    "11",
];

/// `p`'s `slugplan ARGS…` retrying quickly: 20 ms, then doubling, for up to 60 s.
fn patient(p: &Project, args: &[&str]) -> Command {
    let mut command = p.command(args);
    command.env("SLUGPLAN_RETRY_BACKOFF_MS", "20");
    command
}

/// Runs `command`, which must exit 0; returns its stdout, and adds both streams to `outputs`.
fn succeed(mut command: Command, outputs: &mut Vec<String>) -> String {
    let out = command.output().expect("run slugplan");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{command:?}\nstdout:\n{stdout}\nstderr:\n{}",
        stderr(&out)
    );
    outputs.push(stdout.clone());
    outputs.push(stderr(&out));
    stdout
}

/// How many of requests 1..=`n` each fault hit: (429s, 503s, replies cut off). A `429` wins
/// over a `503` on the same request; a reply is cut off whatever its status.
fn faults_among(n: u64) -> (u64, u64, u64) {
    let limited = n / 3;
    let unavailable = (1..=n).filter(|i| i % 7 == 0 && i % 3 != 0).count() as u64;
    (limited, unavailable, n / 11)
}

#[test]
fn one_apply_of_six_apps_converges_through_429_503_and_dropped_replies() {
    let p = pipeline_project(&FAULTS);
    let mut applies = 0;
    let mut outputs = Vec::new();
    for round in 0..2 {
        if round > 0 {
            // A new web slug: a release, a pipeline promotion and a direct one, under faults.
            p.ctx.write("web/web.js", "console.log('v1')\n");
        }
        let out = succeed(patient(&p, &["apply", "--yes"]), &mut outputs);
        applies += 1;
        assert!(out.contains("Apply complete!"), "{out}");
        let plan = succeed(patient(&p, &["plan", "--detailed-exitcode"]), &mut outputs);
        assert_eq!(plan.trim(), NO_CHANGES);
        let duplicates = all_duplicates(&p);
        assert!(duplicates.is_empty(), "round {round}: {duplicates:#?}");
    }
    let requests = p.requests().len() as u64;
    let (limited, unavailable, cut) = faults_among(requests);
    let secrets = secrets_found(&p, &outputs);
    assert_eq!(secrets, 0, "the token was printed or stored");
    figures::print(
        "faults (429 every 3rd, 503 every 7th, reply cut off every 11th), 6 apps",
        &[
            ("requests", requests),
            ("faults injected", limited + unavailable + cut),
            ("applies", applies),
            ("converged", applies),
            ("duplicates", all_duplicates(&p).len() as u64),
            ("secrets found", secrets),
        ],
    );
}

/// A project whose platform is the API at `url`, with one slug and one app.
fn project_at(url: &str) -> TestContext {
    let ctx = TestContext::new();
    ctx.write("web/web.js", "console.log('v1')\n");
    ctx.write(
        "slug.toml",
        format!(
            "[platform]\nkind = \"heroku\"\napi_url = \"{url}\"\n\n[slugs.web]\nsource = \"web\"\n\
             process_types = {{ web = \"node web.js\" }}\n\n[apps.web]\nslug = \"web\"\ncreate = true\n"
        ),
    );
    ctx
}

/// `slugplan plan` against `url` with the token `token`, retrying for at most 1.6 s from a first
/// backoff of 100 ms: backoffs of at most 0.1, 0.2, 0.4 and 0.8 s fit, so five attempts.
fn impatient_plan(ctx: &TestContext, token: &str) -> Command {
    let mut command = ctx.slugplan(&["plan", "--retry-timeout", "1.6"]);
    command
        .env("HEROKU_API_KEY", token)
        .env("SLUGPLAN_RETRY_BACKOFF_MS", "100");
    command
}

#[test]
fn a_platform_that_is_down_fails_in_the_configured_time_saying_so_once_per_retry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = project_at(&format!("http://127.0.0.1:{port}"));
    bounded(|| {
        slugplan_snapshot!(ctx.filters(), impatient_plan(&ctx, "token"), @"
        exit code: 1
        ----- stdout -----

        ----- stderr -----
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: Connection refused (os error 111) (attempt 1 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: Connection refused (os error 111) (attempt 2 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: Connection refused (os error 111) (attempt 3 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: Connection refused (os error 111) (attempt 4 of 5 failed, next in [DURATION])
           Giving up GET http://127.0.0.1:[PORT]/account/rate-limits: Connection refused (os error 111) (attempt 5 of 5 failed in [DURATION])
          × cannot use the platform at http://127.0.0.1:[PORT]/
          ├─▶   × cannot reach the platform at http://127.0.0.1:[PORT]/account/rate-limits

          ├─▶ error sending request for url (http://127.0.0.1:[PORT]/account/rate-limits)
          ├─▶ client error (Connect)
          ├─▶ tcp connect error
          ╰─▶ Connection refused (os error 111)
        ")
    });
}

/// `impatient_plan` against a server started with `fault` firing on every request.
fn always(fault: &str) -> (TestContext, Command, Server) {
    let server = Server::start(&[fault, "1"]);
    let ctx = project_at(&server.url);
    let command = impatient_plan(&ctx, "token");
    (ctx, command, server)
}

/// Runs `run`, which must end within 10 s (the retry time is 1.6 s).
fn bounded<T>(run: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let ended = run();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    ended
}

#[test]
fn a_platform_always_answering_429_fails_in_the_configured_time() {
    let (ctx, command, _server) = always("--fault-429-every");
    bounded(|| {
        slugplan_snapshot!(ctx.filters(), command, @"
        exit code: 1
        ----- stdout -----

        ----- stderr -----
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: rate limited: Your account reached the API rate limit. Please wait a few minutes before making new requests. (request id [UUID]) (attempt 1 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: rate limited: Your account reached the API rate limit. Please wait a few minutes before making new requests. (request id [UUID]) (attempt 2 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: rate limited: Your account reached the API rate limit. Please wait a few minutes before making new requests. (request id [UUID]) (attempt 3 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: rate limited: Your account reached the API rate limit. Please wait a few minutes before making new requests. (request id [UUID]) (attempt 4 of 5 failed, next in [DURATION])
           Giving up GET http://127.0.0.1:[PORT]/account/rate-limits: rate limited: Your account reached the API rate limit. Please wait a few minutes before making new requests. (request id [UUID]) (attempt 5 of 5 failed in [DURATION])
          × cannot use the platform at http://127.0.0.1:[PORT]/
          ╰─▶   × rate limited: Your account reached the API rate limit. Please wait a few minutes before making new requests. (request id [UUID])
                help: wait a few minutes for the rate limit to refill, then run again
        ")
    });
}

#[test]
fn a_platform_always_answering_503_fails_in_the_configured_time() {
    let (ctx, command, _server) = always("--fault-5xx-every");
    bounded(|| {
        slugplan_snapshot!(ctx.filters(), command, @"
        exit code: 1
        ----- stdout -----

        ----- stderr -----
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: platform error 503 (unavailable): injected fault: the service is temporarily unavailable (request id [UUID]) (attempt 1 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: platform error 503 (unavailable): injected fault: the service is temporarily unavailable (request id [UUID]) (attempt 2 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: platform error 503 (unavailable): injected fault: the service is temporarily unavailable (request id [UUID]) (attempt 3 of 5 failed, next in [DURATION])
            Retrying GET http://127.0.0.1:[PORT]/account/rate-limits: platform error 503 (unavailable): injected fault: the service is temporarily unavailable (request id [UUID]) (attempt 4 of 5 failed, next in [DURATION])
           Giving up GET http://127.0.0.1:[PORT]/account/rate-limits: platform error 503 (unavailable): injected fault: the service is temporarily unavailable (request id [UUID]) (attempt 5 of 5 failed in [DURATION])
          × cannot use the platform at http://127.0.0.1:[PORT]/
          ╰─▶   × platform error 503 (unavailable): injected fault: the service is temporarily unavailable (request id [UUID])
        ")
    });
}

#[test]
fn a_platform_that_never_answers_costs_the_retry_time_not_a_minute() {
    let ctx = project_at(&crate::common::http::silent_host());
    bounded(|| {
        slugplan_snapshot!(ctx.filters(), impatient_plan(&ctx, "token"), @"
        exit code: 1
        ----- stdout -----

        ----- stderr -----
           Giving up GET http://127.0.0.1:[PORT]/account/rate-limits: operation timed out (attempt 1 of 5 failed in [DURATION])
          × cannot use the platform at http://127.0.0.1:[PORT]/
          ├─▶   × cannot reach the platform at http://127.0.0.1:[PORT]/account/rate-limits

          ├─▶ error sending request for url (http://127.0.0.1:[PORT]/account/rate-limits)
          ╰─▶ operation timed out
        ");
    });
}

#[test]
fn a_wrong_token_fails_before_anything_is_built_naming_the_configured_host() {
    let server = Server::start(&["--token", "the-right-one"]);
    let ctx = project_at(&server.url);
    slugplan_snapshot!(ctx.filters(), impatient_plan(&ctx, "a-wrong-one"), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × cannot use the platform at http://127.0.0.1:[PORT]/
      ╰─▶   × unauthorized: Invalid credentials provided. (request id [UUID])
            help: set HEROKU_API_KEY to a token 127.0.0.1 accepts, or put one in ~/.netrc as `machine 127.0.0.1 login <email> password <token>`
    ");
    for bucket in ["slugs-v1", "chunks-v1", "tree-hashes-v1"] {
        assert!(
            !ctx.cache.join(bucket).exists(),
            "{bucket}: nothing may be built before the token is checked"
        );
    }
}
