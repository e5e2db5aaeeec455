//! The Heroku API client against loopback servers: headers, paging, retries, throttling, blob
//! uploads, token secrecy, and every request body checked against the official schema.

mod canned;
mod contract;
mod fake;

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use slugplan::platform::heroku::{
    HerokuConfig, HerokuPlatform, RetryPolicy, ThrottlePolicy, Token,
};
use slugplan::platform::{BlobTarget, NewSlug, Platform, PlatformError, UploadProgress};

use fake::{FakeApi, Reply, Seen};

const TOKEN: &str = "hk-test-0123456789abcdef-do-not-print";

/// The client with retry delays of milliseconds, so tests never wait long.
fn config(url: &str, max_elapsed: Duration) -> HerokuConfig {
    let mut config = HerokuConfig::new(url).expect("valid URL");
    config.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        max_elapsed,
    };
    config.throttle = ThrottlePolicy {
        low_water: 100,
        max_delay: Duration::from_millis(1),
    };
    config
}

fn client(url: &str) -> HerokuPlatform {
    HerokuPlatform::with_config(config(url, Duration::from_secs(10)), Token::new(TOKEN)).unwrap()
}

/// Counts bytes reported by an upload.
#[derive(Default)]
struct Progress(AtomicU64);

impl UploadProgress for Progress {
    fn advance(&self, sent: u64) {
        self.0.fetch_add(sent, Ordering::Relaxed);
    }
}

