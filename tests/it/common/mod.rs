//! Shared test scaffolding: a hermetic [`TestContext`] (its own directory, cache and HOME, a
//! cleaned environment), the [`slugplan_snapshot!`](crate::common::snapshot) macro that pins exit
//! code, stdout and stderr together, and the helpers several test files need: a project deploying
//! to the local platform or a `slugplan server` ([`project`]), that server and a plain API client
//! ([`server`], [`schema`]), a scripted HTTP fake ([`http`]), a pseudo-terminal ([`terminal`]),
//! a throwaway PostgreSQL cluster ([`postgres`]) and the reliability campaign's [`figures`].

#![allow(dead_code)]

pub mod figures;
pub mod heroku_cli;
pub mod http;
pub mod postgres;
pub mod project;
pub mod schema;
pub mod server;
pub mod snapshot;
pub mod terminal;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use slugplan::manifest::LoadedManifest;

pub(crate) use snapshot::slugplan_snapshot;

/// Variables slugplan (or a library under it) reads, besides every `SLUGPLAN_*` one: all are
/// removed so that the developer's shell never changes what a test sees.
const FOREIGN_VARIABLES: &[&str] = &[
    "HEROKU_API_KEY",
    "XDG_CACHE_HOME",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLUMNS",
    "RUST_LOG",
    // The CI job the apply lock's holder names.
    "GITHUB_RUN_ID",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "CI_JOB_URL",
    "CI_JOB_ID",
    "BUILD_URL",
    "BUILDKITE_BUILD_URL",
    "CIRCLE_BUILD_URL",
    // Which browser `slugplan open` starts.
    "BROWSER",
    "DISPLAY",
    "WAYLAND_DISPLAY",
];

/// A scratch project: a temp directory as the working directory, with its own cache and HOME,
/// every `SLUGPLAN_*` variable cleared, `TZ` fixed and `NO_COLOR` set, so the tests are hermetic.
pub struct TestContext {
    /// Keeps the directory alive.
    pub temp: tempfile::TempDir,
    /// The project directory (where slug.toml lives).
    pub dir: PathBuf,
    /// The cache directory.
    pub cache: PathBuf,
    /// The HOME directory.
    pub home: PathBuf,
    /// The snapshot filters: this context's paths, then [`snapshot::STANDARD_FILTERS`].
    filters: Vec<(String, String)>,
}

