//! Unbounded resources (issue 16.4), tried as a hostile or broken host would: a runtime URL whose
//! host answers an endless body without `Content-Length`, announces a body over the limit,
//! accepts and never answers, or trickles a byte at a time forever; a `file:` URL naming a fifo
//! or `/dev/zero`; a slug upload larger than `slugplan server` takes. Each is refused by
//! `slugplan` within a bounded time (the limits set from the environment, as a user would), and
//! none leaves a byte behind in the cache or the server's blobs.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::figures;
use crate::common::http::silent_host;
use crate::common::server::Server;
use crate::common::{TestContext, stderr};
use crate::runtime::server::{Route, serve};

/// The limits every `slugplan fetch` of the campaign runs with.
const LIMITS: [(&str, &str); 5] = [
    ("SLUGPLAN_MAX_DOWNLOAD_BYTES", "1000000"),
    ("SLUGPLAN_FETCH_IDLE_TIMEOUT", "0.3"),
    ("SLUGPLAN_FETCH_TIMEOUT", "2"),
    ("SLUGPLAN_FETCH_RETRIES", "1"),
    ("SLUGPLAN_FETCH_BACKOFF_MS", "10"),
];

/// The longest any refusal may take: the total timeout and a margin for a loaded machine.
const BOUND: Duration = Duration::from_secs(10);

/// Bytes in the files under `dir` (none when it does not exist), lock files aside.
fn bytes_under(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// `slugplan fetch` of a runtime at `url` under [`LIMITS`]: it must fail within [`BOUND`],
/// saying `expected`; returns the bytes it left in the runtime archives bucket and the time.
fn fetch_refused(url: &str, expected: &str) -> (u64, Duration) {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.rt]\nurl = \"{url}\"\nsha256 = \"{}\"\n",
            "1".repeat(64)
        ),
    );
    let mut fetch = ctx.slugplan(&["-q", "fetch"]);
    fetch.envs(LIMITS);
    let started = Instant::now();
    let out = fetch.output().expect("run slugplan fetch");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{url}: {}", stderr(&out));
    // The diagnostic as one line, however it wrapped.
    let text = stderr(&out);
    let said: Vec<&str> = text
        .split_whitespace()
        .filter(|word| *word != "│")
        .collect();
    assert!(
        said.join(" ").contains(expected),
        "{url}: expected {expected:?} in\n{text}"
    );
    assert!(took < BOUND, "{url}: took {took:?}");
    (bytes_under(&ctx.cache.join("runtimes-v1")), took)
}

#[test]
fn hostile_hosts_and_files_are_refused_in_bounded_time_keeping_nothing() {
    let host = serve(vec![
        ("/endless.tgz", Route::endless(vec![0x5a; 64 * 1024], None)),
        (
            "/huge.tgz",
            Route {
                body: vec![0x5a; 3_000_000],
                ..Route::default()
            },
        ),
        (
            "/trickle.tgz",
            Route::endless(vec![0x5a; 16], Some(Duration::from_millis(20))),
        ),
    ]);
    let temp = tempfile::tempdir().unwrap();
    let fifo = temp.path().join("runtime.fifo");
    crate::common::run_ok(std::process::Command::new("mkfifo").arg(&fifo));
    let fifo = url::Url::from_file_path(&fifo).unwrap().to_string();
    let cases = [
        (
            host.url_of("/endless.tgz"),
            "larger than the download limit of 1000000 bytes",
        ),
        (host.url_of("/huge.tgz"), "(it announces 3000000 bytes)"),
        (format!("{}/silent.tgz", silent_host()), "no data for 0.3 s"),
        (host.url_of("/trickle.tgz"), "did not finish within 2 s"),
        (fifo, "is not a regular file"),
        ("file:///dev/zero".to_owned(), "is not a regular file"),
    ];
    let (mut tried, mut refused, mut kept, mut slowest) = (0, 0, 0, Duration::ZERO);
    for (url, expected) in &cases {
        let (bytes, took) = fetch_refused(url, expected);
        tried += 1;
        refused += 1;
        kept += bytes;
        slowest = slowest.max(took);
    }

    // A slug upload over the server's cap: refused, nothing stored.
    let server = Server::start(&["--max-blob-size", "1M"]);
    let slug = crate::common::server::block_on(server.api().demo_slug_without_archive());
    let put = crate::common::server::block_on(
        reqwest::Client::new()
            .put(slug["blob"]["url"].as_str().unwrap())
            .body(vec![0u8; 3 << 20])
            .send(),
    )
    .unwrap();
    tried += 1;
    assert_eq!(put.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    refused += 1;
    kept += bytes_under(&server.data.join("blobs"));

    assert_eq!((refused, kept), (tried, 0));
    figures::print(
        "unbounded resources (hostile runtime hosts and files, an oversized upload)",
        &[
            ("inputs tried", tried),
            ("refused", refused),
            ("bytes kept", kept),
            ("seconds at most", slowest.as_secs_f64().ceil() as u64),
        ],
    );
}
