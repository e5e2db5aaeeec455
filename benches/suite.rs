//! The performance suite: issue 8's five figures in one run, each against a baseline measured
//! in the same run.
//!
//! Run with `cargo bench --bench suite` (release build; a few minutes on 2 cores):
//!
//! 1. full pack of a ~200 MB Node-like slug: slugplan vs `tar --sort=name … | gzip -n -6` and
//!    `tar … | pigz -6 -n` of the same `./app` tree (the comparison `benches/pack.rs` runs on
//!    its own). The slug is laid out as a real Node one: the runtime (binary, headers,
//!    `lib/node_modules/npm`, symlinks, long paths) comes from a tarball pinned by a relative
//!    `file:` URL and sha256 and fetched once, untimed (as `slugplan fetch` does); the app is a
//!    few KB (`web.js`, `package.json`, a `Procfile`);
//! 2. an app-only change on that slug (`web.js` edited): the `slugplan build` and `slugplan
//!    plan` processes, timed end to end, vs the full pack; the floor (splicing all cached
//!    chunks) is shown beside them, and the incremental bytes are compared with a
//!    from-scratch build;
//! 3. no-op `plan` and `apply` of 20 apps through `slugplan server` on loopback: wall time
//!    and API requests per app, counted from the server's `--request-log`; then the same with
//!    the PostgreSQL state on a throwaway cluster (`initdb` + `postgres`, as for the tests),
//!    with its round trips counted from the server's statement log (skipped, with a note,
//!    where PostgreSQL is not installed);
//! 4. peak RSS of `slugplan apply` packing and uploading a ~1 GB slug to that server;
//! 5. one slug to 10 apps: builds, uploads and releases counted.
//!
//! It prints each figure with its baseline and ratio, then a table. It fails only on a broken
//! invariant (the incremental slug's bytes differ from a from-scratch build, a no-op apply
//! writes, the counts of figure 5 are not 1, 1, 10), never on timing. `BENCH_RUNS=N` (default
//! 2) repeats timings and keeps the best; `BENCH_SKIP_LARGE=1` skips figure 4; `BENCH_FIGURE=3`
//! runs figure 3 alone.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod common;
#[path = "../tests/it/common/postgres.rs"]
#[expect(
    dead_code,
    reason = "the tests' PostgreSQL helper: the suite needs a part of it"
)]
mod postgres;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{MB, Usage, build_tree, full_pack, slugplan, timed, tree_size};
use postgres::PgCluster;
use slugplan::build::{BuildOptions, build_slug, slug_components};
use slugplan::cache::Cache;

const TOKEN: &str = "suite-token";

/// One row of the final table.
struct Row {
    figure: &'static str,
    value: String,
    baseline: String,
    ratio: String,
    target: &'static str,
}

fn main() {
    let runs = common::runs(2);
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    if std::env::var("BENCH_FIGURE").as_deref() == Ok("3") {
        // Figure 3 alone needs neither the large tree nor its packs.
        let server = Server::start(root);
        println!("\n== 3. no-op plan and apply of 20 apps through slugplan server");
        summary(&no_op_plan_apply(root, &server, runs));
        return;
    }
    let app = root.join("app");
    build_tree(&app);
    println!(
        "tree: {:.1} MB in {} entries; load average {}",
        tree_size(&app) as f64 / MB,
        walkdir::WalkDir::new(&app).into_iter().count(),
        load_average()
    );
    let sha256 = common::build_runtime_archive(root);
    // Figure 2's `slugplan plan` deploys the slug to an app on the suite's server.
    let server = Server::start(root);
    let platform = format!(
        "\n[platform]\nkind = \"heroku\"\napi_url = \"{}\"\n\n[apps.bench-app]\nslug = \"bench\"\ncreate = true\n",
        server.url
    );
    fs::write(
        root.join("slug.toml"),
        common::manifest_text("app", &sha256, &platform),
    )
    .expect("write slug.toml");
    let mut rows = Vec::new();

    println!("\n== 1. full pack of the Node-like slug");
    let full = full_pack(root, runs);
    full.print();
    let secs = |t: Duration| format!("{:.2} s", t.as_secs_f64());
    let mb = |bytes: u64| format!("{:.2} MB", bytes as f64 / MB);
    for (figure, value, baseline, ratio, target) in [
        (
            "1. full pack vs tar|gzip -6",
            secs(full.ours),
            secs(full.gzip),
            format!("{:.2}x faster", full.vs_gzip()),
            ">= 4x",
        ),
        (
            "1. full pack vs tar|pigz -6",
            secs(full.ours),
            secs(full.pigz),
            format!("{:.2}x faster", full.vs_pigz()),
            ">= 1.8x",
        ),
        (
            "1. size vs gzip -6",
            mb(full.ours_size),
            mb(full.gzip_size),
            format!("{:+.2}%", full.size_pct()),
            "<= +3%",
        ),
    ] {
        rows.push(Row {
            figure,
            value,
            baseline,
            ratio,
            target,
        });
    }

    println!("\n== 2. app-only change: incremental vs full pack");
    rows.extend(incremental(root, full.ours, runs));

    println!("\n== 3. no-op plan and apply of 20 apps through slugplan server");
    rows.extend(no_op_plan_apply(root, &server, runs));

    if std::env::var_os("BENCH_SKIP_LARGE").is_none() {
        println!("\n== 4. peak RSS packing and uploading a ~1 GB slug");
        rows.push(large_apply(root, &app, &server, full.rss_kib));
    }

    println!("\n== 5. one slug to 10 apps");
    rows.push(one_slug_ten_apps(root, &server));

    summary(&rows);
}

