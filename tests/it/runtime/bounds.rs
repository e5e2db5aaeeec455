//! Bounded downloads (issue 16.4): a runtime host cannot make slugplan store without end or wait
//! without end. A body without `Content-Length` that never ends is cut off at the download limit,
//! a `Content-Length` over it is refused before the body is read, a host that accepts and never
//! answers costs the idle timeout per attempt, one that trickles forever is stopped by the total
//! timeout, and a `file:` URL naming a fifo or a device is refused unread. None leaves a byte in
//! the cache.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use slugplan::cache::{Bucket, Cache};
use slugplan::runtime::{
    self, DownloadFailure, FetchOptions, FetchedArchive, Lockfile, NoReporter, RuntimeError,
};

use super::server::{Route, serve};
use super::{bucket_entries, options, ruby_archive, sha256_of};
use crate::common::http::silent_host;
use crate::common::{TestContext, render, slugplan_snapshot};

/// Fetches runtime `rt` of `manifest` on a thread, failing the test (instead of hanging it, or
/// filling the disk) when that takes longer than `limit`; returns the outcome and the time taken.
fn fetch_within(
    limit: Duration,
    ctx: &TestContext,
    manifest: &str,
    options: FetchOptions,
) -> (Result<FetchedArchive, RuntimeError>, Duration) {
    fetch_loaded_within(limit, ctx, ctx.manifest(manifest), options)
}

/// [`fetch_within`] with the manifest already loaded.
fn fetch_loaded_within(
    limit: Duration,
    ctx: &TestContext,
    loaded: slugplan::manifest::LoadedManifest,
    options: FetchOptions,
) -> (Result<FetchedArchive, RuntimeError>, Duration) {
    let cache = Cache::new(&ctx.cache);
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let lock = Lockfile::load(&loaded).unwrap();
        let start = Instant::now();
        let fetch = runtime::fetch(&loaded, "rt", &cache, &lock, &options, &NoReporter);
        let outcome = tokio::runtime::Runtime::new().unwrap().block_on(fetch);
        let _ = done.send((outcome, start.elapsed()));
    });
    result
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the fetch did not end within {limit:?}"))
}

fn pinned(url: &str) -> String {
    format!(
        "[runtimes.rt]\nurl = \"{url}\"\nsha256 = \"{}\"\n",
        "1".repeat(64)
    )
}

#[test]
fn an_endless_body_is_cut_off_at_the_download_limit_and_nothing_is_kept() {
    let ctx = TestContext::new();
    let server = serve(vec![(
        "/endless.tgz",
        Route::endless(vec![0x5a; 64 * 1024], None),
    )]);
    let limited = FetchOptions {
        max_download_bytes: 4 << 20,
        ..options()
    };
    let (outcome, _) = fetch_within(
        Duration::from_secs(20),
        &ctx,
        &pinned(&server.url_of("/endless.tgz")),
        limited,
    );
    let err = outcome.unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::TooLarge {
                announced: None,
                ..
            }
        ),
        "{err}"
    );
    insta::assert_snapshot!(ctx.redact(&render(&err)), @"
    × runtime `rt`: http://127.0.0.1:[PORT]/endless.tgz is larger than the download limit of 4194304 bytes
    help: nothing was kept; if the archive is genuine, set SLUGPLAN_MAX_DOWNLOAD_BYTES to a larger number of bytes
    ");
    assert_eq!(server.hits("/endless.tgz"), 1, "a refusal is not retried");
    assert!(
        bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty(),
        "no temp file is left"
    );
}