impl TestContext {
    /// A fresh context.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("project");
        let cache = temp.path().join("cache");
        let home = temp.path().join("home");
        for d in [&dir, &cache, &home] {
            std::fs::create_dir_all(d).expect("create dir");
        }
        // The most specific first: the project, cache and HOME all lie inside the temp dir.
        let mut filters = Vec::new();
        for (path, name) in [
            (&dir, "[PROJECT]"),
            (&cache, "[CACHE]"),
            (&home, "[HOME]"),
            (&temp.path().to_owned(), "[TEMP]"),
        ] {
            filters.extend(snapshot::path_filters(path, name));
        }
        filters.extend(
            snapshot::STANDARD_FILTERS
                .iter()
                .map(|(re, to)| (re.to_string(), to.to_string())),
        );
        TestContext {
            temp,
            dir,
            cache,
            home,
            filters,
        }
    }

    /// Writes `contents` to `rel` under the project directory, creating parents.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create parent");
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// Writes `text` as slug.toml and loads it, as `slugplan` would.
    pub fn manifest(&self, text: &str) -> LoadedManifest {
        self.write("slug.toml", text);
        self.load_manifest()
    }

    /// Loads the project's slug.toml.
    pub fn load_manifest(&self) -> LoadedManifest {
        slugplan::manifest::load(&self.dir.join("slug.toml")).expect("manifest loads")
    }

    /// A `slugplan` command run in the project directory with a clean environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(slugplan_bin());
        cmd.current_dir(&self.dir);
        self.apply_env(&mut cmd);
        cmd
    }

    /// Gives `cmd` this context's environment: every variable slugplan reads removed, then
    /// HOME, the cache, `TZ` and `NO_COLOR` set.
    pub fn apply_env(&self, cmd: &mut Command) {
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("SLUGPLAN_") || FOREIGN_VARIABLES.contains(&name.as_ref()) {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", &self.home)
            .env("SLUGPLAN_CACHE_DIR", &self.cache)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1");
    }

    /// Runs `slugplan ARGS…` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run slugplan")
    }

    /// A `slugplan ARGS…` command, for [`slugplan_snapshot!`].
    pub fn slugplan(&self, args: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.args(args);
        cmd
    }

    /// The project directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The snapshot filters, as insta takes them.
    pub fn filters(&self) -> Vec<(&str, &str)> {
        self.filters
            .iter()
            .map(|(re, to)| (re.as_str(), to.as_str()))
            .collect()
    }

    /// The snapshot filters with `extra` ones added (applied before the standard ones), for one
    /// snapshot of a context that is borrowed elsewhere.
    pub fn filters_with<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut filters = self.filters();
        let at = filters.len() - snapshot::STANDARD_FILTERS.len();
        filters.splice(at..at, extra.iter().copied());
        filters
    }

    /// Adds a filter (a regex and its replacement), applied before the standard ones.
    pub fn add_filter(&mut self, regex: impl Into<String>, replacement: impl Into<String>) {
        let paths = self
            .filters
            .len()
            .saturating_sub(snapshot::STANDARD_FILTERS.len());
        self.filters
            .insert(paths, (regex.into(), replacement.into()));
    }

    /// Filters sizes such as `(314 B)` or `3.88 kB`, and `"downloaded": 314` in JSON, for
    /// archives made at test time (their compressed size moves with the time stamps inside).
    pub fn filter_sizes(&mut self) {
        self.add_filter(r"\b\d+(\.\d+)? (B|kB|MB|GB)\b", "[SIZE]");
        self.add_filter(r#""downloaded": \d+"#, r#""downloaded": [SIZE]"#);
    }

    /// Applies this context's filters to `text` (for output not produced by one command).
    pub fn redact(&self, text: &str) -> String {
        snapshot::apply_filters(text, &self.filters())
    }
}

/// Takes the apply lock of the local state in `dir` as a process running `command` would,
/// and holds it until the returned lock is dropped.
pub fn hold_apply_lock(dir: &Path, command: &str) -> slugplan::state::ApplyLock {
    use slugplan::state::State;
    let state = slugplan::state::sqlite::SqliteState::open(dir).expect("open the local state");
    let holder = slugplan::state::LockHolder::this_process(command, None);
    server::block_on(state.lock_applies(&holder, std::time::Duration::ZERO))
        .expect("take the apply lock")
}

/// A process's stdout, lossily decoded.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process's stderr, lossily decoded.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts `out` (of `slugplan ARGS`) exited with `code`, showing both streams when not, and
/// returns its stdout.
pub fn expect_exit(out: &Output, args: &[&str], code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "slugplan {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// `err` with its causes and help, without colour, as slugplan's error renderer prints it: for
/// errors a test gets from the library rather than from the binary.
pub fn render(err: &dyn miette::Diagnostic) -> String {
    slugplan::cli::diagnostics::render(err, false)
}

/// Runs `cmd`, asserts it succeeded (showing its stderr when not) and returns its output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", stderr(&out));
    out
}

/// The path of the `slugplan` binary cargo built for these tests.
pub fn slugplan_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_slugplan"))
}

/// Starts `command` (a web process) with `PORT` set to a free loopback port, returns its whole
/// answer to `GET /` once it listens (within 10 s), then stops it. Panics with the process's
/// output when it exits or never answers.
pub fn answer_on_port(mut command: Command) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local address")
        .port();
    let mut child = command
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("start {command:?}: {err}"));
    let mut answer = None;
    for _ in 0..500 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut text = String::new();
            stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            stream.read_to_string(&mut text).unwrap();
            answer = Some(text);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // It may have exited already; what matters is that it is gone before we return.
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait for the server");
    answer.unwrap_or_else(|| {
        panic!(
            "{command:?} never answered on port {port} ({})\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
