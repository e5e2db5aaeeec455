//! `slugplan lock` and `slugplan fetch` as processes: slug.lock flows, progress output and
//! redaction, two processes sharing one cache.

use std::time::Duration;

use slugplan::cache::Bucket;

use super::server::{Route, Server};
use super::{bucket_entries, node_tarball, ruby_archive, sha256_of};
use crate::common::TestContext;
fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn lock_pins_sorted_urls_and_is_stable() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let node = node_tarball(ctx.temp.path());
    let server = Server::start(vec![
        ("/ruby.tgz", Route::file(&tgz)),
        ("/node.tgz", Route::file(&node)),
    ]);
    ctx.write("slug.toml", format!(
        "[runtimes.zruby]\nurl = \"{}\"\n[runtimes.anode]\nurl = \"{}\"\nstrip_components = 1\n",
        server.url("/ruby.tgz"), server.url("/node.tgz")
    ));
    let out = ctx.run(&["lock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Locked anode"), "{}", stderr(&out));
    let text = std::fs::read_to_string(ctx.dir.join("slug.lock")).unwrap();
    let expected = format!(
        "# This file is written by `slugplan lock`. Commit it; do not edit it by hand.\n\
         version = 1\n\n[runtimes.anode]\nurl = \"{}\"\nsha256 = \"{}\"\n\n\
         [runtimes.zruby]\nurl = \"{}\"\nsha256 = \"{}\"\n",
        server.url("/node.tgz"),
        sha256_of(&node),
        server.url("/ruby.tgz"),
        sha256_of(&tgz)
    );
    assert_eq!(text, expected);

    // Again: no download, same bytes. Then fetch uses the pins without downloading again.
    let out = ctx.run(&["lock"]);
    assert!(
        out.status.success() && !stderr(&out).contains("Locked"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(ctx.dir.join("slug.lock")).unwrap(),
        expected
    );
    let out = ctx.run(&["fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((server.hits("/node.tgz"), server.hits("/ruby.tgz")), (1, 1));
}

#[test]
fn fetch_without_a_pin_is_refused_with_the_lock_hint() {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[runtimes.node]\nurl = \"http://127.0.0.1:9/node.tgz\"\n",
    );
    let out = ctx.run(&["fetch"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no sha256") && err.contains("run `slugplan lock`"),
        "{err}"
    );
}

#[test]
fn changed_url_is_reported_then_relocked() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let xz = ruby_archive(ctx.temp.path(), "J", "ruby.tar.xz");
    let server = Server::start(vec![
        ("/v1.tgz", Route::file(&tgz)),
        ("/v2.tar.xz", Route::file(&xz)),
    ]);
    ctx.write(
        "slug.toml",
        format!("[runtimes.ruby]\nurl = \"{}\"\n", server.url("/v1.tgz")),
    );
    assert!(ctx.run(&["lock"]).status.success());
    ctx.write(
        "slug.toml",
        format!("[runtimes.ruby]\nurl = \"{}\"\n", server.url("/v2.tar.xz")),
    );
    let out = ctx.run(&["fetch"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("slug.lock pins {}", server.url("/v1.tgz"))),
        "{err}"
    );
    assert_eq!(
        server.hits("/v2.tar.xz"),
        0,
        "a stale pin is never used to download"
    );
    assert!(
        err.contains("slug.lock pins another URL"),
        "the URL in slug.toml is underlined: {err}"
    );

    let out = ctx.run(&["lock"]);
    let err = stderr(&out);
    assert!(
        err.contains("Updated ruby") && err.contains("stale entry was for"),
        "{err}"
    );
    let lock = std::fs::read_to_string(ctx.dir.join("slug.lock")).unwrap();
    assert!(
        lock.contains(&sha256_of(&xz)) && !lock.contains(&sha256_of(&tgz)),
        "{lock}"
    );
    assert!(ctx.run(&["fetch"]).status.success());
}

#[test]
fn two_processes_fetching_one_runtime_share_the_cache() {
    let ctx = TestContext::new();
    let node = node_tarball(ctx.temp.path());
    // Paced so that the two processes overlap: the second waits on the archive's lock.
    let server = Server::start(vec![(
        "/node.tgz",
        Route {
            pace: Some(Duration::from_millis(30)),
            ..Route::file(&node)
        },
    )]);
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.node]\nurl = \"{}\"\nsha256 = \"{}\"\nstrip_components = 1\n",
            server.url("/node.tgz"),
            sha256_of(&node)
        ),
    );
    let children: Vec<_> = (0..2)
        .map(|_| {
            ctx.command()
                .arg("fetch")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    assert_eq!(
        outputs[0].stdout, outputs[1].stdout,
        "both print the same tree"
    );
    assert_eq!(
        server.hits("/node.tgz"),
        1,
        "the second process reused the first's download"
    );
    assert_eq!(
        bucket_entries(&ctx, Bucket::RuntimeArchives),
        vec![sha256_of(&node)]
    );
    assert_eq!(
        bucket_entries(&ctx, Bucket::RuntimeTrees).len(),
        1,
        "no temp dirs left"
    );
}

#[test]
fn progress_is_plain_lines_json_or_nothing_and_never_shows_secrets() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let server = Server::start(vec![(
        "/ruby.tgz",
        Route {
            fail_first: 1,
            ..Route::file(&tgz)
        },
    )]);
    let secret_url = server
        .url("/ruby.tgz")
        .replace("http://", "http://deploy:hunter2@");
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{secret_url}\"\nsha256 = \"{}\"\n",
            sha256_of(&tgz)
        ),
    );
    let json = ctx
        .command()
        .args(["fetch", "--json"])
        .env("SLUGPLAN_FETCH_BACKOFF_MS", "1")
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", stderr(&json));
    let stdout = String::from_utf8(json.stdout).unwrap();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["retry", "start", "finish", "fetched"], "{stdout}");
    assert_eq!(
        events[1]["url"],
        server.url("/ruby.tgz").replace("http://", "http://***@")
    );
    assert!(!stdout.contains("hunter2"));

    // Cached now: plain lines say so on stderr (not a terminal); --quiet says nothing.
    let plain = ctx.run(&["fetch"]);
    assert!(
        stderr(&plain).contains("Fetched ruby (cached)"),
        "{}",
        stderr(&plain)
    );
    let quiet = ctx.run(&["-q", "fetch"]);
    assert!(
        quiet.status.success() && quiet.stderr.is_empty(),
        "{}",
        stderr(&quiet)
    );

    // An error naming the URL redacts it too.
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{}\"\n",
            secret_url.replace("ruby.tgz", "missing.tgz"),
            "3".repeat(64)
        ),
    );
    let failed = ctx.run(&["fetch"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).contains("http://***@127.0.0.1") && !stderr(&failed).contains("hunter2"),
        "{}",
        stderr(&failed)
    );
}

#[test]
fn invalid_lock_file_is_reported_with_its_position() {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[runtimes.x]\nurl = \"http://127.0.0.1:9/x.tgz\"\n",
    );
    ctx.write("slug.lock", "version = 1\n\n[runtimes.x]\nurl = 3\n");
    let out = ctx.run(&["fetch"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid lock file") && err.contains("line 4, column 7"),
        "{err}"
    );
    assert!(err.contains("run `slugplan lock`"), "{err}");
}

#[test]
fn a_terminal_gets_progress_bars_instead_of_lines() {
    let ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let url = url::Url::from_file_path(&tgz).unwrap();
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{url}\"\nsha256 = \"{}\"\n",
            sha256_of(&tgz)
        ),
    );
    // `script` runs slugplan on a pseudo-terminal, so stderr is a TTY.
    let command = format!("{} fetch", crate::common::slugplan_bin().display());
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&ctx.dir)
        .env("SLUGPLAN_CACHE_DIR", &ctx.cache)
        .env("HOME", &ctx.home)
        .env("NO_COLOR", "1")
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Fetched ruby ("), "{text}");
    assert!(
        !text.contains("Downloading"),
        "bars, not plain lines: {text}"
    );
}