#[test]
fn a_content_length_over_the_limit_is_refused_before_the_body_is_read() {
    let ctx = TestContext::new();
    let archive = ruby_archive(ctx.temp.path(), "z", "ruby.tgz");
    let size = std::fs::metadata(&archive).unwrap().len();
    let server = serve(vec![("/ruby.tgz", Route::file(&archive))]);
    let url = server.url_of("/ruby.tgz");
    let one_short = FetchOptions {
        max_download_bytes: size - 1,
        ..options()
    };
    let (outcome, _) = fetch_within(Duration::from_secs(20), &ctx, &pinned(&url), one_short);
    let err = outcome.unwrap_err();
    let RuntimeError::TooLarge {
        announced, limit, ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!((announced, limit), (Some(size), size - 1));
    assert!(bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty());

    // Exactly at the limit is allowed.
    let manifest = format!(
        "[runtimes.rt]\nurl = \"{url}\"\nsha256 = \"{}\"\n",
        sha256_of(&archive)
    );
    let exact = FetchOptions {
        max_download_bytes: size,
        ..options()
    };
    let (outcome, _) = fetch_within(Duration::from_secs(20), &ctx, &manifest, exact);
    assert_eq!(outcome.unwrap().downloaded, size);
}

#[test]
fn a_host_that_never_answers_costs_the_idle_timeout_per_attempt() {
    let ctx = TestContext::new();
    let idle = Duration::from_millis(300);
    let stalled = FetchOptions {
        retries: 2,
        idle_timeout: idle,
        ..options()
    };
    let (outcome, took) = fetch_within(
        Duration::from_secs(20),
        &ctx,
        &pinned(&format!("{}/stalled.tgz", silent_host())),
        stalled,
    );
    let err = outcome.unwrap_err();
    let RuntimeError::Download {
        attempts, source, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*attempts, 3);
    assert!(
        matches!(source, DownloadFailure::Stalled { .. }),
        "{source}"
    );
    insta::assert_snapshot!(ctx.redact(&render(&err)), @r#"
     × runtime `rt`: downloading http://127.0.0.1:[PORT]/stalled.tgz failed after 3 attempts
     ╰─▶ no data for 0.3 s
      ╭─[[PROJECT]/slug.toml:2:7]
    1 │ [runtimes.rt]
    2 │ url = "http://127.0.0.1:[PORT]/stalled.tgz"
      ·       ──────────────────┬─────────────────
      ·                         ╰── downloading this failed
    3 │ sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
      ╰────
     help: check the URL and the network; SLUGPLAN_FETCH_RETRIES sets the retries
    "#);
    assert!(
        took >= idle * 3 && took < Duration::from_secs(5),
        "three stalled attempts took {took:?}"
    );
    assert!(bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty());
}

#[test]
fn a_host_that_trickles_forever_is_stopped_by_the_total_timeout() {
    let ctx = TestContext::new();
    // Never idle for long, never over the size limit: only the total timeout ends it.
    let server = serve(vec![(
        "/trickle.tgz",
        Route::endless(vec![0x5a; 16], Some(Duration::from_millis(20))),
    )]);
    let total = Duration::from_millis(700);
    let bounded = FetchOptions {
        timeout: total,
        ..options()
    };
    let (outcome, took) = fetch_within(
        Duration::from_secs(20),
        &ctx,
        &pinned(&server.url_of("/trickle.tgz")),
        bounded,
    );
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, RuntimeError::TimedOut { attempts: 1, .. }),
        "{err}"
    );
    insta::assert_snapshot!(ctx.redact(&render(&err)), @"
    × runtime `rt`: downloading http://127.0.0.1:[PORT]/trickle.tgz did not finish within 0.7 s (1 attempt)
    help: check the URL and the network; SLUGPLAN_FETCH_TIMEOUT sets the limit in seconds, SLUGPLAN_FETCH_IDLE_TIMEOUT how long an answer may stand still
    ");
    assert!(
        took >= total && took < Duration::from_secs(5),
        "took {took:?}"
    );
    assert!(
        bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty(),
        "the abandoned download's temp file is gone"
    );
}

#[test]
fn a_file_url_naming_a_fifo_or_a_device_is_refused_unread() {
    // The manifest's loader refuses such a URL already; the fetch checks again, since the file
    // may be replaced after the manifest was read: here by a fifo, and by a link to /dev/zero.
    let ctx = TestContext::new();
    let mut refused = Vec::new();
    for (name, replace) in [
        ("runtime.fifo", "mkfifo"),
        ("runtime.zero", "ln -s /dev/zero"),
    ] {
        let path = ctx.temp.path().join(name);
        std::fs::write(&path, b"a regular file while the manifest is read").unwrap();
        let url = url::Url::from_file_path(&path).unwrap();
        let loaded = ctx.manifest(&pinned(url.as_str()));
        std::fs::remove_file(&path).unwrap();
        crate::common::run_ok(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{replace} \"$0\""))
                .arg(&path),
        );
        let (outcome, _) = fetch_loaded_within(Duration::from_secs(20), &ctx, loaded, options());
        let err = outcome.unwrap_err();
        assert!(matches!(err, RuntimeError::NotAFile { .. }), "{err}");
        refused.push(ctx.redact(&render(&err)));
    }
    insta::assert_snapshot!(refused.join("\n"), @"
    × runtime `rt`: [TEMP]/runtime.fifo is not a regular file
    help: a file: URL names an archive file

    × runtime `rt`: [TEMP]/runtime.zero is not a regular file
    help: a file: URL names an archive file
    ");
    assert!(bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty());
}

#[test]
fn a_download_killed_midway_leaves_a_temp_file_that_cache_prune_removes() {
    let mut ctx = TestContext::new();
    let server = serve(vec![(
        "/endless.tgz",
        Route::endless(vec![0x5a; 64 * 1024], Some(Duration::from_millis(5))),
    )]);
    ctx.write("slug.toml", pinned(&server.url_of("/endless.tgz")));
    let mut fetch = ctx
        .slugplan(&["-q", "fetch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let archives = ctx.cache.join(Bucket::RuntimeArchives.dir_name());
    let temp_size = || {
        std::fs::read_dir(&archives)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    let start = Instant::now();
    while temp_size() < 1 << 20 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the download never got going"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    fetch.kill().unwrap();
    fetch.wait().unwrap();
    assert_eq!(
        bucket_entries(&ctx, Bucket::RuntimeArchives).len(),
        1,
        "kill -9 leaves the temp file"
    );

    ctx.filter_sizes();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["cache", "prune"]), @"
    exit code: 0
    ----- stdout -----
    Removed 1 entry, freed [SIZE]; the cache now takes [SIZE].

    ----- stderr -----
    warning: no --max-size or --older-than given: only temp files of interrupted writers are removed
    ");
    assert!(
        bucket_entries(&ctx, Bucket::RuntimeArchives).is_empty(),
        "a temp file no process writes is removed, however young"
    );
}
