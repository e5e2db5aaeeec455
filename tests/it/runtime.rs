//! Integration tests: fetching runtimes over HTTP on 127.0.0.1 and file://, verification,
//! retries, the cache, slug.lock, progress output and concurrent processes.

mod bounds;
mod cli;
mod extract;
mod link;
pub mod server;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};
use slugplan::cache::{Bucket, Cache};
use slugplan::manifest::LoadedManifest;
use slugplan::runtime::{self, FetchOptions, FetchedArchive, Lockfile, NoReporter, RuntimeError};

use crate::common::{TestContext, render, run_ok};
use server::{Route, serve};

/// Small delays so retry tests stay fast.
pub fn options() -> FetchOptions {
    FetchOptions {
        retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..FetchOptions::default()
    }
}

pub fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A Node-style tarball: everything under one top-level folder, with a relative symlink.
pub fn node_tarball(dir: &Path) -> PathBuf {
    let src = dir.join("node-src");
    let top = src.join("node-v1.0.0-linux-x64");
    std::fs::create_dir_all(top.join("bin")).unwrap();
    std::fs::create_dir_all(top.join("lib/node_modules/npm/bin")).unwrap();
    std::fs::write(top.join("bin/node"), "#!/bin/sh\necho node\n").unwrap();
    std::fs::set_permissions(top.join("bin/node"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(top.join("lib/node_modules/npm/bin/npm-cli.js"), "// npm\n").unwrap();
    std::os::unix::fs::symlink(
        "../lib/node_modules/npm/bin/npm-cli.js",
        top.join("bin/npm"),
    )
    .unwrap();
    let out = dir.join("node-v1.0.0-linux-x64.tar.gz");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&src)
            .arg("-czf")
            .arg(&out)
            .arg("node-v1.0.0-linux-x64"),
    );
    out
}

/// A Ruby-style archive with no top folder (`./bin/ruby`, …); `flag` is `z` or `J` (xz).
pub fn ruby_archive(dir: &Path, flag: &str, name: &str) -> PathBuf {
    let src = dir.join("ruby-src");
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::create_dir_all(src.join("lib/ruby/3.3.0")).unwrap();
    std::fs::write(src.join("bin/ruby"), "#!/bin/sh\necho ruby\n").unwrap();
    std::fs::set_permissions(src.join("bin/ruby"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(src.join("lib/ruby/3.3.0/set.rb"), "class Set; end\n").unwrap();
    let out = dir.join(name);
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&src)
            .arg(format!("-c{flag}f"))
            .arg(&out)
            .arg("."),
    );
    out
}

pub fn cache(ctx: &TestContext) -> Cache {
    Cache::new(&ctx.cache)
}

/// Names in a cache bucket, without lock files.
pub fn bucket_entries(ctx: &TestContext, bucket: Bucket) -> Vec<String> {
    let dir = ctx.cache.join(bucket.dir_name());
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

pub fn fetch(
    ctx: &TestContext,
    loaded: &LoadedManifest,
    name: &str,
) -> Result<FetchedArchive, RuntimeError> {
    let lock = Lockfile::load(loaded).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime::fetch(
            loaded,
            name,
            &cache(ctx),
            &lock,
            &options(),
            &NoReporter,
        ))
}

