//! slugplan's own files never end up in a slug, wherever they are (issue 15, point 2): saved
//! plans inside the source, a cache directory inside it, output redirected into it, another
//! manifest's `.slugplan/`. Each case deploys, then checks that the next plan finds nothing
//! to do and that the slug holds only the app's files.

use std::process::Stdio;

use crate::common::project::Project;
use crate::common::{TestContext, slugplan_snapshot, stderr};
use crate::slug::tar_listing;

/// A project whose slug's source is the manifest's own directory (`source = "."`), as the
/// README's example has it.
fn here() -> Project {
    let p = Project::local();
    p.ctx.write("web.js", "console.log('Hello World')\n");
    p.ctx.write(
        "slug.toml",
        "[slugs.web]\nsource = \".\"\nprocess_types = { web = \"node web.js\" }\n\n\
         [apps.own-files-web]\nslug = \"web\"\n",
    );
    p
}

/// The names in the newest slug of the cache at `cache`.
fn slug_names(cache: &std::path::Path) -> Vec<String> {
    let newest = std::fs::read_dir(cache.join("slugs-v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tgz"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .expect("a slug was built");
    tar_listing(&newest).into_iter().map(|row| row.3).collect()
}

const ONLY_THE_APP: [&str; 2] = ["./app/", "./app/web.js"];

/// The README's flow: `plan -out release.plan`, then `apply release.plan`, in the source.
#[test]
fn a_saved_plan_inside_the_source_is_not_packed() {
    let p = here();
    p.ok(&["plan", "-out", "release.plan"], 0);
    p.ok(&["apply", "release.plan"], 0);
    assert_eq!(slug_names(&p.ctx.cache), ONLY_THE_APP);
    // Not `forces new slug: release.plan added`, forever.
    p.ok(&["plan", "--detailed-exitcode"], 0);
    // Under any name, and a `plan --json` document too: known by its first bytes.
    std::fs::rename(p.path("release.plan"), p.path("renamed.txt")).unwrap();
    let json = p.run(&["plan", "--json"]);
    std::fs::write(p.path("plan.json"), &json.stdout).unwrap();
    slugplan_snapshot!(p.filters(), p.command(&["plan", "--detailed-exitcode"]), @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
}

/// `SLUGPLAN_CACHE_DIR=./cache`: the cache (which every build writes) inside the source.
#[test]
fn a_cache_inside_the_source_is_not_packed() {
    let p = here();
    let mut apply = p.command(&["apply", "--yes"]);
    apply.env("SLUGPLAN_CACHE_DIR", "./cache");
    let out = apply.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(slug_names(&p.path("cache")), ONLY_THE_APP);
    let mut plan = p.command(&["plan", "--detailed-exitcode"]);
    plan.env("SLUGPLAN_CACHE_DIR", "./cache");
    slugplan_snapshot!(p.filters(), plan, @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
    ");
}

/// `slugplan apply --yes > apply.log 2> errors.log` in the source: the shell creates both
/// files before slugplan starts, and slugplan writes them while it packs.
#[test]
fn output_redirected_into_the_source_is_not_packed() {
    let p = here();
    let log = std::fs::File::create(p.path("apply.log")).unwrap();
    let errors = std::fs::File::create(p.path("errors.log")).unwrap();
    let status = p
        .command(&["-v", "apply", "--yes"])
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(errors))
        .status()
        .unwrap();
    let said = std::fs::read_to_string(p.path("errors.log")).unwrap();
    assert!(status.success(), "{said}");
    let printed = std::fs::read_to_string(p.path("apply.log")).unwrap();
    assert!(printed.contains("Apply complete!"), "{printed}");
    assert!(said.contains("Packing web"), "{said}");
    assert_eq!(slug_names(&p.ctx.cache), ONLY_THE_APP);
}

/// Another manifest's state below the source (`examples/x/.slugplan/`), not only the
/// source's own.
#[test]
fn a_slugplan_directory_at_any_depth_is_not_packed() {
    let p = here();
    p.ctx.write("sub/.slugplan/state/state.db", "not the app's");
    p.ok(&["apply", "--yes"], 0);
    assert_eq!(
        slug_names(&p.ctx.cache),
        ["./app/", "./app/sub/", "./app/web.js"]
    );
}

/// A file that changes while the slug is written is named as the user knows it: `./grow.log`,
/// not `././grow.log`.
#[test]
fn a_file_changing_while_packing_is_named_once() {
    let mut ctx = TestContext::new();
    ctx.write("slug.toml", "[slugs.web]\nsource = \".\"\n");
    // Big enough that packing takes a while; the log grows all along.
    ctx.write("big.bin", vec![7u8; 64 << 20]);
    ctx.write("grow.log", "");
    let log = ctx.path().join("grow.log");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().append(true).open(log).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                file.write_all(b"line\n").unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    ctx.filter_sizes();
    ctx.add_filter(r"\d+\.\d MB of tar", "[SIZE] of tar");
    let out = slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Packing web ([SIZE] of tar)
      × slug `web` could not be packed
      ╰─▶ ./grow.log changed while the slug was being written
      help: build again once nothing writes to the source tree
    ");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
}