fn slug_file(dir: &Path, size: usize) -> (std::path::PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let path = dir.join("slug.tgz");
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn new_slug() -> NewSlug {
    NewSlug {
        process_types: [("web".to_owned(), "./web".to_owned())].into(),
        checksum: format!("SHA256:{}", "ab".repeat(32)),
        stack: "heroku-24".into(),
        commit: Some("60883d9e8947a57e04dc9124f25df004866a2051".into()),
        commit_description: Some("fix the thing".into()),
    }
}

#[tokio::test]
async fn api_requests_carry_accept_user_agent_and_bearer() {
    let api = FakeApi::start(canned::heroku).await;
    let heroku = client(&api.url);
    let app = heroku.app("example").await.unwrap();
    assert_eq!(
        (app.id.as_str(), app.stack.as_str()),
        (canned::APP_ID, "heroku-24")
    );
    heroku
        .create_release("example", canned::SLUG_ID, "Deploy web")
        .await
        .unwrap();

    let seen = api.seen();
    for request in &seen {
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.heroku+json; version=3")
        );
        assert_eq!(
            request.header("user-agent"),
            Some(concat!("slugplan/", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/apps/example")
    );
    assert_eq!(
        seen[0].header("content-type"),
        None,
        "no body, no content type"
    );
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(
        seen[1].json(),
        json!({ "slug": canned::SLUG_ID, "description": "Deploy web" })
    );
}

#[tokio::test]
async fn blob_put_streams_a_known_length_without_credentials_or_content_type() {
    let api = FakeApi::start(canned::heroku).await;
    let heroku = client(&api.url);
    let temp = tempfile::tempdir().unwrap();
    let (path, bytes) = slug_file(temp.path(), 300_000);
    let created = heroku.create_slug("example", &new_slug()).await.unwrap();
    let progress = Progress::default();
    heroku
        .upload_blob(&created.blob, &path, &progress)
        .await
        .unwrap();

    let put = api
        .seen()
        .into_iter()
        .find(|s| s.method == "PUT")
        .expect("a PUT");
    assert_eq!(put.path, format!("/blobs/{}", canned::SLUG_ID));
    assert_eq!(put.header("authorization"), None);
    assert_eq!(put.header("content-type"), Some(""));
    assert_eq!(
        put.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(put.header("transfer-encoding"), None);
    assert!(
        put.body == bytes,
        "the blob store received the file's bytes"
    );
    assert_eq!(progress.0.load(Ordering::Relaxed), bytes.len() as u64);
}

#[tokio::test]
async fn blob_put_is_retried_by_reopening_the_file() {
    let api = FakeApi::start(|_: &Seen, index| {
        if index == 0 {
            Reply::error(503, "unavailable", "try again")
        } else {
            Reply::ok()
        }
    })
    .await;
    let heroku = client(&api.url);
    let temp = tempfile::tempdir().unwrap();
    let (path, bytes) = slug_file(temp.path(), 70_000);
    let target = BlobTarget {
        method: "put".into(),
        url: format!("{}/blobs/x?signature=s", api.url),
    };
    let progress = Progress::default();
    heroku.upload_blob(&target, &path, &progress).await.unwrap();

    let seen = api.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|s| s.body == bytes),
        "each attempt sent the whole file"
    );
    assert_eq!(
        progress.0.load(Ordering::Relaxed),
        bytes.len() as u64,
        "no double counting"
    );
    assert_eq!(heroku.stats().retries, 1);
}

/// A list of `total` releases served newest first in pages of `page`, with `Next-Range`.
fn paged_releases(total: u64, page: u64, current: Option<u64>) -> impl Fn(&Seen, usize) -> Reply {
    move |seen: &Seen, _| {
        // The range's start: absent on the first page, the last version served on later ones.
        let range = seen.header("range").unwrap_or_default().to_owned();
        let below = range
            .strip_prefix("version ]")
            .and_then(|rest| rest.split("..").next())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(total + 1);
        let versions: Vec<u64> = (1..below).rev().take(page as usize).collect();
        let body: Vec<_> = versions
            .iter()
            .map(|&v| canned::release(v, "succeeded", Some(v) == current))
            .collect();
        let last = *versions.last().unwrap_or(&1);
        if last > 1 {
            Reply::json(206, &json!(body)).header(
                "next-range",
                &format!("version ]{last}..; order=desc, max={page}"),
            )
        } else {
            Reply::json(200, &json!(body))
        }
    }
}

#[tokio::test]
async fn releases_follow_next_range_on_206() {
    let api = FakeApi::start(paged_releases(30, 10, Some(30))).await;
    let releases = client(&api.url).releases("example", 25).await.unwrap();
    let versions: Vec<u64> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, (6..=30).rev().collect::<Vec<_>>());
    let ranges: Vec<String> = api
        .seen()
        .iter()
        .map(|s| s.header("range").unwrap().to_owned())
        .collect();
    assert_eq!(
        ranges,
        [
            "version ..; order=desc, max=25",
            "version ]21..; order=desc, max=10",
            "version ]11..; order=desc, max=10",
        ]
    );
}

#[tokio::test]
async fn current_release_reads_only_the_newest_page_when_it_holds_it() {
    // v40 is newest but v38 is what runs (v39 and v40 could be failed or pending in real life).
    let api = FakeApi::start(paged_releases(40, 10, Some(38))).await;
    let current = client(&api.url)
        .current_release("example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version, 38);
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "one page, not the whole history");
    assert_eq!(
        seen[0].header("range"),
        Some("version ..; order=desc, max=10")
    );
}

#[tokio::test]
async fn current_release_pages_on_until_it_finds_it() {
    let api = FakeApi::start(paged_releases(40, 10, Some(15))).await;
    let current = client(&api.url)
        .current_release("example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.version, 15);
    assert_eq!(api.seen().len(), 3);

    let never = FakeApi::start(paged_releases(0, 10, None)).await;
    assert_eq!(
        client(&never.url).current_release("fresh").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn rate_limit_answers_are_retried_until_success() {
    let api = FakeApi::start(|seen: &Seen, index| {
        if index < 2 {
            Reply::error(429, "rate_limit", "Your account reached the API rate limit")
        } else {
            canned::heroku(seen, index)
        }
    })
    .await;
    let heroku = client(&api.url);
    // A 429 was never executed, so even a release creation is retried.
    let release = heroku
        .create_release("example", canned::SLUG_ID, "Deploy")
        .await
        .unwrap();
    assert_eq!(release.version, 3);
    assert_eq!(api.seen().len(), 3);
    assert_eq!(heroku.stats().retries, 2);
}

#[tokio::test]
async fn server_errors_are_retried_on_reads_but_not_on_releases() {
    let api = FakeApi::start(|seen: &Seen, index| {
        if index == 0 || seen.method == "POST" {
            Reply::error(500, "internal_server_error", "Internal server error")
        } else {
            canned::heroku(seen, index)
        }
    })
    .await;
    let heroku = client(&api.url);
    assert_eq!(heroku.app("example").await.unwrap().name, "example");
    assert_eq!(api.seen().len(), 2);

    // The release may have been made: apply re-reads the current release instead of repeating.
    let err = heroku
        .create_release("example", canned::SLUG_ID, "Deploy")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlatformError::Api { status: 500, request_id: Some(id), .. } if id == "req-2"),
        "{err:?}"
    );
    assert_eq!(api.seen().len(), 3, "the POST went out once");
}

#[tokio::test]
async fn gives_up_after_the_retry_time_naming_the_last_request_id() {
    for (status, id) in [(503, "unavailable"), (429, "rate_limit")] {
        let api = FakeApi::start(move |_: &Seen, _| Reply::error(status, id, "not now")).await;
        let heroku = HerokuPlatform::with_config(
            config(&api.url, Duration::from_millis(60)),
            Token::new(TOKEN),
        )
        .unwrap();
        let err = heroku.app("example").await.unwrap_err();
        let seen = api.seen();
        assert!(seen.len() > 1, "retried before giving up");
        let last = format!("req-{}", seen.len() - 1);
        assert!(
            err.to_string().contains(&format!("request id {last}")),
            "{err}"
        );
        match (status, &err) {
            (503, PlatformError::Api { status: 503, .. })
            | (429, PlatformError::RateLimited { .. }) => {}
            _ => panic!("unexpected error for {status}: {err:?}"),
        }
        assert_eq!(heroku.stats().retries as usize, seen.len() - 1);
    }
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_as_transport() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let heroku =
        HerokuPlatform::with_config(config(&url, Duration::from_millis(30)), Token::new(TOKEN))
            .unwrap();
    let err = heroku
        .create_release("example", canned::SLUG_ID, "Deploy")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlatformError::Transport { url: u, .. } if u.starts_with(&url)),
        "{err:?}"
    );
    assert!(
        heroku.stats().retries >= 1,
        "nothing was sent, so even a POST is retried"
    );
}

