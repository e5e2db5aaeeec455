//! `slugplan lock` and `slugplan fetch` as processes: slug.lock flows, progress output and
//! redaction, two processes sharing one cache.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use slugplan::cache::Bucket;

use super::server::{Route, serve};
use super::{bucket_entries, node_tarball, ruby_archive, sha256_of};
use crate::common::terminal::on_a_terminal;
use crate::common::{TestContext, slugplan_snapshot, stderr, stdout};

#[test]
fn lock_pins_sorted_urls_and_is_stable() {
    let mut ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let node = node_tarball(ctx.temp.path());
    let server = serve(vec![
        ("/ruby.tgz", Route::file(&tgz)),
        ("/node.tgz", Route::file(&node)),
    ]);
    ctx.write("slug.toml", format!(
        "[runtimes.zruby]\nurl = \"{}\"\n[runtimes.anode]\nurl = \"{}\"\nstrip_components = 1\n",
        server.url_of("/ruby.tgz"), server.url_of("/node.tgz")
    ));
    ctx.add_filter(sha256_of(&node), "[NODE_SHA256]");
    ctx.add_filter(sha256_of(&tgz), "[RUBY_SHA256]");
    // The two downloads run at once, so their lines come in any order: each must be there.
    let out = ctx.run(&["lock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for line in [
        "Locked anode sha256:",
        "Locked zruby sha256:",
        "Wrote ./slug.lock",
    ] {
        assert!(stderr(&out).contains(line), "{}", stderr(&out));
    }
    let text = std::fs::read_to_string(ctx.dir.join("slug.lock")).unwrap();
    let expected = format!(
        "# This file is written by `slugplan lock`. Commit it; do not edit it by hand.\n\
         version = 1\n\n[runtimes.anode]\nurl = \"{}\"\nsha256 = \"{}\"\n\n\
         [runtimes.zruby]\nurl = \"{}\"\nsha256 = \"{}\"\n",
        server.url_of("/node.tgz"),
        sha256_of(&node),
        server.url_of("/ruby.tgz"),
        sha256_of(&tgz)
    );
    assert_eq!(text, expected);

    // It is committed: readable by everyone, as git would check it out.
    let mode = std::fs::metadata(ctx.dir.join("slug.lock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "{mode:o}");

    // Again: every runtime is read again (a pin is only ever what was read), the bytes are the
    // same, so is the file. Then fetch uses the pins and the archives lock stored.
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["lock", "--quiet"]), @"
    exit code: 0
    ----- stdout -----

    ----- stderr -----
    ");
    assert_eq!((server.hits("/node.tgz"), server.hits("/ruby.tgz")), (2, 2));
    assert_eq!(
        std::fs::read_to_string(ctx.dir.join("slug.lock")).unwrap(),
        expected
    );
    let out = ctx.run(&["fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(ctx.redact(&stdout(&out)), @"
    anode	[CACHE]/runtime-trees-v1/[NODE_SHA256]-s1-x1
    zruby	[CACHE]/runtime-trees-v1/[RUBY_SHA256]-s0-x1
    ");
    assert_eq!((server.hits("/node.tgz"), server.hits("/ruby.tgz")), (2, 2));
}

/// `slugplan lock` with a wrong `sha256` in slug.toml: it reads the archive, and refuses,
/// naming both hashes and underlining the pin, instead of copying the pin into slug.lock.
#[test]
fn lock_refuses_a_manifest_sha256_the_archive_does_not_have() {
    let mut ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let server = serve(vec![("/ruby.tgz", Route::file(&tgz))]);
    let wrong = "ab".repeat(32);
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{wrong}\"\n",
            server.url_of("/ruby.tgz")
        ),
    );
    ctx.filter_sizes();
    ctx.add_filter(sha256_of(&tgz), "[ACTUAL_SHA256]");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["lock"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
     Downloading ruby from http://127.0.0.1:[PORT]/ruby.tgz ([SIZE])
         Fetched ruby ([SIZE])
      × runtime `ruby`: checksum mismatch: the archive at http://127.0.0.1:[PORT]/ruby.tgz has sha256 [ACTUAL_SHA256], but slug.toml pins sha256 abababababababababababababababababababababababababababababababab
       ╭─[slug.toml:3:10]
     2 │ url = "http://127.0.0.1:[PORT]/ruby.tgz"
     3 │ sha256 = "abababababababababababababababababababababababababababababababab"
       ·          ─────────────────────────────────┬────────────────────────────────
       ·                                           ╰── the archive does not have this hash
       ╰────
      help: if the archive at the URL is the one you mean, set sha256 = "[ACTUAL_SHA256]", or remove `sha256` and run `slugplan lock` to pin what the URL serves in slug.lock
    "#);
    assert_eq!(server.hits("/ruby.tgz"), 1, "the archive was read");
    assert!(!ctx.dir.join("slug.lock").exists(), "nothing is locked");

    // The right one is pinned as it is: the bytes read have it.
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{}\"\n",
            server.url_of("/ruby.tgz"),
            sha256_of(&tgz)
        ),
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["lock"]), @"
    exit code: 0
    ----- stdout -----

    ----- stderr -----
     Downloading ruby from http://127.0.0.1:[PORT]/ruby.tgz ([SIZE])
         Fetched ruby ([SIZE])
          Locked ruby sha256:[ACTUAL_SHA256]
           Wrote ./slug.lock
    ");
}

/// The bytes behind a locked URL change: `lock` pins what it reads now and says so, and never
/// calls the entry stale (its URL did not change).
#[test]
fn lock_repins_an_archive_that_changed_behind_the_same_url() {
    let mut ctx = TestContext::new();
    let v1 = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let v2 = ruby_archive(ctx.temp.path(), "J", "ruby.tar.xz");
    std::fs::copy(&v1, ctx.dir.join("ruby.archive")).unwrap();
    ctx.write(
        "slug.toml",
        "[runtimes.ruby]\nurl = \"file:ruby.archive\"\n",
    );
    assert!(ctx.run(&["lock"]).status.success());
    std::fs::copy(&v2, ctx.dir.join("ruby.archive")).unwrap();
    ctx.filter_sizes();
    ctx.add_filter(sha256_of(&v1), "[V1_SHA256]");
    ctx.add_filter(sha256_of(&v2), "[V2_SHA256]");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["lock"]), @"
    exit code: 0
    ----- stdout -----

    ----- stderr -----
     Downloading ruby from file://[PROJECT]/ruby.archive ([SIZE])
         Fetched ruby ([SIZE])
    warning: ruby: the archive at its URL changed since it was locked (slug.lock had sha256:[V1_SHA256]); pinned sha256:[V2_SHA256], the bytes read now
           Wrote ./slug.lock
    ");
    let lock = std::fs::read_to_string(ctx.dir.join("slug.lock")).unwrap();
    assert!(lock.contains(&sha256_of(&v2)), "{lock}");
}