#[test]
fn node_style_tarball_over_http_strips_the_top_folder_and_is_reused() {
    let ctx = TestContext::new();
    let archive = node_tarball(ctx.temp.path());
    let server = serve(vec![("/node.tar.gz", Route::file(&archive))]);
    let sha = sha256_of(&archive);
    let loaded = ctx.manifest(&format!(
            "[runtimes.node]\nurl = \"{}\"\nsha256 = \"{sha}\"\nstrip_components = 1\ndest = \"node\"\n",
            server.url_of("/node.tar.gz")
        ),
    );
    let first = fetch(&ctx, &loaded, "node").unwrap();
    assert_eq!(first.sha256.as_deref(), Some(sha.as_str()));
    assert!(first.downloaded > 0);
    let node = first.tree.join("bin/node");
    assert_eq!(
        std::fs::read_to_string(&node).unwrap(),
        "#!/bin/sh\necho node\n"
    );
    // Executable bit kept, everything read-only once complete.
    assert_eq!(
        std::fs::metadata(&node).unwrap().permissions().mode() & 0o7777,
        0o555
    );
    assert_eq!(
        std::fs::metadata(&first.tree).unwrap().permissions().mode() & 0o222,
        0
    );
    assert_eq!(
        std::fs::read_link(first.tree.join("bin/npm")).unwrap(),
        Path::new("../lib/node_modules/npm/bin/npm-cli.js")
    );
    assert_eq!(
        bucket_entries(&ctx, Bucket::RuntimeArchives),
        vec![sha.clone()]
    );

    // Second fetch: no request, no download; materialize agrees without network.
    let second = fetch(&ctx, &loaded, "node").unwrap();
    assert_eq!((second.downloaded, &second.tree), (0, &first.tree));
    assert_eq!(server.hits("/node.tar.gz"), 1);
    let tree = runtime::materialize(&loaded, "node", &cache(&ctx)).unwrap();
    assert_eq!((tree.root, tree.dest.as_str()), (first.tree, "node"));
    assert_eq!(
        server.hits("/node.tar.gz"),
        1,
        "materialize needs no network"
    );
}

#[test]
fn ruby_style_tgz_and_tar_xz_without_top_folder_fetch_in_parallel() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let txz = ruby_archive(ctx.temp.path(), "J", "ruby.tar.xz");
    let server = serve(vec![
        ("/ruby.tgz", Route::file(&tgz)),
        ("/ruby.tar.xz", Route::file(&txz)),
    ]);
    let loaded = ctx.manifest(&format!(
        "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{}\"\ndest = \"ruby-3.3.0\"\n\
         [runtimes.rubyxz]\nurl = \"{}\"\nsha256 = \"{}\"\n",
        server.url_of("/ruby.tgz"),
        sha256_of(&tgz),
        server.url_of("/ruby.tar.xz"),
        sha256_of(&txz)
    ));
    let names = vec!["ruby".to_owned(), "rubyxz".to_owned()];
    let fetched = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runtime::fetch_all(
            &loaded,
            &names,
            &cache(&ctx),
            &Lockfile::default(),
            &options(),
            &NoReporter,
        ))
        .unwrap();
    for runtime in &fetched {
        let ruby = runtime.tree.join("bin/ruby");
        assert_eq!(
            std::fs::read_to_string(&ruby).unwrap(),
            "#!/bin/sh\necho ruby\n",
            "{}",
            runtime.name
        );
        assert!(runtime.tree.join("lib/ruby/3.3.0/set.rb").is_file());
    }
    assert_eq!(bucket_entries(&ctx, Bucket::RuntimeTrees).len(), 2);
}

#[test]
fn file_url_is_verified_and_cached() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let url = url::Url::from_file_path(&tgz).unwrap();
    let loaded = ctx.manifest(&format!(
        "[runtimes.ruby]\nurl = \"{url}\"\nsha256 = \"{}\"\n",
        sha256_of(&tgz)
    ));
    let fetched = fetch(&ctx, &loaded, "ruby").unwrap();
    assert!(fetched.tree.join("bin/ruby").is_file());
    assert_eq!(
        bucket_entries(&ctx, Bucket::RuntimeArchives),
        vec![sha256_of(&tgz)]
    );

    let wrong = "0".repeat(64);
    let other = TestContext::new();
    let loaded = other.manifest(&format!(
        "[runtimes.ruby]\nurl = \"{url}\"\nsha256 = \"{wrong}\"\n"
    ));
    let err = fetch(&other, &loaded, "ruby").unwrap_err();
    assert!(matches!(err, RuntimeError::ChecksumMismatch(_)), "{err}");
    assert!(bucket_entries(&other, Bucket::RuntimeArchives).is_empty());
}

