//! Heroku's own CLI (the npm package `heroku`, the version `tests/setup.sh` pins), run against a
//! `slugplan server`: where to find it, whether this run must have it, and a command kept from
//! anything but that server.
//!
//! The CLI is `SLUGPLAN_HEROKU_CLI`, else `heroku` on the `PATH`. A test that drives it
//! **requires** it when `CI` is set (CI runs `tests/setup.sh`, which installs it) or when
//! `SLUGPLAN_REQUIRE_HEROKU_CLI=1`; elsewhere, without the CLI, it says so and checks nothing.
//! The command runs in a home of its own, pointed at the server by `HEROKU_HOST` (and
//! `HEROKU_PARTICLEBOARD_URL`, where the CLI checks an account), with telemetry, update checks
//! and auto-update off (`DISABLE_TELEMETRY`, `HEROKU_SKIP_NEW_VERSION_CHECK`,
//! `HEROKU_DISABLE_AUTOUPDATE`, all read in its source), so it never reaches Heroku.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The CLI to run, if there is one: `SLUGPLAN_HEROKU_CLI`, else `heroku` on the PATH.
pub fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SLUGPLAN_HEROKU_CLI") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("heroku"))
            .find(|candidate| candidate.is_file())
    })
}

/// Whether this run must have the CLI: in CI, or when asked to.
pub fn required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("SLUGPLAN_REQUIRE_HEROKU_CLI").is_some_and(|v| v == "1")
}

/// The CLI, or None after saying on stderr that `instead` is all the test checks; fails the
/// test when the CLI is [`required`] and missing.
pub fn or_skip(instead: &str) -> Option<PathBuf> {
    let cli = find();
    if cli.is_none() {
        assert!(
            !required(),
            "the Heroku CLI is required here (CI is set): run tests/setup.sh, which installs it"
        );
        #[expect(
            clippy::print_stderr,
            reason = "says why the test checked nothing, in the harness's output"
        )]
        {
            eprintln!(
                "the Heroku CLI is not installed: {instead} (tests/setup.sh installs it; CI \
                 requires it)"
            );
        }
    }
    cli
}

/// `heroku ARGS` against the server at `url` with `token`, in `home`, kept from anything but
/// the server.
pub fn command(cli: &Path, home: &Path, url: &str, token: &str, args: &[&str]) -> Command {
    let mut command = Command::new(cli);
    command
        .args(args)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .env("HEROKU_HOST", url)
        .env("HEROKU_PARTICLEBOARD_URL", url)
        .env("HEROKU_API_KEY", token)
        .env("DISABLE_TELEMETRY", "true")
        .env("HEROKU_SKIP_NEW_VERSION_CHECK", "true")
        .env("HEROKU_DISABLE_AUTOUPDATE", "1");
    command
}
