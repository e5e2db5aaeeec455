//! What the benchmarks share: the ~200 MB Node-like tree, the full-pack comparison against
//! GNU tar | gzip and tar | pigz, and running slugplan under `/usr/bin/time`.

#![allow(dead_code, reason = "each benchmark uses a different part")]
#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The runtime's directory inside the app tree.
pub const NODE_DIR: &str = "node-v20.11.0-linux-x64";
/// Bytes per MB (decimal, as throughput is usually quoted).
pub const MB: f64 = 1e6;

/// How many times to repeat interleaved timings (`BENCH_RUNS`, default `default`).
pub fn runs(default: usize) -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// The runtime archive, beside the manifest (named by a relative `file:` URL, as a project
/// that keeps its runtime tarball in the repository does).
pub const NODE_ARCHIVE: &str = "node-v20.11.0-linux-x64.tar.gz";

/// Builds the tree a Node slug unpacks to under `app`: the Node-like runtime in
/// `app/<NODE_DIR>` (the machine's `node` binary, `lib/node_modules` with npm inside it as in
/// Node's own tarball, C headers from /usr/include standing in for Node's, symlinks and paths
/// over 100 bytes; about 200 MB in all) and, beside it, an app of a few KB (`web.js`,
/// `package.json`, a `Procfile`). This is what `tar czf slug.tgz ./app` of the slug packs.
pub fn build_tree(app: &Path) {
    let node = app.join(NODE_DIR);
    fs::create_dir_all(node.join("bin")).expect("mkdir");
    let node_bin = which("node").unwrap_or_else(|| PathBuf::from("/usr/bin/node"));
    fs::copy(&node_bin, node.join("bin/node")).expect("copy the node binary");
    // Node's tarball ships npm and corepack; other global packages on this machine (the
    // heroku CLI, with prebuilt binaries for other platforms) are not part of it.
    for package in ["npm", "corepack"] {
        copy_tree(
            &Path::new("/usr/lib/node_modules").join(package),
            &node.join("lib/node_modules").join(package),
            u64::MAX,
        );
    }
    symlink(
        "../lib/node_modules/npm/bin/npm-cli.js",
        node.join("bin/npm"),
    )
    .expect("symlink");
    symlink(
        "../lib/node_modules/corepack/dist/corepack.js",
        node.join("bin/corepack"),
    )
    .expect("symlink");
    let deep = node.join(format!(
        "lib/node_modules/{}/{}",
        "a-rather-long-package-name-for-testing".repeat(2),
        "nested-directory-with-a-long-name".repeat(2)
    ));
    fs::create_dir_all(&deep).expect("mkdir deep");
    fs::write(
        deep.join("index-with-a-long-file-name.js"),
        "module.exports = 42;\n",
    )
    .expect("write");
    // Headers: Node ships ~6 MB of them; C headers stand in, up to a budget that brings the
    // whole tree near 200 MB.
    copy_tree(Path::new("/usr/include"), &node.join("include"), 70_000_000);

    // The app: a few KB of its own code.
    for (name, text) in [
        (
            "web.js",
            "require('http').createServer((q, s) => s.end('Hello World')).listen(process.env.PORT);\n",
        ),
        (
            "package.json",
            "{\n  \"name\": \"bench\",\n  \"version\": \"1.0.0\",\n  \"main\": \"web.js\",\n  \"engines\": { \"node\": \"20.x\" }\n}\n",
        ),
        ("Procfile", "web: node web.js\n"),
    ] {
        fs::write(app.join(name), text).expect("write an app file");
    }
}

/// Packs `<root>/app/<NODE_DIR>` as `<root>/<NODE_ARCHIVE>` (with its top-level folder, as
/// nodejs.org ships it) and returns its SHA-256.
pub fn build_runtime_archive(root: &Path) -> String {
    shell(
        root,
        &format!("tar --sort=name -C app -cf - {NODE_DIR} | pigz -6 -n > {NODE_ARCHIVE}"),
    );
    let out = Command::new("sha256sum")
        .arg(root.join(NODE_ARCHIVE))
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_owned()
}

/// Copies regular files, directories and symlinks from `from` to `to`, stopping (between
/// files) once `budget` bytes are copied.
pub fn copy_tree(from: &Path, to: &Path, budget: u64) {
    let mut copied = 0;
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        let rel = entry.path().strip_prefix(from).expect("below root");
        let dest = to.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs::create_dir_all(&dest).expect("mkdir");
        } else if kind.is_symlink() {
            let target = fs::read_link(entry.path()).expect("readlink");
            // Keep only links that stay inside the copied tree, as a runtime's would.
            let resolved = entry.path().parent().map(|p| p.join(&target));
            if target.is_relative()
                && resolved.is_some_and(|r| r.canonicalize().is_ok_and(|c| c.starts_with(from)))
            {
                let _ = symlink(&target, &dest);
            }
        } else if kind.is_file() && copied < budget {
            copied += fs::copy(entry.path(), &dest).unwrap_or(0);
        }
    }
}