#[test]
fn fetch_without_a_pin_is_refused_with_the_lock_hint() {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[runtimes.node]\nurl = \"http://127.0.0.1:9/node.tgz\"\n",
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × runtime `node`: no sha256 for http://127.0.0.1:[PORT]/node.tgz in slug.toml or slug.lock
       ╭─[slug.toml:2:7]
     1 │ [runtimes.node]
     2 │ url = "http://127.0.0.1:[PORT]/node.tgz"
       ·       ──────────────┬──────────────
       ·                     ╰── no sha256 for this URL here or in slug.lock
       ╰────
      help: run `slugplan lock` to pin it, or set `sha256` in [runtimes.node]
    "#);
}

#[test]
fn changed_url_is_reported_then_relocked() {
    let mut ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let xz = ruby_archive(ctx.temp.path(), "J", "ruby.tar.xz");
    let server = serve(vec![
        ("/v1.tgz", Route::file(&tgz)),
        ("/v2.tar.xz", Route::file(&xz)),
    ]);
    ctx.write(
        "slug.toml",
        format!("[runtimes.ruby]\nurl = \"{}\"\n", server.url_of("/v1.tgz")),
    );
    assert!(ctx.run(&["lock"]).status.success());
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{}\"\n",
            server.url_of("/v2.tar.xz")
        ),
    );
    ctx.filter_sizes();
    ctx.add_filter(sha256_of(&tgz), "[V1_SHA256]");
    ctx.add_filter(sha256_of(&xz), "[V2_SHA256]");
    // The error names the pinned URL and underlines the URL in slug.toml.
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × runtime `ruby`: slug.lock pins http://127.0.0.1:[PORT]/v1.tgz, but slug.toml now says http://127.0.0.1:[PORT]/v2.tar.xz
       ╭─[slug.toml:2:7]
     1 │ [runtimes.ruby]
     2 │ url = "http://127.0.0.1:[PORT]/v2.tar.xz"
       ·       ─────────────────┬────────────────
       ·                        ╰── slug.lock pins another URL
       ╰────
      help: run `slugplan lock` to pin the new URL
    "#);
    assert_eq!(
        server.hits("/v2.tar.xz"),
        0,
        "a stale pin is never used to download"
    );

    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["lock"]), @"
    exit code: 0
    ----- stdout -----

    ----- stderr -----
     Downloading ruby from http://127.0.0.1:[PORT]/v2.tar.xz ([SIZE])
         Fetched ruby ([SIZE])
         Updated ruby sha256:[V2_SHA256] (stale entry was for http://127.0.0.1:[PORT]/v1.tgz)
           Wrote ./slug.lock
    ");
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
    let server = serve(vec![(
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
            server.url_of("/node.tgz"),
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
    let mut ctx = TestContext::new();
    let tgz = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    ctx.add_filter(sha256_of(&tgz), "[RUBY_SHA256]");
    ctx.filter_sizes();
    let server = serve(vec![(
        "/ruby.tgz",
        Route {
            fail_first: 1,
            ..Route::file(&tgz)
        },
    )]);
    let secret_url = server
        .url_of("/ruby.tgz")
        .replace("http://", "http://deploy:hunter2@");
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{secret_url}\"\nsha256 = \"{}\"\n",
            sha256_of(&tgz)
        ),
    );
    // One document on stdout; the retry and the download as lines on stderr, URLs redacted.
    let json = slugplan_snapshot!(
        ctx.filters(),
        ctx.slugplan(&["fetch", "--json"]).env("SLUGPLAN_FETCH_BACKOFF_MS", "1"),
        @r#"
    exit code: 0
    ----- stdout -----
    {
      "format_version": 1,
      "runtimes": [
        {
          "downloaded": [SIZE],
          "name": "ruby",
          "sha256": "[RUBY_SHA256]",
          "tree": "[CACHE]/runtime-trees-v1/[RUBY_SHA256]-s0-x1"
        }
      ]
    }

    ----- stderr -----
    warning: ruby: attempt 1 failed (HTTP status 500); retrying in 1 ms
     Downloading ruby from http://***@127.0.0.1:[PORT]/ruby.tgz ([SIZE])
         Fetched ruby ([SIZE])
    "#
    );
    assert!(json.status.success(), "{}", stderr(&json));
    assert!(!format!("{}{}", stdout(&json), stderr(&json)).contains("hunter2"));
    // The cache says what the archive and its tree are, the URL redacted there too.
    let listing = stdout(&ctx.run(&["cache", "ls"]));
    for line in [
        "  runtime archive ruby from http://***@",
        "  runtime tree ruby from http://***@",
    ] {
        assert!(listing.contains(line), "{listing}");
    }
    assert!(!listing.contains("hunter2"), "{listing}");

    // Cached now: plain lines say so on stderr (not a terminal); --quiet says nothing.
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @"
    exit code: 0
    ----- stdout -----
    ruby	[CACHE]/runtime-trees-v1/[RUBY_SHA256]-s0-x1

    ----- stderr -----
         Fetched ruby (cached)
    ");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["-q", "fetch"]), @"
    exit code: 0
    ----- stdout -----
    ruby	[CACHE]/runtime-trees-v1/[RUBY_SHA256]-s0-x1

    ----- stderr -----
    ");

    // An error naming the URL redacts it too.
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.ruby]\nurl = \"{}\"\nsha256 = \"{}\"\n",
            secret_url.replace("ruby.tgz", "missing.tgz"),
            "3".repeat(64)
        ),
    );
    let failed = slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × runtime `ruby`: downloading http://***@127.0.0.1:[PORT]/missing.tgz failed after 1 attempt
      ╰─▶ HTTP status 404
      help: check the URL and the network; SLUGPLAN_FETCH_RETRIES sets the retries
    ");
    assert!(!stderr(&failed).contains("hunter2"), "{}", stderr(&failed));
}