/// A raw HTTP/1.1 server whose first `drops` connections read the whole request and then close
/// without answering (the platform may or may not have acted); later ones answer with an app.
async fn dropping_server(drops: usize) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let index = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                while !complete_request(&request) {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                if index < drops {
                    return;
                }
                let body = canned::app("example", "cedar").to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
            });
        }
    });
    (url, connections)
}

/// Whether `request` holds a whole HTTP/1.1 request (headers, then `Content-Length` bytes).
fn complete_request(request: &[u8]) -> bool {
    let text = String::from_utf8_lossy(request);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let length = text[..end]
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= end + 4 + length
}

#[tokio::test]
async fn a_connection_dropped_after_sending_is_retried_only_when_repeating_is_harmless() {
    let (url, connections) = dropping_server(1).await;
    assert_eq!(client(&url).app("example").await.unwrap().name, "example");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the read was retried"
    );

    let (url, connections) = dropping_server(1).await;
    let err = client(&url)
        .create_release("example", canned::SLUG_ID, "Deploy")
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Transport { .. }), "{err:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "the release was not sent twice"
    );
}

#[tokio::test]
async fn slows_down_when_rate_limit_remaining_runs_low() {
    let remaining = Arc::new(Mutex::new("4000"));
    let answer = remaining.clone();
    let api = FakeApi::start(move |seen: &Seen, index| {
        let value = *answer.lock().unwrap();
        canned::heroku(seen, index).header("ratelimit-remaining", value)
    })
    .await;
    let heroku = client(&api.url);
    heroku.app("example").await.unwrap();
    heroku.app("example").await.unwrap();
    assert_eq!(
        heroku.stats().throttled,
        0,
        "plenty remaining: no slow-down"
    );
    *remaining.lock().unwrap() = "3";
    heroku.app("example").await.unwrap();
    heroku.app("example").await.unwrap();
    assert_eq!(
        heroku.stats().throttled,
        1,
        "the request after a low answer waited"
    );
}

