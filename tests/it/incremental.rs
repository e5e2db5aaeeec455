//! Integration tests: incremental slugs (cached chunks spliced, only changed components
//! compressed) are byte-identical to from-scratch builds; damaged chunk caches fall back to
//! compressing; `touch` and fresh copies cause no rebuild; `slugplan cache ls` and `prune`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use slugplan::build::key::slug_key;
use slugplan::build::{BuildOptions, BuiltSlug, build_slug, slug_components};
use slugplan::cache::Cache;

use crate::common::{TestContext, render, run_ok, slugplan_snapshot, stderr, stdout};
use crate::slug::{built_web, fixture};

/// Builds slug `web` with `cache`.
fn build_with(ctx: &TestContext, cache: &Path) -> BuiltSlug {
    build_slug(
        &ctx.load_manifest(),
        "web",
        &Cache::new(cache),
        &BuildOptions::default(),
    )
    .unwrap()
}

/// Builds slug `web` incrementally (with the context's cache, warm from earlier builds) and
/// from scratch (a fresh cache); asserts both give the same bytes and returns the incremental
/// build.
fn incremental_matches_scratch(ctx: &TestContext) -> BuiltSlug {
    let incremental = build_with(ctx, &ctx.cache);
    let scratch_dir = tempfile::tempdir().unwrap();
    let scratch = build_with(ctx, scratch_dir.path());
    assert!(scratch.reused.is_empty(), "a fresh cache has no chunks");
    assert_eq!(incremental.archive.checksum, scratch.archive.checksum);
    assert_eq!(
        std::fs::read(&incremental.archive.path).unwrap(),
        std::fs::read(&scratch.archive.path).unwrap()
    );
    assert_eq!(incremental.components, scratch.components);
    run_ok(
        Command::new("gzip")
            .arg("-t")
            .arg(&incremental.archive.path),
    );
    incremental
}

#[test]
fn incremental_slugs_are_byte_identical_to_from_scratch_builds() {
    let ctx = fixture();
    let first = build_with(&ctx, &ctx.cache);
    assert!(first.reused.is_empty());
    let mut seen = vec![first.archive.checksum.clone()];

    type Change = fn(&Path);
    let changes: [(&str, Change); 5] = [
        ("app file changed", |dir| {
            std::fs::write(dir.join("src/web.js"), "console.log('changed')\n").unwrap();
        }),
        ("app file added", |dir| {
            std::fs::write(dir.join("src/lib/new.js"), "module.exports = 2;\n").unwrap();
        }),
        ("app file removed", |dir| {
            std::fs::remove_file(dir.join("src/lib.js")).unwrap();
        }),
        ("app file made executable", |dir| {
            let path = dir.join("src/lib/a.js");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }),
        ("app directory added", |dir| {
            std::fs::create_dir_all(dir.join("src/public/css")).unwrap();
            std::fs::write(dir.join("src/public/css/site.css"), "body{}\n").unwrap();
        }),
    ];
    for (what, change) in changes {
        change(ctx.path());
        let built = incremental_matches_scratch(&ctx);
        assert_eq!(built.reused, ["layout", "runtime.rt"], "{what}");
        assert!(
            !seen.contains(&built.archive.checksum),
            "{what}: the slug changed"
        );
        seen.push(built.archive.checksum);
    }

    // Nothing changed: every component comes from the chunk cache, app included.
    let again = incremental_matches_scratch(&ctx);
    assert_eq!(again.reused, ["layout", "runtime.rt", "app"]);

    // A runtime change recompresses the runtime and keeps the app's chunks.
    std::fs::write(ctx.path().join("rt/bin/tool"), "#!/bin/sh\necho tool 2\n").unwrap();
    let built = incremental_matches_scratch(&ctx);
    assert_eq!(built.reused, ["layout", "app"]);
}

/// The chunk cache entry of component `name` in `cache`.
fn chunk_entry(cache: &Path, built: &BuiltSlug, name: &str) -> std::path::PathBuf {
    cache
        .join("chunks-v1")
        .join(format!("{}.chunks", built.archive.key.parts[name]))
}