#[test]
fn invalid_lock_file_is_reported_with_its_position() {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[runtimes.x]\nurl = \"http://127.0.0.1:9/x.tgz\"\n",
    );
    ctx.write("slug.lock", "version = 1\n\n[runtimes.x]\nurl = 3\n");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × invalid lock file ./slug.lock: line 4, column 7: invalid type: integer `3`, expected a string
      help: delete it and run `slugplan lock` to write it again
    ");
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
    // On a pseudo-terminal stderr is a TTY: bars are drawn and redrawn, so the screen is
    // checked for what matters rather than snapshotted.
    let screen = on_a_terminal(&ctx, &["fetch"], "");
    screen.assert_shows(0, &["Fetched ruby ("]);
    let text = &screen.text;
    assert!(
        !text.contains("Downloading"),
        "bars, not plain lines: {text}"
    );
}

/// A runtime error names the runtime and, where a manifest value is at fault, underlines it:
/// the URL of a failed download, the `file:` archive that is not there (issue 15, point 5).
#[test]
fn runtime_errors_name_the_runtime_and_underline_its_url() {
    let ctx = TestContext::new();
    let server = serve(vec![]);
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.gone]\nurl = \"{}\"\nsha256 = \"{}\"\n",
            server.url_of("/gone.tgz"),
            "1".repeat(64)
        ),
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × runtime `gone`: downloading http://127.0.0.1:[PORT]/gone.tgz failed after 1 attempt
      ╰─▶ HTTP status 404
       ╭─[slug.toml:2:7]
     1 │ [runtimes.gone]
     2 │ url = "http://127.0.0.1:[PORT]/gone.tgz"
       ·       ────────────────┬────────────────
       ·                       ╰── downloading this failed
     3 │ sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
       ╰────
      help: check the URL and the network; SLUGPLAN_FETCH_RETRIES sets the retries
    "#);

    // A missing `file:` archive: found by every command before anything is read.
    ctx.write("web/web.js", "console.log('hi')\n");
    ctx.write(
        "slug.toml",
        "[runtimes.node]\nurl = \"file:runtimes/node.tgz\"\n\n[slugs.web]\nsource = \"web\"\nruntimes = [\"node\"]\n\n[apps.web-app]\nslug = \"web\"\n",
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["plan"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::manifest::file_url

      × runtime `node`: url `file:runtimes/node.tgz` names a file that does not exist
       ╭─[slug.toml:2:7]
     1 │ [runtimes.node]
     2 │ url = "file:runtimes/node.tgz"
       ·       ────────────┬───────────
       ·                   ╰── no such archive
     3 │
       ╰────
      help: a relative `file:` URL is relative to the manifest's directory; put the archive there or fix the URL
    "#);
}

/// slug.lock is read as the manifest is: a fifo in its place is refused, never opened (opening
/// one without a writer blocks forever).
#[test]
fn a_lock_file_that_is_a_fifo_is_refused_without_hanging() {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[runtimes.x]\nurl = \"http://127.0.0.1:9/x.tgz\"\n",
    );
    let made = std::process::Command::new("mkfifo")
        .arg(ctx.dir.join("slug.lock"))
        .status()
        .unwrap();
    assert!(made.success());
    let mut fetch = ctx.slugplan(&["fetch"]);
    fetch
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = fetch.spawn().unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("slugplan fetch hung on a fifo slug.lock");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × invalid lock file ./slug.lock: it is a fifo, not a regular file
      help: delete it and run `slugplan lock` to write it again
    ");
}
