//! `slugplan_snapshot!`: run a `slugplan` command and snapshot its exit code, stdout and stderr
//! together, with what changes from run to run (temp paths, ids, times, ports) filtered out.
//!
//! One snapshot holds the whole output, so a message printed twice, a line on the wrong stream
//! or a wrong exit code shows in the diff, where a `.contains` check would pass. The filters are
//! narrow on purpose: a slug checksum of a fixture built from fixed bytes stays visible, because
//! it proves the build reproducible; only what truly varies between machines is replaced.

use std::borrow::BorrowMut;
use std::path::Path;
use std::process::{Command, Output};

/// Filters every context applies after its own paths: `(regex, replacement)`.
pub const STANDARD_FILTERS: &[(&str, &str)] = &[
    // Ids the platforms generate, also where a rendered diagnostic wraps one at a hyphen.
    (
        r"\b[0-9a-f]{8}-(\n[ │]*)?[0-9a-f]{4}-(\n[ │]*)?[0-9a-f]{4}-(\n[ │]*)?[0-9a-f]{4}-(\n[ │]*)?[0-9a-f]{12}\b",
        "[UUID]",
    ),
    // RFC 3339 times (release and history timestamps).
    (
        r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[TIME]",
    ),
    // Loopback servers listen on a port the kernel picks.
    (r"\b127\.0\.0\.1:\d+\b", "127.0.0.1:[PORT]"),
    // Who holds a lock: another process, on this machine.
    (r"\bpid \d+ on [^\s(]+", "pid [PID] on [HOST]"),
    // How long something took.
    (r"\bin \d+(\.\d+)?m?s\b", "in [DURATION]"),
    // Spaces ending a line (miette's `Error: `), which editors strip from a snapshot.
    (r"(?m)[ \t]+$", ""),
];

/// Filters replacing `path` (and its canonical form, where that differs) with `name`.
pub fn path_filters(path: &Path, name: &str) -> Vec<(String, String)> {
    let mut spellings = vec![path.to_owned()];
    if let Ok(canonical) = path.canonicalize()
        && canonical != path
    {
        spellings.push(canonical);
    }
    spellings
        .iter()
        .map(|p| (regex::escape(&p.display().to_string()), name.to_owned()))
        .collect()
}

/// Applies `filters` to `text`, as insta applies them to a snapshot.
pub fn apply_filters(text: &str, filters: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (regex, replacement) in filters {
        let regex = regex::Regex::new(regex).expect("a valid filter");
        text = regex.replace_all(&text, *replacement).into_owned();
    }
    text
}

/// Formats an exit status and both streams as one snapshot: the exit code (or the signal), then
/// stdout, then stderr, each section present even when empty.
pub fn format_output(output: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let status = match (output.status.code(), output.status.signal()) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "unknown".to_owned(),
    };
    format!(
        "exit code: {status}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command` and returns its formatted output (unfiltered: the macro filters it) and the
/// output itself. The unfiltered text goes to the test's captured stderr, shown on failure.
pub fn run_and_format(mut command: impl BorrowMut<Command>) -> (String, Output) {
    let command = command.borrow_mut();
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    let snapshot = format_output(&output);
    #[expect(
        clippy::print_stderr,
        reason = "shown by the test harness when a test fails"
    )]
    {
        eprintln!("──── unfiltered output of {command:?} ────\n{snapshot}\n────");
    }
    (snapshot, output)
}

/// Runs a `slugplan` command and asserts its exit code, stdout and stderr against an insta
/// snapshot, after `filters` (usually `ctx.filters()`); returns the [`Output`] for further
/// checks. The snapshot is inline (`@"…"`) or, with `name = "…"`, a file in `snapshots/`.
///
/// ```ignore
/// slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["validate"]), @r"
/// exit code: 0
/// ----- stdout -----
///
/// ----- stderr -----
///        Valid slug.toml: 0 runtimes, 1 slugs, 1 apps
/// ");
/// ```
macro_rules! slugplan_snapshot {
    ($filters:expr, $command:expr, @$snapshot:literal) => {{
        let (snapshot, output) = $crate::common::snapshot::run_and_format($command);
        ::insta::with_settings!({ filters => $filters }, {
            ::insta::assert_snapshot!(snapshot, @$snapshot);
        });
        output
    }};
    ($filters:expr, $command:expr, name = $name:expr) => {{
        let (snapshot, output) = $crate::common::snapshot::run_and_format($command);
        ::insta::with_settings!({ filters => $filters }, {
            ::insta::assert_snapshot!($name, snapshot);
        });
        output
    }};
}

pub(crate) use slugplan_snapshot;