#[test]
fn damaged_chunk_entries_fall_back_to_compressing_and_are_replaced() {
    let ctx = fixture();
    let first = build_with(&ctx, &ctx.cache);
    let entry = chunk_entry(&ctx.cache, &first, "runtime.rt");
    let sound = std::fs::read(&entry).unwrap();
    let header_len = sound.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(sound.len() > header_len + 100_000, "multi-chunk runtime");

    type Damage = fn(&mut Vec<u8>, usize);
    let damages: [(&str, Damage); 4] = [
        // Same length, one bit flipped in the middle of the compressed bytes.
        ("bit flip", |bytes, header| {
            let mid = header + (bytes.len() - header) / 2;
            bytes[mid] ^= 0x10;
        }),
        ("truncated", |bytes, _| bytes.truncate(bytes.len() - 1000)),
        ("bad header", |bytes, _| bytes[2] = b'#'),
        ("emptied", |bytes, _| bytes.clear()),
    ];
    for (i, (what, damage)) in damages.iter().enumerate() {
        let mut bytes = sound.clone();
        damage(&mut bytes, header_len);
        std::fs::write(&entry, &bytes).unwrap();
        std::fs::write(ctx.path().join("src/web.js"), format!("v{i}\n")).unwrap();
        let built = incremental_matches_scratch(&ctx);
        assert_eq!(
            built.reused,
            ["layout"],
            "{what}: the runtime was compressed again"
        );
        assert!(
            std::fs::read(&entry).unwrap() == sound,
            "{what}: the entry was replaced by a sound one"
        );
    }

    // A missing entry is a miss too, and the next build reuses the rewritten one.
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(ctx.path().join("src/web.js"), "gone\n").unwrap();
    assert_eq!(incremental_matches_scratch(&ctx).reused, ["layout"]);
    std::fs::write(ctx.path().join("src/web.js"), "back\n").unwrap();
    assert_eq!(
        incremental_matches_scratch(&ctx).reused,
        ["layout", "runtime.rt"]
    );
}

#[test]
fn path_runtime_hashes_are_memoised_by_stat_data() {
    let ctx = fixture();
    // Files changed within the last second are never trusted to the memo.
    std::thread::sleep(Duration::from_millis(1100));
    let first = build_with(&ctx, &ctx.cache);
    let memos = || -> Vec<std::path::PathBuf> {
        let mut memos: Vec<_> = std::fs::read_dir(ctx.cache.join("tree-hashes-v1"))
            .unwrap()
            .map(|e| e.unwrap().path())
            // Memos only: not temp files, not the listing hints.
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                !name.starts_with('.') && !name.ends_with(".hint")
            })
            .collect();
        memos.sort();
        memos
    };
    let recorded = memos();
    let runtime_memo = recorded
        .iter()
        .find(|m| std::fs::read_to_string(m).unwrap() == first.archive.key.parts["runtime.rt"])
        .expect("the runtime's hash is memoised")
        .clone();

    // The memo is what the key comes from while the files' stat data is unchanged …
    let fake = "0".repeat(64);
    std::fs::write(&runtime_memo, &fake).unwrap();
    let loaded = ctx.load_manifest();
    let cache = Cache::new(&ctx.cache);
    let components = slug_components(&loaded, "web", &cache, &slugplan::own_files::NONE).unwrap();
    assert_eq!(
        slug_key(&loaded, &components, &cache).unwrap().parts["runtime.rt"],
        fake
    );
    // … but what is packed must hash to it: a memo that lies fails the build that packs the
    // files (caching nothing under the lie) and is forgotten, so the next build reads them.
    let err = build_slug(&loaded, "web", &cache, &BuildOptions::default()).unwrap_err();
    assert!(
        render(&err).contains("the files of `runtime.rt` changed"),
        "{}",
        render(&err)
    );
    assert!(!runtime_memo.exists(), "the lying memo is forgotten");
    assert_eq!(build_with(&ctx, &ctx.cache).archive.key, first.archive.key);
    // … and a touch changes the stat data: the files are read again, giving the true hash.
    run_ok(Command::new("touch").arg(ctx.path().join("rt/lib/big.bin")));
    let touched = build_with(&ctx, &ctx.cache);
    assert_eq!(touched.archive.key, first.archive.key);
    assert_eq!(touched.archive.checksum, first.archive.checksum);
}

