//! Full-pack benchmark: slugplan against GNU tar | gzip -6 and tar | pigz -6, in the same run.
//!
//! Run with `cargo bench --bench pack` (release build). It builds a ~200 MB tree resembling a
//! Node.js runtime plus an app from files on this machine (the `node` binary, npm's
//! node_modules, C headers from /usr/include, symlinks, paths over 100 bytes), then times:
//!
//! 1. `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf - ./app | gzip -n -6`
//! 2. the same tar piped through `pigz -6 -n`
//! 3. `slugplan build` of a manifest with the same content: the runtime fetched (once, untimed)
//!    from a `file:` archive of it, as a Node project pins nodejs.org's tarball, and the app's
//!    few KB of files beside it
//!
//! and prints throughput (MB of input per second), output size, the ratios against the
//! baselines, slugplan's peak RSS and how many cores it kept busy (from `/usr/bin/time`).
//! A second slugplan run on a ~1 GB tree (the same files hard-linked several times; slugplan
//! stores them as separate files) shows that memory stays bounded; set `BENCH_SKIP_LARGE=1` to
//! skip it.
//! `BENCH_RUNS=N` (default 3) repeats the three timings, interleaved, and keeps the best of each.
//!
//! Targets on the 2-core reference machine: ≥ 4× tar|gzip, ≥ 1.8× tar|pigz, output ≤ 3 %
//! larger than gzip -6's, peak RSS < 64 MiB. The benchmark fails only when the slug it builds
//! is not a valid gzip (it is checked with `gzip -t`), never on timing. `cargo bench --bench
//! suite` runs this comparison as the first of the performance suite's five figures.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod common;

use std::fs;
use std::path::Path;

use common::{MB, build_tree, full_pack, hard_link_copies, slugplan_build, tree_size};

fn main() {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    let app = root.join("app");
    build_tree(&app);
    let files = walkdir::WalkDir::new(&app).into_iter().count();
    println!(
        "tree: {:.1} MB in {files} entries ({})",
        tree_size(&app) as f64 / MB,
        app.display()
    );
    let sha256 = common::build_runtime_archive(root);
    common::write_manifest(root, "app", &sha256);
    let result = full_pack(root, common::runs(3));
    println!();
    result.print();

    if std::env::var_os("BENCH_SKIP_LARGE").is_none() {
        large_run(root, &app);
    }
}

/// Packs a ~1 GB tree (the app hard-linked five times) and reports slugplan's peak RSS.
fn large_run(root: &Path, app: &Path) {
    let big = root.join("big");
    hard_link_copies(app, &big, 5);
    fs::write(root.join("slug.toml"), "[slugs.big]\nsource = \"big\"\n").expect("write slug.toml");
    let size = tree_size(&big);
    let (usage, slug) = slugplan_build(root);
    let time = usage.wall.as_secs_f64();
    println!();
    println!(
        "large: {:.0} MB packed in {time:.2}s ({:.1} MB/s) to {:.1} MB, peak RSS {:.1} MiB (target < 64 MiB)",
        size as f64 / MB,
        size as f64 / MB / time,
        fs::metadata(&slug).expect("slug").len() as f64 / MB,
        usage.rss_kib as f64 / 1024.0
    );
}
