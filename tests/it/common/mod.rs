//! Shared test scaffolding: a [`TestContext`] with its own directory, cache and HOME.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