#[test]
fn wrong_checksum_names_url_and_both_hashes_and_keeps_nothing() {
    let mut ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    ctx.add_filter(sha256_of(&tgz), "[ACTUAL_SHA256]");
    let server = serve(vec![("/ruby.tgz", Route::file(&tgz))]);
    let expected = "ab".repeat(32);
    let loaded = ctx.manifest(&format!(
        "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{expected}\"\n",
        server.url_of("/ruby.tgz")
    ));
    let err = fetch(&ctx, &loaded, "ruby").unwrap_err();
    insta::assert_snapshot!(ctx.redact(&render(&err)), @r#"
     × runtime `ruby`: checksum mismatch: the archive at http://127.0.0.1:[PORT]/ruby.tgz has sha256 [ACTUAL_SHA256], but slug.toml pins sha256 abababababababababababababababababababababababababababababababab
      ╭─[[PROJECT]/slug.toml:3:10]
    2 │ url = "http://127.0.0.1:[PORT]/ruby.tgz"
    3 │ sha256 = "abababababababababababababababababababababababababababababababab"
      ·          ─────────────────────────────────┬────────────────────────────────
      ·                                           ╰── the archive does not have this hash
      ╰────
     help: if the archive at the URL is the one you mean, set sha256 = "[ACTUAL_SHA256]", or remove `sha256` and run `slugplan lock` to pin what the URL serves in slug.lock
    "#);
    assert!(bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty());
    assert!(bucket_entries(&ctx, Bucket::RuntimeTrees).is_empty());
}

#[test]
fn server_failing_twice_then_succeeding_is_retried() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let server = serve(vec![(
        "/ruby.tgz",
        Route {
            fail_first: 2,
            ..Route::file(&tgz)
        },
    )]);
    let loaded = ctx.manifest(&format!(
        "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{}\"\n",
        server.url_of("/ruby.tgz"),
        sha256_of(&tgz)
    ));
    let fetched = fetch(&ctx, &loaded, "ruby").unwrap();
    assert!(fetched.tree.join("bin/ruby").is_file());
    assert_eq!(server.hits("/ruby.tgz"), 3);
}

#[test]
fn connection_dropped_mid_body_is_retried_then_reported() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let body = std::fs::read(&tgz).unwrap();
    let server = serve(vec![
        (
            "/once.tgz",
            Route {
                body: body.clone(),
                truncate_first: 1,
                ..Route::default()
            },
        ),
        (
            "/always.tgz",
            Route {
                body,
                truncate_first: 100,
                ..Route::default()
            },
        ),
    ]);
    let sha = sha256_of(&tgz);
    let loaded = ctx.manifest(&format!(
        "[runtimes.once]\nurl = \"{}\"\nsha256 = \"{sha}\"\n\
         [runtimes.always]\nurl = \"{}\"\nsha256 = \"{sha}\"\n",
        server.url_of("/once.tgz"),
        server.url_of("/always.tgz")
    ));
    fetch(&ctx, &loaded, "once").unwrap();
    assert_eq!(server.hits("/once.tgz"), 2);

    let other = TestContext::new();
    let err = fetch(&other, &loaded, "always").unwrap_err();
    let RuntimeError::Download { url, attempts, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (url.as_str(), *attempts),
        (server.url_of("/always.tgz").as_str(), 4)
    );
    assert_eq!(server.hits("/always.tgz"), 4);
    assert!(
        bucket_entries(&other, Bucket::RuntimeArchives).is_empty(),
        "no partial download kept"
    );
}

#[test]
fn client_errors_are_not_retried() {
    let ctx = TestContext::new();
    let server = serve(vec![]);
    let loaded = ctx.manifest(&format!(
        "[runtimes.gone]\nurl = \"{}\"\nsha256 = \"{}\"\n",
        server.url_of("/gone.tgz"),
        "1".repeat(64)
    ));
    let err = fetch(&ctx, &loaded, "gone").unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Download { attempts: 1, .. }),
        "{err}"
    );
    assert_eq!(server.hits("/gone.tgz"), 1);
}

#[test]
fn materialize_without_fetch_says_how_to_fetch() {
    let ctx = TestContext::new();
    let loaded = ctx.manifest(&format!(
        "[runtimes.node]\nurl = \"https://nodejs.invalid/node.tgz\"\nsha256 = \"{}\"\n",
        "2".repeat(64)
    ));
    let err = runtime::materialize(&loaded, "node", &cache(&ctx)).unwrap_err();
    assert!(matches!(err, RuntimeError::NotFetched { .. }), "{err}");
    insta::assert_snapshot!(ctx.redact(&render(&err)), @"
    × runtime `node` is not fetched (https://nodejs.invalid/node.tgz)
    help: run `slugplan fetch node` (or `slugplan apply`, which fetches first)
    ");
}
