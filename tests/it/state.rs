//! slugplan's own state in its two backends: `state show` and `state migrate`, and the
//! PostgreSQL backend with a real PostgreSQL ([`crate::common::postgres`]), where two checkouts
//! of one manifest in two directories play two CI runners sharing one database and one
//! `slugplan server` ([`runners`]); faults ([`faults`]), copying ([`migrate`]), the schema
//! ([`schema`]), TLS ([`tls`]) and the URL's password ([`secrecy`]).

mod backends;
mod faults;
mod migrate;
mod runners;
mod schema;
mod secrecy;
mod tls;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::postgres::{PASSWORD, PASSWORD_IN_URL, PASSWORD_MARKER, PgCluster};
use crate::common::server::Server;
use crate::common::{TestContext, expect_exit, slugplan_snapshot};

/// The token the team's server requires.
const TOKEN: &str = "team-token";

const NO_CHANGES: &str = "No changes. Every app runs its declared slug.";

/// Asserts that no spelling of the database password is in `text` (`what` says where from).
#[track_caller]
fn assert_no_password(text: &str, what: &str) {
    for secret in [PASSWORD, PASSWORD_IN_URL, PASSWORD_MARKER] {
        assert!(
            !text.contains(secret),
            "the database password shows in {what}:\n{text}"
        );
    }
}

/// Asserts that neither stream of `out` holds the password.
#[track_caller]
fn assert_output_clean(out: &Output, what: &str) {
    assert_no_password(
        &String::from_utf8_lossy(&out.stdout),
        &format!("{what} (stdout)"),
    );
    assert_no_password(
        &String::from_utf8_lossy(&out.stderr),
        &format!("{what} (stderr)"),
    );
}

/// Two checkouts of one manifest (runner A and runner B, each in its own directory with its
/// own cache) deploying through one `slugplan server`, with their state in one database.
struct Team {
    server: Server,
    log: PathBuf,
    /// The state database's URL, password and all.
    url: String,
    /// The state database's name.
    database: String,
    a: TestContext,
    b: TestContext,
}

impl Team {
    /// A team on a fresh database of the shared cluster, its server started with `flags`.
    fn new(flags: &[&str]) -> Team {
        Team::on(PgCluster::shared(), flags)
    }

    /// A team on a fresh database of `cluster`.
    fn on(cluster: &PgCluster, flags: &[&str]) -> Team {
        let database = cluster.database();
        let url = cluster.url(&database, "sslmode=disable");
        let ctx = TestContext::new();
        let log = ctx.temp.path().join("requests.jsonl");
        let mut args = vec!["--token", TOKEN, "--request-log", log.to_str().unwrap()];
        args.extend_from_slice(flags);
        let data = ctx.temp.path().join("platform");
        let server = Server::start_on(ctx, data, &args);
        let team = Team {
            server,
            log,
            url,
            database,
            a: runner(),
            b: runner(),
        };
        for ctx in [&team.a, &team.b] {
            write_shop(ctx, &team.server.url, "");
        }
        team
    }

    /// `slugplan ARGS…` in runner `ctx`'s checkout, with the token and the state URL.
    fn command(&self, ctx: &TestContext, args: &[&str]) -> Command {
        let mut cmd = ctx.command();
        cmd.args(args)
            .stdin(Stdio::null())
            .env("HEROKU_API_KEY", TOKEN)
            .env("SLUGPLAN_STATE_URL", &self.url);
        cmd
    }

    /// Runs `slugplan ARGS…` in `ctx`, asserting the exit code and that the password shows
    /// nowhere; returns stdout.
    fn ok(&self, ctx: &TestContext, args: &[&str], code: i32) -> String {
        let out = self.command(ctx, args).output().expect("run slugplan");
        assert_output_clean(&out, &format!("slugplan {args:?}"));
        expect_exit(&out, args, code)
    }