/// Prints the final table.
fn summary(rows: &[Row]) {
    println!("\n== summary (load average {})", load_average());
    println!(
        "{:<32} {:>14} {:>14} {:>18}  target",
        "figure", "value", "baseline", "ratio"
    );
    for row in rows {
        println!(
            "{:<32} {:>14} {:>14} {:>18}  {}",
            row.figure, row.value, row.baseline, row.ratio, row.target
        );
    }
}

/// Figure 2. The cache left by figure 1's last `slugplan build` holds the runtime's chunks and
/// its listing memo. Each run changes `web.js` and runs the `slugplan` binary, timed end to end
/// as a user runs it: `slugplan build` (manifest, runtime tree from the cache, listing, keys,
/// cached runtime chunks spliced, the app compressed, the output hashed, the slug written) and
/// `slugplan plan` against the suite's server (the same through `ensure_slug`, plus the slug
/// index, the state file and the platform's reads).
fn incremental(root: &Path, full: Duration, runs: usize) -> Vec<Row> {
    let cache = Cache::new(root.join("cache"));
    let web = root.join("app/web.js");
    let original = fs::read_to_string(&web).expect("web.js");
    let mut build = Duration::MAX;
    let mut plan = Duration::MAX;
    let mut splice = Duration::MAX;
    let mut change = 0;
    for _ in 0..runs.max(3) {
        for (best, args) in [
            (&mut build, &["-q", "build"][..]),
            (&mut plan, &["-q", "plan"][..]),
        ] {
            change += 1;
            fs::write(&web, format!("{original}// change {change}\n")).expect("write web.js");
            let mut cmd = slugplan(root, cache.root());
            cmd.args(args).env("HEROKU_API_KEY", TOKEN);
            *best = (*best).min(timed(cmd, root).wall);
        }
        // The floor: splicing every component's cached chunks (the library call alone).
        let loaded = slugplan::manifest::load(&root.join("slug.toml")).expect("manifest");
        let components = slug_components(&loaded, "bench", &cache, &slugplan::own_files::NONE)
            .expect("components");
        let key = slugplan::build::key::slug_key(&loaded, &components, &cache).expect("key");
        let keys: Vec<Option<String>> = components
            .iter()
            .map(|c| Some(key.parts[&c.name].clone()))
            .collect();
        let content_keyed: Vec<bool> = components
            .iter()
            .map(|c| slugplan::build::key::is_content_key(&loaded, c))
            .collect();
        let start = Instant::now();
        slugplan::build::incremental::assemble(
            &components,
            &keys,
            &content_keyed,
            &cache,
            slugplan::slug::PackOptions::default(),
        )
        .expect("splice");
        splice = splice.min(start.elapsed());
    }

    // What the runs left: every component's chunks cached, the runtime's never compressed again.
    let loaded = slugplan::manifest::load(&root.join("slug.toml")).expect("manifest");
    let built = build_slug(&loaded, "bench", &cache, &BuildOptions::default()).expect("build");
    assert_eq!(
        built.reused,
        ["layout", "runtime.node", "app"],
        "the runs cached every component's chunks"
    );
    // The invariant: the incremental bytes are exactly a from-scratch build's.
    let scratch_cache = tempfile::tempdir_in(root).expect("temp cache");
    // Its runtime fetched and unpacked anew: its listing is walked, not read from a memo.
    let mut fetch = slugplan(root, scratch_cache.path());
    fetch.args(["-q", "fetch"]);
    timed(fetch, root);
    let scratch = build_slug(
        &loaded,
        "bench",
        &Cache::new(scratch_cache.path()),
        &BuildOptions::default(),
    )
    .expect("from-scratch build");
    assert!(scratch.reused.is_empty(), "a fresh cache has no chunks");
    assert_eq!(
        built.archive.checksum, scratch.archive.checksum,
        "the incremental slug differs from a from-scratch build"
    );
    let identical = fs::read(&built.archive.path).expect("slug")
        == fs::read(&scratch.archive.path).expect("slug");
    assert!(identical, "the incremental slug's bytes differ");

    let pct = |t: Duration| t.as_secs_f64() / full.as_secs_f64() * 100.0;
    let app_bytes = built
        .components
        .iter()
        .find(|c| c.name == "app")
        .map_or(0, |c| c.tar_len);
    println!(
        "web.js changed, `slugplan build` (process, end to end; the app's tar is {app_bytes} bytes): {:.3} s = {:.2}% of the full pack ({:.2} s); byte-identical to a from-scratch build",
        build.as_secs_f64(),
        pct(build),
        full.as_secs_f64()
    );
    println!(
        "web.js changed, `slugplan plan` (process, end to end, through the server): {:.3} s = {:.2}%",
        plan.as_secs_f64(),
        pct(plan)
    );
    println!(
        "  the floor: splicing every component's cached chunks and hashing the {:.1} MB slug (library call) {:.3} s",
        built.archive.size as f64 / MB,
        splice.as_secs_f64()
    );
    let row = |figure, time: Duration| Row {
        figure,
        value: format!("{:.3} s", time.as_secs_f64()),
        baseline: format!("{:.2} s", full.as_secs_f64()),
        ratio: format!("{:.2}% of full", pct(time)),
        target: "<= 0.1 s, <= 5%",
    };
    vec![
        row("2. app change: slugplan build", build),
        row("2. app change: slugplan plan", plan),
        row("2. splice, all chunks cached", splice),
    ]
}