/// `copies` copies of `app` under `dest/copy<i>`, files hard-linked (slugplan stores them as
/// separate files), for a slug `copies` times as large.
pub fn hard_link_copies(app: &Path, dest: &Path, copies: usize) {
    for i in 0..copies {
        for entry in walkdir::WalkDir::new(app).sort_by_file_name() {
            let entry = entry.expect("walk");
            let to = dest
                .join(format!("copy{i}"))
                .join(entry.path().strip_prefix(app).expect("below"));
            let kind = entry.file_type();
            if kind.is_dir() {
                fs::create_dir_all(&to).expect("mkdir");
            } else if kind.is_file() {
                fs::hard_link(entry.path(), &to).expect("hard link");
            } else if kind.is_symlink() {
                symlink(fs::read_link(entry.path()).expect("readlink"), &to).expect("symlink");
            }
        }
    }
}

/// Bytes of regular files under `dir`.
pub fn tree_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// A manifest packing `<root>/<app>` as slug `bench`: the runtime from `<root>/<NODE_ARCHIVE>`
/// (whose SHA-256 is `sha256`) unpacked at `<NODE_DIR>`, the app's own files beside it.
pub fn write_manifest(root: &Path, app: &str, sha256: &str) {
    fs::write(root.join("slug.toml"), manifest_text(app, sha256, "")).expect("write slug.toml");
}

/// [`write_manifest`]'s text, with `extra` appended (apps, a platform).
pub fn manifest_text(app: &str, sha256: &str, extra: &str) -> String {
    format!(
        "[runtimes.node]\nurl = \"file:{NODE_ARCHIVE}\"\nsha256 = \"{sha256}\"\n\
         strip_components = 1\ndest = \"{NODE_DIR}\"\n\n\
         [slugs.bench]\nsource = \"{app}\"\nexclude = [\"/{NODE_DIR}\"]\nruntimes = [\"node\"]\n\
         process_types = {{ web = \"node web.js\" }}\n{extra}"
    )
}

/// What `/usr/bin/time` saw of a run.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Wall time.
    pub wall: Duration,
    /// Peak RSS in KiB.
    pub rss_kib: u64,
    /// User + system CPU seconds.
    pub cpu: f64,
}

/// Runs `cmd` under `/usr/bin/time`, asserting success.
pub fn timed(cmd: Command, scratch: &Path) -> Usage {
    let rss_file = scratch.join(".time-usage");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M %U %S", "-o"])
        .arg(&rss_file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    let start = Instant::now();
    let out = timed
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run under /usr/bin/time");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `/usr/bin/time` writes "<peak RSS KiB> <user s> <system s>" on its last line.
    let usage = fs::read_to_string(&rss_file).unwrap_or_default();
    let fields: Vec<f64> = usage
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    Usage {
        wall,
        rss_kib: fields.first().copied().unwrap_or(0.0) as u64,
        cpu: fields.iter().skip(1).sum(),
    }
}

/// A `slugplan` command run in `dir` with the cache at `cache`.
pub fn slugplan(dir: &Path, cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slugplan"));
    cmd.current_dir(dir)
        .env("SLUGPLAN_CACHE_DIR", cache)
        .env("NO_COLOR", "1");
    cmd
}

/// Buckets a full pack keeps: the runtime is fetched (downloaded and unpacked) once, as
/// `slugplan fetch` or the first build after a checkout does; packing starts from its tree.
const FETCHED: [&str; 2] = ["runtimes-v1", "runtime-trees-v1"];

/// Runs `slugplan build` in `root` with a cache holding only the fetched runtime (no chunks,
/// no memos, no slugs): its usage and the slug it wrote (checked with `gzip -t`).
pub fn slugplan_build(root: &Path) -> (Usage, PathBuf) {
    let cache = root.join("cache");
    if let Ok(buckets) = fs::read_dir(&cache) {
        for bucket in buckets.filter_map(Result::ok) {
            let name = bucket.file_name();
            if !FETCHED.iter().any(|kept| name == *kept) && bucket.path().is_dir() {
                fs::remove_dir_all(bucket.path()).expect("empty a cache bucket");
            }
        }
    }
    let mut fetch = slugplan(root, &cache);
    fetch.args(["-q", "fetch"]);
    timed(fetch, root);
    let mut cmd = slugplan(root, &cache);
    cmd.args(["-q", "build"]);
    let usage = timed(cmd, root);
    println!(
        "  slugplan run: {:.2}s wall, {:.2}s CPU ({:.2} cores busy)",
        usage.wall.as_secs_f64(),
        usage.cpu,
        usage.cpu / usage.wall.as_secs_f64()
    );
    let slug = fs::read_dir(cache.join("slugs-v1"))
        .expect("slug bucket")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "tgz"))
        .expect("a slug was written")
        .path();
    assert!(
        Command::new("gzip")
            .arg("-t")
            .arg(&slug)
            .status()
            .expect("gzip -t")
            .success(),
        "gzip -t rejects {}",
        slug.display()
    );
    (usage, slug)
}

