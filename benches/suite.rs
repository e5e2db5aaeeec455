//! The performance suite: issue 8's five figures in one run, each against a baseline measured
//! in the same run.
//!
//! Run with `cargo bench --bench suite` (release build; a few minutes on 2 cores):
//!
//! 1. full pack of a ~200 MB Node-like slug: slugplan vs `tar --sort=name … | gzip -n -6` and
//!    `tar … | pigz -6 -n` (the comparison `benches/pack.rs` runs on its own);
//! 2. an app-only change on that slug: the incremental build (cached runtime chunks spliced,
//!    the app compressed) vs the full pack; its bytes are compared with a from-scratch build;
//! 3. no-op `plan` and `apply` of 20 apps through `slugplan server` on loopback: wall time
//!    and API requests per app, counted from the server's `--request-log`;
//! 4. peak RSS of `slugplan apply` packing and uploading a ~1 GB slug to that server;
//! 5. one slug to 10 apps: builds, uploads and releases counted.
//!
//! It prints each figure with its baseline and ratio, then a table. It fails only on a broken
//! invariant (the incremental slug's bytes differ from a from-scratch build, a no-op apply
//! writes, the counts of figure 5 are not 1, 1, 10), never on timing. `BENCH_RUNS=N` (default
//! 2) repeats timings and keeps the best; `BENCH_SKIP_LARGE=1` skips figure 4.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{MB, Usage, build_tree, full_pack, slugplan, timed, tree_size};
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
    let app = root.join("app");
    build_tree(&app);
    println!(
        "tree: {:.1} MB in {} entries; load average {}",
        tree_size(&app) as f64 / MB,
        walkdir::WalkDir::new(&app).into_iter().count(),
        load_average()
    );
    common::write_manifest(root, "app");
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

    let server = Server::start(root);
    println!("\n== 3. no-op plan and apply of 20 apps through slugplan server");
    rows.extend(no_op_plan_apply(root, &server, runs));

    if std::env::var_os("BENCH_SKIP_LARGE").is_none() {
        println!("\n== 4. peak RSS packing and uploading a ~1 GB slug");
        rows.push(large_apply(root, &app, &server, full.rss_kib));
    }

    println!("\n== 5. one slug to 10 apps");
    rows.push(one_slug_ten_apps(root, &server));

    println!("\n== summary (load average {})", load_average());
    println!(
        "{:<32} {:>14} {:>14} {:>18}  target",
        "figure", "value", "baseline", "ratio"
    );
    for row in &rows {
        println!(
            "{:<32} {:>14} {:>14} {:>18}  {}",
            row.figure, row.value, row.baseline, row.ratio, row.target
        );
    }
}