/// A running `slugplan server` with a request log, killed when dropped.
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Server {
    fn start(root: &Path) -> Server {
        let dir = root.join("server");
        fs::create_dir_all(&dir).expect("server dir");
        let log = dir.join("requests.jsonl");
        let mut child = slugplan(&dir, &dir.join("cache"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.join("platform"))
            .arg("--request-log")
            .arg(&log)
            // Figure 4 pushes a ~1 GB slug through it: twice Heroku's limit, which is the
            // server's default cap.
            .args(["--max-blob-size", "2G"])
            .env("SLUGPLAN_SERVER_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn slugplan server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the server's address");
        Server {
            child,
            url: line.trim().to_owned(),
            log,
        }
    }

    /// Forgets the requests logged so far.
    fn reset_log(&self) {
        fs::write(&self.log, "").expect("truncate the request log");
    }

    /// The requests logged since the last reset, as (method, path).
    fn requests(&self) -> Vec<(String, String)> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
                (
                    v["method"].as_str().unwrap_or_default().to_owned(),
                    v["path"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads are GETs and `POST /filters/apps` (a query); everything else writes.
fn is_write((method, path): &(String, String)) -> bool {
    method != "GET" && !(method == "POST" && path == "/filters/apps")
}

/// A project in `<root>/<name>` deploying a small app as slug `web` to `apps` on `server`;
/// `source` replaces the slug's source (default: a one-file app).
fn project(root: &Path, name: &str, server: &Server, apps: &[String], slug: &str) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir_all(dir.join("web")).expect("project dir");
    fs::write(dir.join("web/web.js"), format!("console.log('{name}')\n")).expect("web.js");
    let mut manifest = format!(
        "[platform]\nkind = \"heroku\"\napi_url = \"{}\"\n\n{slug}\n",
        server.url
    );
    for app in apps {
        manifest.push_str(&format!("[apps.{app}]\nslug = \"web\"\ncreate = true\n\n"));
    }
    fs::write(dir.join("slug.toml"), manifest).expect("slug.toml");
    dir
}

const SMALL_SLUG: &str =
    "[slugs.web]\nsource = \"web\"\nprocess_types = { web = \"node web.js\" }\n";

/// `slugplan ARGS` in `dir` against the suite's server, with its own cache.
fn against(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = slugplan(dir, &dir.join(".cache"));
    cmd.args(args)
        .env("HEROKU_API_KEY", TOKEN)
        .stdin(Stdio::null());
    cmd
}

/// Figure 3: with the local state, then with the PostgreSQL one on a throwaway cluster
/// (skipped, with a note, where PostgreSQL is not installed).
fn no_op_plan_apply(root: &Path, server: &Server, runs: usize) -> Vec<Row> {
    let mut rows = no_op_rows(root, server, runs, None);
    if postgres::available() {
        let cluster = PgCluster::start(false);
        let database = cluster.database();
        let url = cluster.url(&database, "sslmode=disable");
        rows.extend(no_op_rows(
            root,
            server,
            runs,
            Some((&cluster, &database, &url)),
        ));
    } else {
        println!(
            "no-op plan and apply with the PostgreSQL state: skipped, PostgreSQL is not installed (tests/setup.sh installs it)"
        );
        rows.push(Row {
            figure: "3. no-op plan/apply, postgres",
            value: "skipped".into(),
            baseline: "-".into(),
            ratio: "no PostgreSQL".into(),
            target: "installed by tests/setup.sh",
        });
    }
    rows
}

/// No-op `plan` and `apply` of 20 apps; with `postgres` (a cluster, its database and URL),
/// on the PostgreSQL state, counting its round trips from the server's statement log.
fn no_op_rows(
    root: &Path,
    server: &Server,
    runs: usize,
    postgres: Option<(&PgCluster, &str, &str)>,
) -> Vec<Row> {
    let (name, state) = match postgres {
        Some(_) => ("noop-pg", "\n[state]\nbackend = \"postgres\"\n"),
        None => ("noop", ""),
    };
    let apps: Vec<String> = (1..=20).map(|i| format!("{name}-app-{i:02}")).collect();
    let dir = project(root, name, server, &apps, &format!("{SMALL_SLUG}{state}"));
    let command = |args: &[&str]| {
        let mut cmd = against(&dir, args);
        if let Some((_, _, url)) = postgres {
            cmd.env("SLUGPLAN_STATE_URL", url);
        }
        cmd
    };
    let statements = || postgres.map_or(0, |(cluster, db, _)| cluster.statements(db));
    let first = timed(command(&["-q", "apply", "--yes"]), root);
    let mut rows = Vec::new();
    for (what, args) in [
        ("plan", &["plan", "--detailed-exitcode"][..]),
        ("apply", &["apply", "--yes"][..]),
    ] {
        let mut best = Duration::MAX;
        let mut requests = Vec::new();
        let mut round_trips = 0;
        for _ in 0..runs {
            server.reset_log();
            let before = statements();
            let usage = timed(command(args), root);
            round_trips = statements() - before;
            best = best.min(usage.wall);
            requests = server.requests();
        }
        let writes = requests.iter().filter(|r| is_write(r)).count();
        let reads = requests.len() - writes;
        assert_eq!(
            writes, 0,
            "a no-op {what} wrote to the platform: {requests:?}"
        );
        let per_app = reads as f64 / apps.len() as f64;
        let state = match postgres {
            Some(_) => format!(", {round_trips} PostgreSQL round trips"),
            None => String::new(),
        };
        println!(
            "no-op {what} of {} apps{}: {:.3} s, {reads} reads ({per_app:.2} per app, target <= 2), {writes} writes (target 0){state}; the first apply took {:.2} s",
            apps.len(),
            if postgres.is_some() {
                " on the PostgreSQL state"
            } else {
                ""
            },
            best.as_secs_f64(),
            first.wall.as_secs_f64()
        );
        let (figure, ratio, target) = match (what, postgres) {
            ("plan", None) => (
                "3. no-op plan, 20 apps",
                String::new(),
                "<= 2 reads/app, 0 w",
            ),
            (_, None) => (
                "3. no-op apply, 20 apps",
                String::new(),
                "<= 2 reads/app, 0 w",
            ),
            // The schema check, then one question per step kind (apps with managed config,
            // apps deployed, slug keys, uploads, releases made: six statements in four round
            // trips); an apply adds the lock's take and release.
            ("plan", Some(_)) => (
                "3. no-op plan, postgres",
                format!(", {round_trips} stmts"),
                "<= 6 statements",
            ),
            (_, Some(_)) => (
                "3. no-op apply, postgres",
                format!(", {round_trips} stmts"),
                "<= 8 statements",
            ),
        };
        rows.push(Row {
            figure,
            value: format!("{:.3} s", best.as_secs_f64()),
            baseline: format!("{:.2} s", first.wall.as_secs_f64()),
            ratio: format!("{per_app:.2} reads/app, {writes} w{ratio}"),
            target,
        });
    }
    rows
}

/// Figure 4: `slugplan apply` of a ~1 GB slug (the tree hard-linked five times).
fn large_apply(root: &Path, app: &Path, server: &Server, build_rss_kib: u64) -> Row {
    let apps = ["large-app".to_owned()];
    let dir = project(
        root,
        "large",
        server,
        &apps,
        "[slugs.web]\nsource = \"big\"\nprocess_types = { web = \"node web.js\" }\n",
    );
    common::hard_link_copies(app, &dir.join("big"), 5);
    let size = tree_size(&dir.join("big"));
    server.reset_log();
    let usage: Usage = timed(against(&dir, &["-q", "apply", "--yes"]), root);
    let uploads = server
        .requests()
        .iter()
        .filter(|(m, p)| m == "PUT" && p.starts_with("/blobs/"))
        .count();
    assert_eq!(uploads, 1, "the large slug is uploaded once");
    let rss = usage.rss_kib as f64 / 1024.0;
    println!(
        "apply of a {:.0} MB tree (pack + upload + release): {:.2} s, peak RSS {rss:.1} MiB (target < 64 MiB; `slugplan build` of the 200 MB tree: {:.1} MiB)",
        size as f64 / MB,
        usage.wall.as_secs_f64(),
        build_rss_kib as f64 / 1024.0
    );
    Row {
        figure: "4. peak RSS, 1 GB apply",
        value: format!("{rss:.1} MiB"),
        baseline: "64 MiB".into(),
        ratio: format!("{:.0}% of target", rss / 64.0 * 100.0),
        target: "< 64 MiB",
    }
}

/// Figure 5.
fn one_slug_ten_apps(root: &Path, server: &Server) -> Row {
    let apps: Vec<String> = (1..=10).map(|i| format!("fanout-app-{i:02}")).collect();
    let dir = project(root, "fanout", server, &apps, SMALL_SLUG);
    server.reset_log();
    let out = against(&dir, &["apply", "--yes"])
        .output()
        .expect("run apply");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "apply failed: {stdout}");
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("Apply complete!"))
        .expect("an Apply complete! line");
    let count = |what: &str| -> usize {
        summary
            .split([',', '!', '.'])
            .find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok())
            .unwrap_or(0)
    };
    let built = count(" built");
    let requests = server.requests();
    let slugs = requests
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/slugs"))
        .count();
    let uploads = requests
        .iter()
        .filter(|(m, p)| m == "PUT" && p.starts_with("/blobs/"))
        .count();
    let releases = requests
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/releases"))
        .count();
    println!("{summary}");
    println!(
        "server saw: {slugs} slug created, {uploads} upload, {releases} releases (target 1, 1, 10)"
    );
    assert_eq!(
        (built, slugs, uploads, releases),
        (1, 1, 1, 10),
        "one slug to ten apps must build once, upload once, release ten times"
    );
    Row {
        figure: "5. one slug to 10 apps",
        value: format!("{built}/{uploads}/{releases}"),
        baseline: "10/10/10".into(),
        ratio: format!("{}x fewer builds", apps.len() / built.max(1)),
        target: "1/1/10",
    }
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