/// A project deployed to the embedded local platform: runtime `rt` (a local directory) and
/// slug `web` running on app `inc-staging`.
fn deployed() -> TestContext {
    let ctx = fixture();
    let manifest = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    std::fs::write(
        ctx.path().join("slug.toml"),
        format!("{manifest}\n[apps.inc-staging]\nslug = \"web\"\n"),
    )
    .unwrap();
    run_ok(ctx.command().args(["apply", "--yes"]));
    ctx
}

fn plan_says_no_changes(ctx: &TestContext, dir: &Path) {
    let out = ctx
        .command()
        .current_dir(dir)
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), stdout(&out).trim()),
        (Some(0), "No changes. Every app runs its declared slug."),
        "{}",
        stderr(&out)
    );
}

/// A no-op plan reads no file whose stat data is unchanged: not for the key (the stat memo),
/// not for the per-file hashes that name what changed (memoised under the content key). A
/// 5 GB sparse file took every no-op plan ~5 s to read (issue 16, point 7).
///
/// Proven without a clock: after the first plan, the big file is made unreadable to the next
/// one (the plan runs without the capability that lets root read a mode-000 file), which can
/// still stat it; reading it would fail the plan.
#[test]
fn a_no_op_plan_reads_no_unchanged_file() {
    let ctx = fixture();
    let manifest = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    ctx.write(
        "slug.toml",
        format!("{manifest}\n[apps.inc-staging]\nslug = \"web\"\n"),
    );
    let big = ctx.path().join("src/big.bin");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(256 << 20).unwrap();
    drop(file);
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&big).is_err() {
        // Without root's read-anything capability the file cannot be packed at all; the
        // proof below needs it, and a run that cannot make it must say so, not pass.
        panic!("this test needs to run as root (it drops CAP_DAC_OVERRIDE for one plan)");
    }
    // Files changed within the last second are never trusted to the stat memo.
    std::thread::sleep(Duration::from_millis(1100));
    run_ok(ctx.command().args(["apply", "--yes"]));

    let mut plan = Command::new("setpriv");
    plan.arg("--bounding-set=-dac_override,-dac_read_search")
        .arg(crate::common::slugplan_bin())
        .args(["plan", "--detailed-exitcode"])
        .current_dir(ctx.path());
    ctx.apply_env(&mut plan);
    slugplan_snapshot!(ctx.filters(), plan, @"
    exit code: 0
    ----- stdout -----
    No changes. Every app runs its declared slug.

    ----- stderr -----
         Fetched rt (cached)
    ");
}