#[tokio::test]
async fn coupling_is_none_when_the_app_has_no_pipeline() {
    let api = FakeApi::start(|_: &Seen, _| {
        Reply::error(404, "not_found", "Couldn't find that pipeline coupling.")
    })
    .await;
    let heroku = client(&api.url);
    assert_eq!(heroku.coupling("example").await.unwrap(), None);
    let missing = heroku.app("nope").await.unwrap_err();
    assert!(
        matches!(&missing, PlatformError::NotFound { request_id: Some(id), .. } if id == "req-1"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn netrc_token_for_the_api_host_is_sent() {
    let api = FakeApi::start(canned::heroku).await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".netrc"),
        "machine api.heroku.com login me password wrong-host\nmachine 127.0.0.1 login me password from-netrc\n",
    )
    .unwrap();
    let config = config(&api.url, Duration::from_secs(5));
    let (token, _) = Token::resolve(None, Some(home.path()), config.netrc_host()).unwrap();
    HerokuPlatform::with_config(config, token)
        .unwrap()
        .app("example")
        .await
        .unwrap();
    assert_eq!(
        api.seen()[0].header("authorization"),
        Some("Bearer from-netrc")
    );
}

/// Runs the whole slug flow and pipeline promotion against canned Heroku answers.
async fn whole_flow(heroku: &HerokuPlatform, dir: &Path) {
    let app = heroku.create_app("example", "heroku-24").await.unwrap();
    assert_eq!(app.name, "example");
    let created = heroku.create_slug("example", &new_slug()).await.unwrap();
    let (path, _) = slug_file(dir, 1000);
    heroku
        .upload_blob(&created.blob, &path, &Progress::default())
        .await
        .unwrap();
    let release = heroku
        .create_release("example", &created.slug.id, "Deploy web")
        .await
        .unwrap();
    assert_eq!(
        heroku.release("example", &release.id).await.unwrap().status,
        slugplan::platform::ReleaseStatus::Succeeded
    );
    assert_eq!(
        heroku
            .slug("example", &created.slug.id)
            .await
            .unwrap()
            .stack,
        "heroku-24"
    );
    heroku
        .rollback("example", &canned::release_id(2))
        .await
        .unwrap();
    let pipeline = heroku.create_pipeline("example-pipeline").await.unwrap();
    assert_eq!(
        heroku.pipeline("example-pipeline").await.unwrap().id,
        pipeline.id
    );
    heroku
        .create_coupling("example", &pipeline.id, "staging")
        .await
        .unwrap();
    assert_eq!(
        heroku
            .coupling("example")
            .await
            .unwrap()
            .unwrap()
            .pipeline_id,
        canned::PIPELINE_ID
    );
    let promotion = heroku
        .create_promotion(
            &pipeline.id,
            &app.id,
            &canned::release_id(3),
            &[canned::APP_ID.to_owned()],
        )
        .await
        .unwrap();
    let targets = heroku.promotion_targets(&promotion.id).await.unwrap();
    assert_eq!(
        targets[1].error_message.as_deref(),
        Some("Slug not compatible with stack")
    );
    assert_eq!(targets[0].release_id, Some(canned::release_id(3)));
}

#[tokio::test]
async fn every_request_body_matches_its_link_schema() {
    let api = FakeApi::start(canned::heroku).await;
    let temp = tempfile::tempdir().unwrap();
    whole_flow(&client(&api.url), temp.path()).await;

    let mut checked = Vec::new();
    for seen in api.seen().iter().filter(|s| s.method == "POST") {
        let body = seen.json();
        let (definition, title) = match seen.segments().as_slice() {
            ["apps"] => ("app", "Create"),
            ["apps", _, "slugs"] => ("slug", "Create"),
            ["apps", _, "releases"] if body.get("release").is_some() => ("release", "Rollback"),
            ["apps", _, "releases"] => ("release", "Create"),
            ["pipelines"] => ("pipeline", "Create"),
            ["pipeline-couplings"] => ("pipeline-coupling", "Create"),
            ["pipeline-promotions"] => ("pipeline-promotion", "Create"),
            other => panic!("unexpected POST {other:?}"),
        };
        let link = contract::link(definition, title);
        assert_eq!(link["method"], "POST");
        assert!(
            contract::href_matches(link, &seen.path),
            "{} is not {}",
            seen.path,
            link["href"]
        );
        let errors = contract::request_errors(definition, title, &body);
        assert!(
            errors.is_empty(),
            "{definition}/{title} body {body}: {errors:?}"
        );
        checked.push(format!("{definition}/{title}"));
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "app/Create",
            "pipeline-coupling/Create",
            "pipeline-promotion/Create",
            "pipeline/Create",
            "release/Create",
            "release/Rollback",
            "slug/Create",
        ]
    );
}

#[test]
fn the_contract_check_rejects_bodies_the_api_would() {
    let bad_slug = json!({ "process_types": { "web server!": "./web" } });
    assert!(!contract::request_errors("slug", "Create", &bad_slug).is_empty());
    assert!(
        !contract::request_errors("release", "Create", &json!({ "description": "no slug" }))
            .is_empty()
    );
    assert!(
        !contract::request_errors(
            "pipeline-coupling",
            "Create",
            &json!({ "app": "a", "pipeline": canned::PIPELINE_ID, "stage": "prod" })
        )
        .is_empty()
    );
}

#[test]
fn canned_answers_match_the_schema() {
    for (definition, body) in [
        ("app", canned::app("example", "cedar")),
        ("release", canned::release(3, "succeeded", true)),
        ("slug", canned::slug("https://example.invalid/blob")),
        ("pipeline", canned::pipeline("example-pipeline")),
        ("pipeline-coupling", canned::coupling("staging")),
        ("pipeline-promotion", canned::promotion()),
        (
            "pipeline-promotion-target",
            canned::target("failed", Some("boom")),
        ),
    ] {
        let errors = contract::resource_errors(definition, &body);
        assert!(errors.is_empty(), "{definition}: {errors:?}");
    }
    assert!(!contract::resource_errors("release", &json!({ "version": "three" })).is_empty());
}