/// Figure 2. The cache left by figure 1's last `slugplan build` holds the runtime's chunks
/// and its hash memo; each run changes `web.js` and builds through the library.
fn incremental(root: &Path, full: Duration, runs: usize) -> Vec<Row> {
    let loaded = slugplan::manifest::load(&root.join("slug.toml")).expect("manifest");
    let cache = Cache::new(root.join("cache"));
    let web = root.join("app/web.js");
    let original = fs::read_to_string(&web).expect("web.js");
    let mut best = Duration::MAX;
    let mut splice = Duration::MAX;
    let mut keys = Duration::MAX;
    let mut listing = Duration::MAX;
    let mut last = None;
    for run in 0..runs.max(3) {
        fs::write(&web, format!("{original}// change {run}\n")).expect("write web.js");
        let start = Instant::now();
        let built = build_slug(&loaded, "bench", &cache, &BuildOptions::default())
            .expect("incremental build");
        best = best.min(start.elapsed());
        assert_eq!(
            built.reused,
            ["layout", "runtime.node"],
            "only the app is compressed"
        );

        // The same build in parts: listing and keys (stat memo), then the splice alone.
        let start = Instant::now();
        let components = slug_components(&loaded, "bench", &cache).expect("components");
        listing = listing.min(start.elapsed());
        let start = Instant::now();
        let key = slugplan::build::key::slug_key(&loaded, &components, &cache).expect("key");
        keys = keys.min(start.elapsed());
        let start = Instant::now();
        let keys: Vec<Option<String>> = components
            .iter()
            .map(|c| Some(key.parts[&c.name].clone()))
            .collect();
        let spliced = slugplan::build::incremental::assemble(
            &components,
            &keys,
            &cache,
            slugplan::slug::PackOptions::default(),
        )
        .expect("splice");
        splice = splice.min(start.elapsed());
        assert_eq!(spliced.file.packed.sha256, built.sha256);
        last = Some(built);
    }
    let built = last.expect("at least one run");

    // The invariant: the incremental bytes are exactly a from-scratch build's.
    let scratch_cache = tempfile::tempdir_in(root).expect("temp cache");
    let scratch = build_slug(
        &loaded,
        "bench",
        &Cache::new(scratch_cache.path()),
        &BuildOptions::default(),
    )
    .expect("from-scratch build");
    assert_eq!(
        built.sha256, scratch.sha256,
        "the incremental slug differs from a from-scratch build"
    );
    let identical = fs::read(&built.path).expect("slug") == fs::read(&scratch.path).expect("slug");
    assert!(identical, "the incremental slug's bytes differ");

    // What a cold key costs: the path runtime's content hash, read and hashed once.
    let components = slug_components(&loaded, "bench", &cache).expect("components");
    let runtime = components
        .iter()
        .find(|c| c.name == "runtime.node")
        .expect("runtime component");
    let start = Instant::now();
    runtime.content_hash().expect("hash");
    let cold_hash = start.elapsed();

    let pct = |t: Duration| t.as_secs_f64() / full.as_secs_f64() * 100.0;
    let app_bytes = components
        .iter()
        .find(|c| c.name == "app")
        .map_or(0, |c| c.tar_len());
    println!(
        "incremental build (list + keys + splice + compress the {:.1} MB app): {:.3} s = {:.2}% of the full pack ({:.2} s); byte-identical to a from-scratch build",
        app_bytes as f64 / MB,
        best.as_secs_f64(),
        pct(best),
        full.as_secs_f64()
    );
    println!(
        "  its parts: listing the tree {:.3} s; keys (stat memo; app read and hashed) {:.3} s; splicing every component's cached chunks {:.3} s",
        listing.as_secs_f64(),
        keys.as_secs_f64(),
        splice.as_secs_f64()
    );
    println!(
        "  a cold key (reading and hashing the runtime, no memo) would add {:.3} s ({:.1}% of the full pack)",
        cold_hash.as_secs_f64(),
        pct(cold_hash)
    );
    vec![
        Row {
            figure: "2. app change: incremental",
            value: format!("{:.3} s", best.as_secs_f64()),
            baseline: format!("{:.2} s", full.as_secs_f64()),
            ratio: format!("{:.2}% of full", pct(best)),
            target: "<= 0.1 s, <= 5%",
        },
        Row {
            figure: "2. splice, all chunks cached",
            value: format!("{:.3} s", splice.as_secs_f64()),
            baseline: format!("{:.2} s", full.as_secs_f64()),
            ratio: format!("{:.2}% of full", pct(splice)),
            target: "<= 0.1 s, <= 5%",
        },
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

/// Figure 3.
fn no_op_plan_apply(root: &Path, server: &Server, runs: usize) -> Vec<Row> {
    let apps: Vec<String> = (1..=20).map(|i| format!("noop-app-{i:02}")).collect();
    let dir = project(root, "noop", server, &apps, SMALL_SLUG);
    let first = timed(against(&dir, &["-q", "apply", "--yes"]), root);
    let mut rows = Vec::new();
    for (what, args) in [
        ("plan", &["plan", "--detailed-exitcode"][..]),
        ("apply", &["apply", "--yes"][..]),
    ] {
        let mut best = Duration::MAX;
        let mut requests = Vec::new();
        for _ in 0..runs {
            server.reset_log();
            let usage = timed(against(&dir, args), root);
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
        println!(
            "no-op {what} of {} apps: {:.3} s, {reads} reads ({per_app:.2} per app, target <= 2), {writes} writes (target 0); the first apply took {:.2} s",
            apps.len(),
            best.as_secs_f64(),
            first.wall.as_secs_f64()
        );
        rows.push(Row {
            figure: if what == "plan" {
                "3. no-op plan, 20 apps"
            } else {
                "3. no-op apply, 20 apps"
            },
            value: format!("{:.3} s", best.as_secs_f64()),
            baseline: format!("{:.2} s", first.wall.as_secs_f64()),
            ratio: format!("{per_app:.2} reads/app, {writes} w"),
            target: "<= 2 reads/app, 0 w",
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
