//! Heroku's own CLI against `slugplan server`: the everyday commands a new user runs, in one
//! scenario (create apps, list and inspect them, release, make a pipeline, promote, change the
//! stack, maintenance, rename, destroy).
//!
//! Two tests share the scenario's table of what each command sends:
//! - [`the_heroku_cli_runs_its_everyday_commands_against_the_server`] runs the real CLI
//!   (`heroku`, the version `tests/setup.sh` pins, or `SLUGPLAN_HEROKU_CLI`), checks that each
//!   command exits 0, that the server saw exactly the requests the table lists, and snapshots
//!   what the command prints. It **requires** the CLI when `CI` is set (CI runs `tests/setup.sh`,
//!   which installs it) or when `SLUGPLAN_REQUIRE_HEROKU_CLI=1`; elsewhere, without the CLI, it
//!   says so and checks nothing.
//! - [`each_cli_commands_requests_are_answered_as_the_schema_says`] replays the table's
//!   requests without the CLI (the same paths, queries, bodies, `Accept` and `Range` headers)
//!   and checks every status and every answer against the official schema, so the commands are
//!   covered on every machine.
//!
//! The CLI is kept from reaching Heroku: `HEROKU_HOST` and `HEROKU_PARTICLEBOARD_URL` (where
//! it checks an account's standing) point at the server, and telemetry, update checks and
//! auto-update are off (`DISABLE_TELEMETRY`, `HEROKU_SKIP_NEW_VERSION_CHECK`,
//! `HEROKU_DISABLE_AUTOUPDATE`, all read in its source).

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::heroku_cli;
use crate::common::schema::{schema, target_errors};
use crate::common::server::{Api, Server};

mod scenario;

use scenario::{SCENARIO, Sent, Step};

/// The CLI version the snapshots are of (the one `tests/setup.sh` installs).
const CLI_VERSION: &str = "11.10.0";
const TOKEN: &str = "cli-test-token";

/// Releases a slug of fixed bytes to `app` through the API.
async fn deploy(server: &Server, app: &str) {
    let api = authorized(server);
    let bytes = format!("the slug of {app}").into_bytes();
    let checksum = format!("SHA256:{}", hex::encode(Sha256::digest(&bytes)));
    let slug = api
        .create(
            &format!("/apps/{app}/slugs"),
            json!({ "process_types": { "web": "./web" }, "checksum": checksum }),
            "slug",
        )
        .await;
    let put = reqwest::Client::new()
        .put(slug["blob"]["url"].as_str().unwrap())
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    api.create(
        &format!("/apps/{app}/releases"),
        json!({ "slug": slug["id"], "description": "Deploy web" }),
        "release",
    )
    .await;
}

fn authorized(server: &Server) -> Api {
    let mut api = server.api();
    api.auth = Some(format!("Bearer {TOKEN}"));
    api
}

fn start_server(log: Option<&Path>) -> Server {
    let mut args = vec!["--token", TOKEN];
    let log = log.map(|p| p.to_str().unwrap().to_owned());
    if let Some(log) = &log {
        args.extend(["--request-log", log]);
    }
    Server::start(&args)
}

/// Runs the steps that are not CLI commands.
async fn other_step(server: &Server, step: &Step) {
    match step {
        Step::Deploy(app) => deploy(server, app).await,
        Step::Pipeline(name) => {
            authorized(server)
                .create("/pipelines", json!({ "name": name }), "pipeline")
                .await;
        }
        Step::Cli(..) => unreachable!("CLI steps are the caller's"),
    }
}

/// What placeholders stand for, looked up on the server when needed.
struct Ids<'a> {
    server: &'a Server,
    promotion: Option<String>,
}

impl Ids<'_> {
    async fn resolve(&self, text: &str) -> String {
        let api = authorized(self.server);
        let mut out = text.to_owned();
        let placeholder =
            regex::Regex::new(r"\{(app|pipeline):([a-z0-9-]+)\}|\{account\}|\{promotion\}")
                .unwrap();
        while let Some(found) = placeholder.find(&out) {
            let key = found.as_str().trim_matches(['{', '}']);
            let id = match key.split_once(':') {
                Some(("app", name)) => {
                    api.read(&format!("/apps/{name}"), "app").await["id"].clone()
                }
                Some((_, name)) => {
                    api.read(&format!("/pipelines/{name}"), "pipeline").await["id"].clone()
                }
                None if key == "account" => api.read("/account", "account").await["id"].clone(),
                None => json!(self.promotion.clone().expect("a promotion was made")),
            };
            out.replace_range(found.range(), id.as_str().unwrap());
        }
        out
    }
}

/// The schema link a request is an instance of.
fn link_of(method: &str, path: &str) -> &'static Value {
    let link = slugplan::server::schema_links()
        .iter()
        .filter(|l| l.method == method && l.matches(path))
        .min_by_key(|l| l.template.matches('{').count())
        .unwrap_or_else(|| panic!("{method} {path} is no link of the schema"));
    schema()["definitions"][link.definition]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["title"] == link.title)
        .unwrap()
}

