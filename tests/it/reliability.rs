//! The standing reliability campaign (issue 16): what a flaky network, an impatient operator and
//! a crashing machine do to an apply, tried on purpose on every CI run, within a few minutes.
//!
//! - [`kills`]: `kill -9` at staggered moments of applies that release and promote (through a
//!   pipeline and directly) via a real `slugplan server`; every rerun converges, no app gets the
//!   same slug released twice in a row, and the final plan is clean.
//! - [`faults`]: an apply of six apps through a server answering `429`, `503` and dropped bodies
//!   converges in one run with no duplicate; a server that is always down, always `429` or always
//!   `503` fails in a bounded, configured time, saying so once per retry.
//! - [`signals`]: `SIGINT`/`SIGTERM` mid-apply stop it cleanly, and a second `SIGINT` at once.
//! - [`race`]: builds racing a writer of the app's files never leave another version's file in
//!   a later clean slug (issue 16.1).
//! - [`bounds`]: hosts and files that would make slugplan store or wait without end (an endless
//!   body, a huge `Content-Length`, a silent host, a trickle, a fifo, `/dev/zero`, an oversized
//!   slug upload) are refused in bounded time, keeping no byte.
//!
//! Each campaign prints one line of figures in a stable format
//! ([`figures`](crate::common::figures)), as do the hostile-input tests elsewhere (archives in
//! `runtime::extract`, the token in `heroku::secrecy`); the README's Reliability section quotes
//! them.

mod bounds;
mod faults;
mod kills;
mod race;
mod signals;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use slugplan::platform::local::LocalPlatform;
use slugplan::platform::{Platform, Release};

use crate::common::project::{Project, TOKEN};
use crate::common::server::block_on;

/// Starts `slugplan apply --yes -j JOBS` with its output thrown away, or its stderr piped.
fn spawn_apply(p: &Project, jobs: &str, stderr: Stdio) -> Child {
    p.command(&["apply", "--yes", "-j", jobs])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start slugplan apply")
}

/// Waits until `done` holds, polling; panics after `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The apps of [`pipeline_project`]: staging, two production apps in its pipeline (one pipeline
/// promotion), one production app outside it (its slug id released directly), and two workers
/// sharing a slug (one upload, two releases).
const APPS: [&str; 6] = [
    "web-staging",
    "web-prod-eu",
    "web-prod-us",
    "web-prod-ap",
    "worker",
    "worker-eu",
];

/// A project deploying through a `slugplan server` started with `flags`: `web-staging` runs slug
/// `web` and is promoted to the production apps by every apply (`promote = "auto"`), the
/// workers run their own slug.
fn pipeline_project(flags: &[&str]) -> Project {
    let p = Project::served(flags);
    p.ctx.write("web/web.js", "console.log('v0')\n");
    p.ctx
        .write("worker/worker.js", "setInterval(() => {}, 1000)\n");
    let coupled = |stage: &str| format!("create = true\npipeline = \"web\"\nstage = \"{stage}\"\n");
    p.ctx.write(
        "slug.toml",
        format!(
            "{platform}
[slugs.web]
source = \"web\"
process_types = {{ web = \"node web.js\" }}

[slugs.worker]
source = \"worker\"
process_types = {{ worker = \"node worker.js\" }}

[apps.web-staging]
slug = \"web\"
{staging}
[apps.web-prod-eu]
promote_from = \"web-staging\"
promote = \"auto\"
{production}
[apps.web-prod-us]
promote_from = \"web-staging\"
promote = \"auto\"
{production}
[apps.web-prod-ap]
promote_from = \"web-staging\"
promote = \"auto\"
create = true

[apps.worker]
slug = \"worker\"
create = true

[apps.worker-eu]
slug = \"worker\"
create = true
",
            platform = p.platform_table(),
            staging = coupled("staging"),
            production = coupled("production"),
        ),
    );
    p
}

/// An app's releases, oldest first, read from the server's own data (the server's API may be
/// injecting faults); none when the app does not exist.
fn releases(p: &Project, app: &str) -> Vec<Release> {
    let platform = LocalPlatform::open(&p.server().data).expect("open the server's data");
    let mut releases = block_on(platform.releases(app, 10_000)).unwrap_or_default();
    releases.reverse();
    releases
}

/// The back-to-back duplicates of `app`: a release of the very slug its previous release ran.
fn duplicates(p: &Project, app: &str) -> Vec<String> {
    let releases = releases(p, app);
    releases
        .windows(2)
        .filter(|pair| pair[0].slug_id == pair[1].slug_id)
        .map(|pair| {
            format!(
                "{app} v{} and v{} both release slug {:?} ({:?}, {:?})",
                pair[0].version,
                pair[1].version,
                pair[1].slug_id,
                pair[0].description,
                pair[1].description
            )
        })
        .collect()
}

/// How many times the API token appears in `outputs` (what the commands printed) and in the
/// files under the project (slug.toml, the state, saved plans): a secret is never printed or
/// stored, so this is 0.
fn secrets_found(p: &Project, outputs: &[String]) -> u64 {
    let token = TOKEN.as_bytes();
    let count = |bytes: &[u8]| bytes.windows(token.len()).filter(|w| *w == token).count() as u64;
    let printed: u64 = outputs.iter().map(|o| count(o.as_bytes())).sum();
    let stored: u64 = walkdir::WalkDir::new(p.path(""))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| std::fs::read(e.path()).ok())
        .map(|bytes| count(&bytes))
        .sum();
    printed + stored
}

/// Every back-to-back duplicate release of [`APPS`].
fn all_duplicates(p: &Project) -> Vec<String> {
    APPS.iter().flat_map(|app| duplicates(p, app)).collect()
}
