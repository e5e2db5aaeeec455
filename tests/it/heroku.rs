//! The Heroku API client against loopback servers: headers, paging, retries, throttling, blob
//! uploads, token secrecy, and every request body checked against the official schema.

mod canned;
mod contract;
mod raw;
mod reconcile;
mod resume;
mod secrecy;
mod server;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use slugplan::platform::heroku::{
    HerokuConfig, HerokuPlatform, RetryPolicy, ThrottlePolicy, Token,
};
use slugplan::platform::{BlobTarget, NewSlug, Platform, PlatformError, UploadProgress};

use crate::common::http::{FakeServer, Reply, Seen};

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

/// A client that gives up retrying after `max_elapsed_ms`.
fn impatient(url: &str, max_elapsed_ms: u64) -> HerokuPlatform {
    let config = config(url, Duration::from_millis(max_elapsed_ms));
    HerokuPlatform::with_config(config, Token::new(TOKEN)).unwrap()
}

/// The URL of a loopback port nobody listens on: connections are refused.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
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
    let api = FakeServer::start(canned::heroku);
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
    let api = FakeServer::start(canned::heroku);
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
    let api = FakeServer::start(|_: &Seen, index| {
        if index == 0 {
            Reply::error(503, "unavailable", "try again")
        } else {
            Reply::ok()
        }
    });
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
    let api = FakeServer::start(paged_releases(30, 10, Some(30)));
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
async fn current_release_reads_only_as_many_pages_as_it_needs() {
    // (releases, which one runs, pages read): v40 is newest, but what runs may be older (the
    // newer ones failed or are pending); a fresh app has none.
    for (total, running, pages) in [(40, Some(38), 1), (40, Some(15), 3), (0, None, 1)] {
        let api = FakeServer::start(paged_releases(total, 10, running));
        let current = client(&api.url).current_release("example").await.unwrap();
        assert_eq!(current.map(|r| r.version), running);
        let seen = api.seen();
        assert_eq!(seen.len(), pages, "not the whole history");
        assert_eq!(
            seen[0].header("range"),
            Some("version ..; order=desc, max=10")
        );
    }
}

#[tokio::test]
async fn rate_limit_answers_are_retried_until_success() {
    let api = FakeServer::start(|seen: &Seen, index| {
        if index < 2 {
            Reply::error(429, "rate_limit", "Your account reached the API rate limit")
        } else {
            canned::heroku(seen, index)
        }
    });
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
async fn server_errors_are_retried_on_reads_and_read_back_on_releases() {
    let api = FakeServer::start(|seen: &Seen, index| {
        if index == 0 || (seen.method == "POST" && index == 2) {
            Reply::error(500, "internal_server_error", "Internal server error")
        } else {
            canned::heroku(seen, index)
        }
    });
    let heroku = client(&api.url);
    assert_eq!(heroku.app("example").await.unwrap().name, "example");
    assert_eq!(api.seen().len(), 2);

    // The release may have been made: the newest release says it was not (it is v3's own
    // `Deploy v3`, not this one), so it is sent again.
    let release = heroku
        .create_release("example", canned::SLUG_ID, "Deploy")
        .await
        .unwrap();
    assert_eq!(release.version, 3);
    let methods: Vec<String> = api.seen()[2..]
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        methods,
        [
            "POST /apps/example/releases",
            "GET /apps/example/releases",
            "POST /apps/example/releases"
        ]
    );
}

#[tokio::test]
async fn delete_app_is_the_schemas_app_delete_retried_and_done_once_the_app_is_gone() {
    let api = FakeServer::start(|seen: &Seen, index| match index {
        0 => Reply::error(503, "unavailable", "Service unavailable"),
        1 => Reply::json(200, &canned::app("web-old", "cedar")),
        // A repeated delete after a lost answer: the app is gone, as asked.
        _ => Reply::error(
            404,
            "not_found",
            &format!("Couldn't find that app: {}", seen.path),
        ),
    });
    let heroku = client(&api.url);
    heroku.delete_app("web-old").await.unwrap();
    heroku.delete_app("web-old").await.unwrap();
    let seen = api.seen();
    let calls: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(calls, [("DELETE", "/apps/web-old"); 3]);
    let link = contract::link("app", "Delete");
    assert_eq!(link["method"], "DELETE");
    assert!(contract::href_matches(link, "/apps/web-old"));
}

#[tokio::test]
async fn gives_up_after_the_retry_time_naming_the_last_request_id() {
    for (status, id) in [(503, "unavailable"), (429, "rate_limit")] {
        let api = FakeServer::start(move |_: &Seen, _| Reply::error(status, id, "not now"));
        let heroku = impatient(&api.url, 300);
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
    let url = refusing_url();
    let heroku = impatient(&url, 300);
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

#[tokio::test]
async fn slows_down_when_rate_limit_remaining_runs_low() {
    let remaining = Arc::new(Mutex::new("4000"));
    let answer = remaining.clone();
    let api = FakeServer::start(move |seen: &Seen, index| {
        let value = *answer.lock().unwrap();
        canned::heroku(seen, index).header("ratelimit-remaining", value)
    });
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
    let api = FakeServer::start(|_: &Seen, _| {
        Reply::error(404, "not_found", "Couldn't find that pipeline coupling.")
    });
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
    let api = FakeServer::start(canned::heroku);
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

/// A platform error while planning names what was being read, so the app it concerns is
/// known (issue 15, point 5): not only "reading the apps from <platform>".
#[test]
fn a_failed_read_while_planning_names_the_app() {
    let api = FakeServer::start(|seen: &Seen, _| {
        match (seen.method.as_str(), seen.segments().as_slice()) {
            ("GET", ["account", "rate-limits"]) => Reply::json(200, &json!({"remaining": 4500})),
            ("GET", ["apps", "shop-web", "releases"]) => Reply::error(
                403,
                "forbidden",
                "You do not have access to the app shop-web.",
            ),
            _ => Reply::error(404, "not_found", "Couldn't find that resource."),
        }
    });
    let mut ctx = crate::common::TestContext::new();
    ctx.add_filter(regex::escape(&api.url), "[API]");
    ctx.write("web/web.js", "console.log('hi')\n");
    ctx.write(
        "slug.toml",
        format!(
            "[platform]\nkind = \"heroku\"\napi_url = \"{}\"\n\n[slugs.web]\nsource = \"web\"\n\n\
             [apps.shop-web]\nslug = \"web\"\n",
            api.url
        ),
    );
    let mut plan = ctx.slugplan(&["plan", "--no-build"]);
    plan.env("HEROKU_API_KEY", "test-token");
    crate::common::slugplan_snapshot!(ctx.filters(), plan, @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × cannot read app `shop-web`'s current release from [API]/
      ╰─▶   × unauthorized: You do not have access to the app shop-web. (request id req-1)
            help: set HEROKU_API_KEY to a token 127.0.0.1 accepts, or put one in ~/.netrc as `machine 127.0.0.1 login <email> password <token>`
    ");
}