#[tokio::test]
async fn each_cli_commands_requests_are_answered_as_the_schema_says() {
    let server = start_server(None);
    let client = reqwest::Client::new();
    for step in SCENARIO {
        let Step::Cli(args, sent) = step else {
            other_step(&server, step).await;
            continue;
        };
        let mut ids = Ids {
            server: &server,
            promotion: None,
        };
        for request in *sent {
            let target = ids.resolve(request.target).await;
            let url = format!("{}{target}", server.url);
            let mut builder = client
                .request(Method::from_bytes(request.method.as_bytes()).unwrap(), &url)
                .header(
                    "Accept",
                    request
                        .accept
                        .unwrap_or("application/vnd.heroku+json; version=3"),
                )
                .header("Authorization", format!("Bearer {TOKEN}"));
            if let Some(range) = request.range {
                builder = builder.header("Range", range);
            }
            if let Some(body) = request.body {
                builder = builder
                    .header("Content-Type", "application/json")
                    .body(ids.resolve(body).await);
            }
            let response = builder.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.expect("a JSON answer");
            let what = format!("heroku {}: {} {target}", args.join(" "), request.method);
            assert_eq!(status.as_u16(), request.status, "{what}: {body}");
            if status.is_success() {
                let path = target.split('?').next().unwrap();
                let errors = target_errors(link_of(request.method, path), &body);
                assert!(errors.is_empty(), "{what}: {errors:#?}\n{body:#}");
            }
            if request.target == "/pipeline-promotions" {
                ids.promotion = Some(body["id"].as_str().unwrap().to_owned());
            }
        }
    }
}

/// `heroku ARGS` against `server`, in a home of its own, kept from anything but the server.
fn cli_command(cli: &Path, home: &Path, server: &Server, args: &[&str]) -> Command {
    heroku_cli::command(cli, home, &server.url, TOKEN, args)
}

/// What varies from run to run in the CLI's output: ports, times, table rule lengths.
fn redact(text: &str) -> String {
    let rules = [
        (r":[0-9]{2,5}/", ":[PORT]/"),
        (r"\b127\.0\.0\.1:[0-9]{2,5}\b", "127.0.0.1:[PORT]"),
        (
            r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000 \(~ [0-9]+[smhd] ago\)",
            "[TIME]",
        ),
        (r"─+", "───"),
        (r"[ \t]+\n", "\n"),
    ];
    rules.iter().fold(text.to_owned(), |text, (pattern, with)| {
        regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, *with)
            .into_owned()
    })
}

/// The requests logged since line `from`, ids made `{id}`, sorted (a command sends some at
/// once).
fn logged_since(log: &Path, from: usize) -> Vec<String> {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let mut seen: Vec<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .skip(from)
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            let query = entry["query"]
                .as_str()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let target = format!("{}{query}", entry["path"].as_str().unwrap());
            let target = url_decoded(&uuid.replace_all(&target, "{id}"));
            format!(
                "{} {target} {}",
                entry["method"].as_str().unwrap(),
                entry["status"]
            )
        })
        .collect();
    seen.sort();
    seen
}

fn url_decoded(text: &str) -> String {
    text.replace("%5B", "[").replace("%5D", "]")
}

/// The table's requests of a command, in the log's form.
fn expected(sent: &[Sent]) -> Vec<String> {
    let placeholder =
        regex::Regex::new(r"\{(app|pipeline):[a-z0-9-]+\}|\{account\}|\{promotion\}").unwrap();
    let mut expected: Vec<String> = sent
        .iter()
        .map(|s| {
            let target = placeholder.replace_all(s.target, "{id}");
            format!("{} {target} {}", s.method, s.status)
        })
        .collect();
    expected.sort();
    expected
}

#[tokio::test]
async fn the_heroku_cli_runs_its_everyday_commands_against_the_server() {
    let Some(cli) =
        heroku_cli::or_skip("its commands are checked by replaying their requests only")
    else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path().join("home");
    // Seen once already: the CLI's notice of new terms is not what the snapshots are about.
    std::fs::create_dir_all(home.join("cache/heroku")).unwrap();
    std::fs::write(home.join("cache/heroku/terms-of-service"), "").unwrap();
    let log = temp.path().join("requests.jsonl");
    let server = start_server(Some(&log));

    let version = cli_command(&cli, &home, &server, &["--version"])
        .output()
        .expect("run the Heroku CLI");
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.starts_with(&format!("heroku/{CLI_VERSION} ")),
        "these tests are for heroku {CLI_VERSION} (tests/setup.sh installs it), not {version}"
    );

    let mut transcript = String::new();
    for step in SCENARIO {
        let Step::Cli(args, sent) = step else {
            other_step(&server, step).await;
            continue;
        };
        let from = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count();
        let output = tokio::task::spawn_blocking({
            let mut command = cli_command(&cli, &home, &server, args);
            move || command.output().expect("run the Heroku CLI")
        })
        .await
        .unwrap();
        let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if *args == ["pipelines"] {
            // Printed in the API's order, which is by id (random): sorted to compare.
            let mut lines: Vec<&str> = stdout.lines().collect();
            lines[2..].sort_unstable();
            stdout = lines.iter().map(|line| format!("{line}\n")).collect();
        }
        assert_eq!(
            output.status.code(),
            Some(0),
            "heroku {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            args.join(" ")
        );
        assert_eq!(
            logged_since(&log, from),
            expected(sent),
            "heroku {} sent other requests than the table says",
            args.join(" ")
        );
        transcript.push_str(&format!(
            "$ heroku {}\n{stdout}{}\n",
            args.join(" "),
            stderr
                .lines()
                .map(|line| format!("[stderr] {line}\n"))
                .collect::<String>()
        ));
    }
    insta::assert_snapshot!("heroku_cli_everyday_commands", redact(&transcript));
}