#[test]
fn touching_or_copying_the_sources_causes_no_rebuild() {
    let ctx = deployed();
    plan_says_no_changes(&ctx, ctx.path());

    // Every file and directory of the app and the runtime gets a new mtime.
    for dir in ["src", "rt"] {
        run_ok(Command::new("find").arg(ctx.path().join(dir)).args([
            "-exec",
            "touch",
            "-h",
            "-d",
            "2031-02-03 04:05:06",
            "{}",
            "+",
        ]));
    }
    plan_says_no_changes(&ctx, ctx.path());

    // A fresh checkout: a copy with new inodes, mtimes and ctimes.
    let copy = ctx.temp.path().join("checkout");
    run_ok(Command::new("cp").arg("-r").arg(ctx.path()).arg(&copy));
    plan_says_no_changes(&ctx, &copy);

    // A real change is still seen.
    std::fs::write(copy.join("src/web.js"), "console.log('changed')\n").unwrap();
    let mut plan = ctx.slugplan(&["plan", "--detailed-exitcode"]);
    plan.current_dir(&copy);
    slugplan_snapshot!(ctx.filters(), plan, @r#"
    exit code: 2
    ----- stdout -----
    Drift: releases made outside slugplan
      ! inc-staging runs v1 (SHA256:5faaf7d219a8…), made outside slugplan: "Deploy web SHA256:5faaf7d219a8… (slugplan)"; this plan replaces it

    slugplan will perform these actions, shown with these symbols:
      * build
      ↑ upload
      ~ release

      # slug.web@heroku-24 will be built
      * slug.web@heroku-24
          reason:   forces new slug: web.js changed
          checksum: SHA256:31baa78d599d…

      # upload.web→inc-staging will be uploaded
      ↑ upload.web→inc-staging
          reason:   not on the platform yet
          checksum: SHA256:31baa78d599d…

      # release.inc-staging will be released
      ~ release.inc-staging
          reason:   runs SHA256:5faaf7d219a8… (v1), declared SHA256:31baa78d599d…
          checksum: SHA256:5faaf7d219a8… → SHA256:31baa78d599d…

    Plan: 1 to build, 1 to upload, 1 to release.

    ----- stderr -----
         Fetched rt (cached)
         Packing web (3.74 MB of tar)
    "#);
}

/// Sets the mtime of `path` to `age` ago.
fn age(path: &Path, age: Duration) {
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn cache_ls(ctx: &TestContext) -> serde_json::Value {
    let out = run_ok(ctx.command().args(["cache", "ls", "--json"]));
    serde_json::from_slice(&out.stdout).unwrap()
}

const DAY: Duration = Duration::from_secs(86_400);

#[test]
fn cache_ls_lists_buckets_entries_sizes_and_ages() {
    let ctx = fixture();
    let built = build_with(&ctx, &ctx.cache);
    age(&built.archive.path, 3 * DAY);

    let doc = cache_ls(&ctx);
    assert_eq!(doc["format_version"], 1);
    let entries = doc["entries"].as_array().unwrap();
    let slug = entries
        .iter()
        .find(|e| e["bucket"] == "slugs-v1")
        .expect("the slug is listed");
    assert_eq!(
        slug["name"],
        format!("{}.tgz", built.archive.checksum.hex())
    );
    assert_eq!(slug["size"], built.archive.size);
    // Beside its hash, what it is.
    assert_eq!(slug["about"]["kind"], "slug");
    assert_eq!(slug["about"]["name"], "web");
    assert_eq!(slug["about"]["stack"], "heroku-24");
    let age_secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - slug["last_used"].as_u64().unwrap();
    assert!(
        (3 * 86_400..3 * 86_400 + 60).contains(&age_secs),
        "{age_secs}"
    );
    // Least recently used first.
    assert_eq!(entries[0]["name"], slug["name"]);
    // A `path` runtime is the user's to edit: nothing records its files for linking.
    assert!(
        !entries.iter().any(|e| e["bucket"] == "slug-sources-v1"),
        "{entries:?}"
    );

    let chunks = doc["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "chunks-v1")
        .unwrap();
    let on_disk: u64 = std::fs::read_dir(ctx.cache.join("chunks-v1"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(chunks["entries"], 3, "layout, runtime and app");
    assert_eq!(chunks["size"], on_disk);
    let total: u64 = entries.iter().map(|e| e["size"].as_u64().unwrap()).sum();
    assert_eq!(doc["size"], total);

    // What is listed beside the slug hashes the fixture's paths and was used a moment ago, in
    // an order of its own: the listing is checked by `prune`'s test, on entries made to measure.
    let out = run_ok(ctx.command().args(["cache", "ls"]));
    let text = stdout(&out);
    assert!(text.contains("chunks-v1 (3 entries"), "{text}");
    assert!(
        text.contains(&format!(
            "{}.tgz  slug web for heroku-24",
            built.archive.checksum.hex()
        )),
        "{text}"
    );
    assert!(text.contains("3d ago"), "{text}");
}

#[test]
fn prune_removes_old_entries_then_least_recently_used_until_it_fits() {
    let ctx = TestContext::new();
    let bucket = ctx.cache.join("slugs-v1");
    std::fs::create_dir_all(&bucket).unwrap();
    // Five 1 MiB entries, used a little less than 1 to 5 days ago.
    for days in 1..=5u32 {
        let path = bucket.join(format!("{days}.tgz"));
        std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
        age(&path, DAY * days - Duration::from_secs(3600));
    }
    // An unpacked runtime tree, read-only as extraction leaves it, used 10 days ago.
    let tree = ctx.cache.join("runtime-trees-v1/abc-s1-x1");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/node"), "#!/bin/sh\n").unwrap();
    for dir in [tree.join("bin"), tree.clone()] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    age(&tree, 10 * DAY);
    // What a prune killed midway leaves behind.
    std::fs::write(bucket.join(".tmp-prune-dead"), "x").unwrap();

    let names = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let prune = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["cache", "prune", "--json"];
        all.extend_from_slice(args);
        let out = run_ok(ctx.command().args(&all));
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // With sizes and ages (what was written just now, a second or so ago).
    let listing = ctx.filters_with(&[(r"\b\d+s ago", "[SECONDS] ago")]);
    slugplan_snapshot!(listing, ctx.slugplan(&["cache", "ls"]), @"
    exit code: 0
    ----- stdout -----
    [CACHE] (5.24 MB)

    runtime-trees-v1 (1 entry, 10 B)
           10 B    10d ago  abc-s1-x1  runtime tree

    slugs-v1 (6 entries, 5.24 MB)
            1 B     [SECONDS] ago  .tmp-prune-dead  temp file
        1.05 MB    23h ago  1.tgz  slug
        1.05 MB     1d ago  2.tgz  slug
        1.05 MB     2d ago  3.tgz  slug
        1.05 MB     3d ago  4.tgz  slug
        1.05 MB     4d ago  5.tgz  slug

    ----- stderr -----
    ");
    // Fractions of a day, as sizes take fractions of a unit.
    let pruned = prune(&["--older-than", "4.5d"]);
    assert_eq!(
        names(&pruned["removed"]),
        ["abc-s1-x1", "5.tgz", ".tmp-prune-dead"]
    );
    assert!(!tree.exists());
    assert_eq!(pruned["remaining"], 4 << 20);

    let pruned = prune(&["--max-size", "2.5M"]);
    assert_eq!(pruned["freed"], 2 << 20);
    assert_eq!(names(&cache_ls(&ctx)["entries"]), ["2.tgz", "1.tgz"]);

    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["cache", "prune", "--max-size", "0"]), @"
    exit code: 0
    ----- stdout -----
    Removed 2 entries, freed 2.10 MB; the cache now takes 0 B.

    ----- stderr -----
    ");
    assert_eq!(cache_ls(&ctx)["size"], 0);
    assert!(names(&cache_ls(&ctx)["entries"]).is_empty());
}

#[test]
fn prune_refuses_while_another_process_uses_the_cache() {
    let ctx = fixture();
    build_with(&ctx, &ctx.cache);
    let before = cache_ls(&ctx)["size"].as_u64().unwrap();
    assert!(before > 0);

    // What a running build, plan or apply holds for as long as it runs.
    let in_use = Cache::new(&ctx.cache).with_shared_lock().unwrap();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["cache", "prune", "--max-size", "0"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::cache::busy

      × the cache is in use by another slugplan process (lock [CACHE]/.lock)
      help: run `slugplan cache prune` again once the running build, plan or apply has finished
    ");
    assert_eq!(cache_ls(&ctx)["size"], before, "nothing was removed");

    // A build beside it is not blocked by the lock.
    let also_building = build_with(&ctx, &ctx.cache);
    assert!(also_building.archive.path.is_file());

    drop(in_use);
    run_ok(ctx.command().args(["cache", "prune", "--max-size", "0"]));
    assert_eq!(cache_ls(&ctx)["size"], 0);
    // An emptied cache builds again from scratch.
    let rebuilt = build_with(&ctx, &ctx.cache);
    assert!(rebuilt.reused.is_empty());
    assert_eq!(rebuilt.archive.checksum, also_building.archive.checksum);
}

#[test]
fn a_remembered_stack_check_never_hides_a_changed_binary() {
    let ctx = fixture();
    let bash = ctx.path().join("rt/bin/bash");
    std::fs::copy("/usr/bin/bash", &bash).unwrap();
    let first = build_with(&ctx, &ctx.cache);
    let passed: Vec<String> = std::fs::read_dir(ctx.cache.join("tree-hashes-v1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".stack-"))
        .collect();
    assert_eq!(
        passed,
        [format!(
            "{}.stack-heroku-24",
            first.archive.key.parts["runtime.rt"]
        )]
    );

    // Same name, size and mode; built for AArch64 now (e_machine, offset 18, = 183).
    let mut bytes = std::fs::read(&bash).unwrap();
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    std::fs::write(&bash, bytes).unwrap();
    let err = build_slug(
        &ctx.load_manifest(),
        "web",
        &Cache::new(&ctx.cache),
        &BuildOptions::default(),
    )
    .unwrap_err();
    // The changed binary is checked again.
    insta::assert_snapshot!(ctx.redact(&render(&err)), @"
    × slug `web` cannot be built for its stack
    ╰─▶   × [PROJECT]/rt/bin/bash is built for AArch64 (e_machine 183), but stack heroku-24 runs x86-64 only
          help: use the linux x64 (amd64) build of this runtime or program
    ");
}

/// `slugplan build --json` of slug `web` with the cache at `cache`: the slug's checksum.
fn checksum_with(ctx: &TestContext, cache: &Path) -> String {
    built_web(ctx.command().env("SLUGPLAN_CACHE_DIR", cache), &[]).0
}

/// The runtime listing memos in `cache`, by file name.
fn listing_memos(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut memos: Vec<_> = std::fs::read_dir(cache.join("runtime-listings-v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "listing"))
        .collect();
    memos.sort();
    memos
}

/// A slug of a few app files and the runtime from `archive` (beside the manifest, pinned).
fn archive_manifest(ctx: &TestContext, archive: &str) {
    let sha256 = crate::runtime::sha256_of(&ctx.path().join(archive));
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.node]\nurl = \"file:{archive}\"\nsha256 = \"{sha256}\"\n\
             strip_components = 1\ndest = \"node\"\n\n\
             [slugs.web]\nsource = \"app\"\nruntimes = [\"node\"]\n\
             process_types = {{ web = \"node web.js\" }}\n"
        ),
    );
}

#[test]
fn runtime_listing_memos_are_used_checked_and_never_stand_for_another_tree() {
    let ctx = TestContext::new();
    ctx.write("app/web.js", "console.log(1)\n");
    crate::runtime::node_tarball(ctx.path());
    archive_manifest(&ctx, "node-v1.0.0-linux-x64.tar.gz");
    let scratch = |ctx: &TestContext| checksum_with(ctx, tempfile::tempdir().unwrap().path());

    let first = checksum_with(&ctx, &ctx.cache);
    let memos = listing_memos(&ctx.cache);
    assert_eq!(memos.len(), 1, "the unpacked tree's listing is memoised");
    let sound = std::fs::read(&memos[0]).unwrap();

    // An app change is built from the memo, byte for byte as from scratch.
    ctx.write("app/web.js", "console.log(2)\n");
    let changed = checksum_with(&ctx, &ctx.cache);
    assert_ne!(changed, first);
    assert_eq!(changed, scratch(&ctx));

    // A damaged or missing memo falls back to walking the tree, and is written again.
    type Damage = fn(&Path, &[u8]);
    let damages: [(&str, Damage); 4] = [
        ("truncated", |memo, sound| {
            std::fs::write(memo, &sound[..sound.len() - 7]).unwrap();
        }),
        ("bit flip", |memo, sound| {
            let mut bytes = sound.to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 0x20;
            std::fs::write(memo, bytes).unwrap();
        }),
        ("garbage", |memo, _| {
            std::fs::write(memo, "not a listing\n").unwrap()
        }),
        ("removed", |memo, _| std::fs::remove_file(memo).unwrap()),
    ];
    for (what, damage) in damages {
        damage(&memos[0], &sound);
        assert_eq!(checksum_with(&ctx, &ctx.cache), changed, "{what}");
        assert_eq!(
            std::fs::read(&memos[0]).unwrap(),
            sound,
            "{what}: rewritten"
        );
    }

    // Another archive (one more file in the tree) gets its own memo and its own slug, even
    // with the first tree's memo in the cache.
    ctx.write(
        "node-src/node-v1.0.0-linux-x64/lib/extra.js",
        "module.exports = 1;\n",
    );
    run_ok(
        Command::new("tar")
            .args(["-C", "node-src", "-czf", "node-v2.tar.gz"])
            .arg("node-v1.0.0-linux-x64")
            .current_dir(ctx.path()),
    );
    archive_manifest(&ctx, "node-v2.tar.gz");
    let other = checksum_with(&ctx, &ctx.cache);
    assert_ne!(other, changed);
    assert_eq!(other, scratch(&ctx));
    assert_eq!(listing_memos(&ctx.cache).len(), 2);
    let listed = run_ok(
        Command::new("tar").args(["-tzf"]).arg(
            ctx.cache
                .join("slugs-v1")
                .join(format!("{}.tgz", other.trim_start_matches("SHA256:"))),
        ),
    );
    assert!(
        stdout(&listed).contains("./app/node/lib/extra.js"),
        "the new tree's file is in its slug"
    );
}