/// The full-pack comparison's results.
#[derive(Debug, Clone, Copy)]
pub struct FullPack {
    /// Bytes of files in the tree.
    pub input: u64,
    /// Best time of `tar | gzip -n -6`.
    pub gzip: Duration,
    /// Best time of `tar | pigz -6 -n`.
    pub pigz: Duration,
    /// Best time of `slugplan build` (fresh cache).
    pub ours: Duration,
    /// gzip's output size.
    pub gzip_size: u64,
    /// pigz's output size.
    pub pigz_size: u64,
    /// slugplan's output size.
    pub ours_size: u64,
    /// slugplan's peak RSS in KiB.
    pub rss_kib: u64,
}

impl FullPack {
    /// Input MB per second for a run that took `time`.
    pub fn mbps(&self, time: Duration) -> f64 {
        self.input as f64 / MB / time.as_secs_f64()
    }

    /// Prints the table and the ratios against the targets.
    pub fn print(&self) {
        println!(
            "{:<22} {:>9} {:>10} {:>12}",
            "", "time (s)", "MB/s", "output (MB)"
        );
        for (name, time, size) in [
            ("tar | gzip -n -6", self.gzip, self.gzip_size),
            ("tar | pigz -6 -n", self.pigz, self.pigz_size),
            ("slugplan build", self.ours, self.ours_size),
        ] {
            println!(
                "{name:<22} {:>9.2} {:>10.1} {:>12.2}",
                time.as_secs_f64(),
                self.mbps(time),
                size as f64 / MB
            );
        }
        println!();
        println!(
            "throughput vs tar|gzip -6: {:.2}x (target >= 4x)",
            self.vs_gzip()
        );
        println!(
            "throughput vs tar|pigz -6: {:.2}x (target >= 1.8x)",
            self.vs_pigz()
        );
        println!("size vs gzip -6: {:+.2}% (target <= +3%)", self.size_pct());
        println!(
            "slugplan peak RSS: {:.1} MiB (target < 64 MiB)",
            self.rss_kib as f64 / 1024.0
        );
    }

    /// slugplan's speed-up over tar | gzip.
    pub fn vs_gzip(&self) -> f64 {
        self.gzip.as_secs_f64() / self.ours.as_secs_f64()
    }

    /// slugplan's speed-up over tar | pigz.
    pub fn vs_pigz(&self) -> f64 {
        self.pigz.as_secs_f64() / self.ours.as_secs_f64()
    }

    /// How much larger slugplan's output is than gzip's, in percent.
    pub fn size_pct(&self) -> f64 {
        (self.ours_size as f64 / self.gzip_size as f64 - 1.0) * 100.0
    }
}

/// Times `tar | gzip -n -6`, `tar | pigz -6 -n` and `slugplan build` (fresh cache) of
/// `<root>/app` with the manifest in `root`, `runs` times interleaved, keeping the best of each
/// so a burst of load from elsewhere hurts all three alike.
pub fn full_pack(root: &Path, runs: usize) -> FullPack {
    let app = root.join("app");
    let tar =
        "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf - ./app";
    let mut result = FullPack {
        input: tree_size(&app),
        gzip: Duration::MAX,
        pigz: Duration::MAX,
        ours: Duration::MAX,
        gzip_size: 0,
        pigz_size: 0,
        ours_size: 0,
        rss_kib: 0,
    };
    for _ in 0..runs {
        result.gzip = result
            .gzip
            .min(shell(root, &format!("{tar} | gzip -n -6 > gzip.tgz")));
        result.pigz = result
            .pigz
            .min(shell(root, &format!("{tar} | pigz -6 -n > pigz.tgz")));
        let (usage, slug) = slugplan_build(root);
        result.ours = result.ours.min(usage.wall);
        result.rss_kib = result.rss_kib.max(usage.rss_kib);
        result.ours_size = fs::metadata(&slug).expect("slug").len();
    }
    result.gzip_size = fs::metadata(root.join("gzip.tgz"))
        .expect("gzip output")
        .len();
    result.pigz_size = fs::metadata(root.join("pigz.tgz"))
        .expect("pigz output")
        .len();
    result
}

/// Runs `script` with `sh -c` in `dir`, asserting success; returns its wall time.
pub fn shell(dir: &Path, script: &str) -> Duration {
    let start = Instant::now();
    let status = Command::new("sh")
        .args(["-c", &format!("set -e; {script}")])
        .current_dir(dir)
        .status()
        .expect("run sh");
    assert!(status.success(), "`{script}` failed");
    start.elapsed()
}

/// `name` found on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}
