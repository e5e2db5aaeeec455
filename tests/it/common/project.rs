//! A project deploying to the embedded local platform or, through the Heroku API client, to a
//! real `slugplan server` over loopback: what the deploy and promotion tests share. Each test file
//! writes its own manifest, with [`Project::platform_table`] at its top.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::server::{Api, Server, block_on, logged_requests};
use super::{TestContext, expect_exit};

/// The token the server requires and the client sends.
pub const TOKEN: &str = "project-test-token";

/// A project: a [`TestContext`], and the server it deploys to, if any.
pub struct Project {
    /// The project's directory, cache and environment.
    pub ctx: TestContext,
    /// The server and its request log (None: the embedded local platform).
    server: Option<(Server, PathBuf)>,
}

impl Project {
    /// A project on the embedded local platform.
    pub fn local() -> Project {
        Project {
            ctx: TestContext::new(),
            server: None,
        }
    }

    /// A project deploying through a fresh `slugplan server` started with `flags`, requiring
    /// [`TOKEN`] and logging every request.
    pub fn served(flags: &[&str]) -> Project {
        let ctx = TestContext::new();
        let log = ctx.temp.path().join("requests.jsonl");
        let mut args = vec!["--token", TOKEN, "--request-log", log.to_str().unwrap()];
        args.extend_from_slice(flags);
        Project {
            ctx,
            server: Some((Server::start(&args), log)),
        }
    }

    /// Whether the project deploys through the server.
    pub fn is_served(&self) -> bool {
        self.server.is_some()
    }

    /// The key an app's table needs on this project's platform: `create = true` on a server
    /// (which has no apps until they are created), nothing on the local platform.
    pub fn create_key(&self) -> &'static str {
        if self.is_served() {
            "create = true\n"
        } else {
            ""
        }
    }

    /// The manifest's `[platform]` table: empty for the local platform.
    pub fn platform_table(&self) -> String {
        match &self.server {
            Some((server, _)) => format!(
                "[platform]\nkind = \"heroku\"\napi_url = \"{}\"\n",
                server.url
            ),
            None => String::new(),
        }
    }

    /// A `slugplan ARGS…` command in the project, with no stdin and the token when served.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.ctx.command();
        cmd.args(args).stdin(Stdio::null());
        if self.is_served() {
            cmd.env("HEROKU_API_KEY", TOKEN);
        }
        cmd
    }

    /// Runs `slugplan ARGS…`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run slugplan")
    }

    /// Runs, asserts the exit code, and returns stdout.
    pub fn ok(&self, args: &[&str], code: i32) -> String {
        expect_exit(&self.run(args), args, code)
    }

    /// Runs, asserts the exit code, and returns stdout parsed as JSON.
    pub fn json(&self, args: &[&str], code: i32) -> Value {
        let out = self.ok(args, code);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// The snapshot filters of the project's context.
    pub fn filters(&self) -> Vec<(&str, &str)> {
        self.ctx.filters()
    }

    /// `rel` under the project directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.ctx.dir.join(rel)
    }

    /// The server, for a served project.
    pub fn server(&self) -> &Server {
        &self.server.as_ref().expect("a served project").0
    }

    /// A client of the server, authenticated.
    pub fn api(&self) -> Api {
        self.server().api().with_token(TOKEN)
    }

    /// The requests the server logged so far, as (method, path).
    pub fn requests(&self) -> Vec<(String, String)> {
        let (_, log) = self.server.as_ref().expect("a served project");
        logged_requests(log)
    }

    /// Another client uploads `bytes` as a slug of `app` and releases it.
    pub fn release_by_hand(&self, app: &str, bytes: &'static [u8], description: Option<&str>) {
        block_on(self.api().release_by_hand(app, bytes, description));
    }
}

/// How many of `requests` are `method` to a path `path` accepts.
pub fn count(requests: &[(String, String)], method: &str, path: impl Fn(&str) -> bool) -> usize {
    requests
        .iter()
        .filter(|(m, p)| m == method && path(p))
        .count()
}