/// An error as a user could ever see it: its message, its `Debug`, and miette's report.
fn render(err: PlatformError) -> String {
    let plain = render_ref(&err);
    format!("{plain}\n{:?}", miette::Report::new(err))
}

fn render_ref(err: &PlatformError) -> String {
    format!("{err}\n{err:?}")
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_token_never_appears_in_errors_or_traces() {
    let traces = Captured::default();
    let writer = traces.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut shown = Vec::new();
    runtime.block_on(async {
        let api = FakeApi::start(|seen: &Seen, index| match seen.segments().as_slice() {
            ["apps", "unauthorized"] => {
                Reply::error(401, "unauthorized", "Invalid credentials provided.")
            }
            ["apps", "forbidden"] => Reply::error(403, "forbidden", "You do not have access."),
            ["apps", "missing"] => Reply::error(404, "not_found", "Couldn't find that app."),
            ["apps", "limited"] => Reply::error(429, "rate_limit", "Slow down."),
            ["apps", "broken"] => Reply::error(503, "unavailable", "Down."),
            ["apps", "garbled"] => Reply::json(200, &json!({ "not": "an app" })),
            ["apps", _, "releases"] => {
                Reply::error(422, "invalid_params", "Slug not compatible with stack.")
            }
            ["pipeline-couplings"] => Reply::error(409, "conflict", "Already coupled."),
            ["blobs", _] => Reply::error(403, "forbidden", "Request has expired"),
            _ => canned::heroku(seen, index),
        })
        .await;
        let heroku = HerokuPlatform::with_config(
            config(&api.url, Duration::from_millis(20)),
            Token::new(TOKEN),
        )
        .unwrap();
        shown.push(format!("{heroku:?}"));
        for app in [
            "unauthorized",
            "forbidden",
            "missing",
            "limited",
            "broken",
            "garbled",
        ] {
            shown.push(render(heroku.app(app).await.unwrap_err()));
        }
        let err = heroku
            .create_release("example", canned::SLUG_ID, "x")
            .await
            .unwrap_err();
        shown.push(render(err));
        let err = heroku
            .create_coupling("example", canned::PIPELINE_ID, "staging")
            .await
            .unwrap_err();
        shown.push(render(err));
        let temp = tempfile::tempdir().unwrap();
        let (path, _) = slug_file(temp.path(), 10);
        let target = BlobTarget {
            method: "put".into(),
            url: format!("{}/blobs/x?X-Amz-Signature=sig", api.url),
        };
        let err = heroku
            .upload_blob(&target, &path, &Progress::default())
            .await
            .unwrap_err();
        assert!(
            !render_ref(&err).contains("X-Amz-Signature"),
            "the signature stays out of messages: {err}"
        );
        shown.push(render(err));
        let err = heroku
            .upload_blob(
                &target,
                &temp.path().join("absent.tgz"),
                &Progress::default(),
            )
            .await
            .unwrap_err();
        shown.push(render(err));
        assert!(
            api.seen()
                .iter()
                .any(|s| s.header("authorization") == Some(&format!("Bearer {TOKEN}")))
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let offline =
            HerokuPlatform::with_config(config(&url, Duration::from_millis(10)), Token::new(TOKEN))
                .unwrap();
        let err = offline.app("example").await.unwrap_err();
        shown.push(render(err));
    });
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".netrc"),
        format!("machine api.heroku.com password {TOKEN} {TOKEN}\n"),
    )
    .unwrap();
    let err = Token::resolve(None, Some(home.path()), "api.heroku.com").unwrap_err();
    shown.push(format!("{:?}", miette::Report::new(err)));
    let err = Token::resolve(None, Some(&home.path().join("none")), "api.heroku.com").unwrap_err();
    shown.push(format!("{:?}", miette::Report::new(err)));

    let traces = String::from_utf8(traces.0.lock().unwrap().clone()).unwrap();
    assert!(
        traces.contains("heroku api"),
        "the client's traces were captured: {traces}"
    );
    assert!(
        !traces.contains("X-Amz-Signature"),
        "blob signatures stay out of traces: {traces}"
    );
    let all = format!("{}\n{traces}", shown.join("\n"));
    assert_eq!(shown.len(), 14, "every error path ran");
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    assert!(
        !all.contains("do-not-print"),
        "part of the token leaked:\n{all}"
    );
}
