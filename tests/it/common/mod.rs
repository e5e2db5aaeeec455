//! Shared test scaffolding: a [`TestContext`] with its own directory, cache and HOME.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Asserts `out` (of `slugplan ARGS`) exited with `code`, showing both streams when not, and
/// returns its stdout.
pub fn expect_exit(out: &Output, args: &[&str], code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "slugplan {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The path of the `slugplan` binary cargo built for these tests.
pub fn slugplan_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_slugplan"))
}

/// A scratch project: a temp directory as the working directory, with its own cache and HOME,
/// and every `SLUGPLAN_*` variable cleared so the developer's environment never leaks in.
pub struct TestContext {
    /// Keeps the directory alive.
    pub temp: tempfile::TempDir,
    /// The project directory (where slug.toml lives).
    pub dir: PathBuf,
    /// The cache directory.
    pub cache: PathBuf,
    /// The HOME directory.
    pub home: PathBuf,
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
        TestContext {
            temp,
            dir,
            cache,
            home,
        }
    }

    /// Writes `contents` to `rel` under the project directory, creating parents.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create parent");
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// A `slugplan` command run in the project directory with a clean environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(slugplan_bin());
        cmd.current_dir(&self.dir);
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            if key_str.starts_with("SLUGPLAN_") || key_str == "HEROKU_API_KEY" {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", &self.home)
            .env("SLUGPLAN_CACHE_DIR", &self.cache)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("FORCE_COLOR");
        cmd
    }

    /// Runs `slugplan ARGS…` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run slugplan")
    }

    /// The project directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// Replaces the parts of `text` that change from run to run (temp paths) with placeholders.
pub fn redact(text: &str, ctx: &TestContext) -> String {
    text.replace(&ctx.temp.path().display().to_string(), "[TEMP]")
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