    /// Runs `slugplan ARGS…` in `ctx` and parses its stdout as JSON.
    fn json(&self, ctx: &TestContext, args: &[&str], code: i32) -> Value {
        let out = self.ok(ctx, args, code);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// Starts `slugplan ARGS…` in `ctx` in the background, its output captured.
    fn spawn(&self, ctx: &TestContext, args: &[&str]) -> Child {
        self.command(ctx, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slugplan")
    }

    /// The requests the server logged so far, as (method, path).
    fn requests(&self) -> Vec<(String, String)> {
        crate::common::server::logged_requests(&self.log)
    }

    /// Waits until `ctx`'s `state show` names a holder of the apply lock; returns its pid.
    fn wait_for_holder(&self, ctx: &TestContext) -> u64 {
        let mut pid = None;
        wait_until(Duration::from_secs(60), "an apply lock holder", || {
            let shown = self.json(ctx, &["state", "show", "--json"], 0);
            pid = shown["lock"]["pid"].as_u64();
            pid.is_some()
        });
        pid.unwrap()
    }

    /// Asserts that every app has exactly one release: nothing was released twice.
    #[track_caller]
    fn assert_one_release_each(&self) {
        let api = self.server.api().with_token(TOKEN);
        for app in ["shop-staging", "shop-prod", "shop-worker"] {
            let releases =
                crate::common::server::block_on(api.get(&format!("/apps/{app}/releases"))).body;
            assert_eq!(releases.as_array().unwrap().len(), 1, "{app}: {releases:#}");
        }
    }

    /// Asserts that `ctx`'s plan has nothing to do on the platform and sees no drift (a fresh
    /// checkout still builds its slugs into its own cache: they are not uploaded again).
    #[track_caller]
    fn assert_in_sync(&self, ctx: &TestContext) {
        let plan = self.json(ctx, &["plan", "--json"], 0);
        let summary = &plan["summary"];
        for what in ["create", "upload", "release", "couple"] {
            assert_eq!(summary[what], 0, "{what}: {plan:#}");
        }
        assert_eq!(plan["drift"], serde_json::json!([]), "{plan:#}");
    }

    /// The snapshot filters of runner `ctx`, with the test database's name hidden.
    fn filters<'a>(&self, ctx: &'a TestContext) -> Vec<(&'a str, &'a str)> {
        ctx.filters_with(&[(r"\bt\d+_\d+\b", "[DB]")])
    }
}

/// A fresh checkout: its own directory (named `project`, so both derive one workspace), cache
/// and HOME.
fn runner() -> TestContext {
    TestContext::new()
}

/// Writes the shop's slug.toml in `ctx`, deploying to the server at `api_url` with its state on
/// PostgreSQL; `extra` is appended.
fn write_shop(ctx: &TestContext, api_url: &str, extra: &str) {
    ctx.write("web/web.js", "console.log('Hello World')\n");
    ctx.write("worker/worker.js", "setInterval(() => {}, 1000)\n");
    ctx.write(
        "slug.toml",
        format!(
            r#"[platform]
kind = "heroku"
api_url = "{api_url}"

[state]
backend = "postgres"

[slugs.web]
source = "web"
process_types = {{ web = "node web.js" }}

[slugs.worker]
source = "worker"
process_types = {{ worker = "node worker.js" }}

[apps.shop-staging]
slug = "web"
create = true

[apps.shop-prod]
promote_from = "shop-staging"
promote = "auto"
create = true

[apps.shop-worker]
slug = "worker"
create = true
{extra}"#
        ),
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

/// Waits for `child` and returns its output, asserting the password shows nowhere in it.
fn finish(child: Child, what: &str) -> Output {
    let out = child.wait_with_output().expect("wait for slugplan");
    assert_output_clean(&out, what);
    out
}

#[test]
fn state_show_on_the_local_backend_names_the_file_and_counts() {
    let ctx = TestContext::new();
    ctx.write("web/web.js", "console.log('hi')\n");
    ctx.write(
        "slug.toml",
        "[slugs.web]\nsource = \"web\"\nprocess_types = { web = \"node web.js\" }\n\n[apps.shop-web]\nslug = \"web\"\n",
    );
    let out = ctx.run(&["apply", "--yes"]);
    expect_exit(&out, &["apply"], 0);
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["state", "show"]), @"
    exit code: 0
    ----- stdout -----
    backend    local
    path       ./.slugplan/state
    schema     version 6 (this slugplan knows 6)
    lock       free
    records    1 upload, 1 release, 1 slug key, 1 apply with 3 events

    ----- stderr -----
    ");
}
