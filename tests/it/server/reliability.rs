//! Server tests for what reliability work leans on: fault flags, the rate limit, blob URL
//! checks, and crash safety under `kill -9`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::server::Server;

#[tokio::test]
async fn blob_urls_need_a_length_a_valid_token_and_time_left() {
    let server = Server::start(&[]);
    let api = server.api();
    let slug = api.demo_slug_without_archive().await;
    let url = slug["blob"]["url"].as_str().unwrap();
    let chunked = reqwest::Client::new()
        .put(url)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter([
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"chunked")),
        ])))
        .send()
        .await
        .unwrap();
    assert_eq!(chunked.status(), StatusCode::NOT_IMPLEMENTED);
    let forged = format!("{}/blobs/{}", server.url, "0".repeat(64));
    let forged = reqwest::Client::new()
        .put(forged)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let expiring = Server::start(&["--blob-url-ttl", "0"]);
    let api = expiring.api();
    let slug = api.demo_slug_without_archive().await;
    let put = reqwest::Client::new()
        .put(slug["blob"]["url"].as_str().unwrap())
        .body("late")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["id"], "expired");
}

/// Sends `n` plain requests and returns their statuses.
async fn statuses(server: &Server, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        let status = reqwest::get(format!("{}/account/rate-limits", server.url))
            .await
            .unwrap()
            .status();
        out.push(status.as_u16());
    }
    out
}

#[tokio::test]
async fn fault_flags_fire_on_every_nth_request() {
    let server = Server::start(&["--fault-429-every", "2"]);
    assert_eq!(statuses(&server, 4).await, [200, 429, 200, 429]);
    let server = Server::start(&["--fault-5xx-every", "3"]);
    assert_eq!(statuses(&server, 3).await, [200, 200, 503]);

    let server = Server::start(&["--fault-drop-body-every", "2"]);
    let get = || reqwest::get(format!("{}/account/rate-limits", server.url));
    assert!(get().await.unwrap().text().await.is_ok());
    let dropped = get().await.unwrap();
    assert_eq!(
        dropped.status(),
        StatusCode::OK,
        "the headers arrive before the drop"
    );
    assert!(dropped.bytes().await.is_err(), "the body must break off");

    let server = Server::start(&["--fault-latency-ms", "150"]);
    let started = std::time::Instant::now();
    assert_eq!(statuses(&server, 1).await, [200]);
    // A lower bound on an injected sleep: it cannot flake, however slow the machine.
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
}

#[tokio::test]
async fn injected_release_failures_show_as_failed_releases() {
    let server = Server::start(&["--fault-release-fail-every", "2"]);
    let api = server.api();
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api.upload_slug("demo", b"flaky", "heroku-24").await;
    let first = api.release("demo", &slug).await;
    let second = api.release("demo", &slug).await;
    assert_eq!(
        (&first["status"], &first["current"]),
        (&json!("succeeded"), &json!(true))
    );
    assert_eq!(
        (&second["status"], &second["current"]),
        (&json!("failed"), &json!(false))
    );
    assert_eq!(second["eligible_for_rollback"], false);
}

#[tokio::test]
async fn the_rate_limit_bucket_empties_into_429() {
    let server = Server::start(&["--rate-limit", "3", "--rate-limit-refill", "0"]);
    let api = server.api();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let answer = api.get("/apps").await;
        assert_eq!(answer.status, StatusCode::OK);
        let header = answer.headers["ratelimit-remaining"].to_str().unwrap();
        remaining.push(header.parse::<u64>().unwrap());
    }
    assert_eq!(remaining, [2, 1, 0]);
    let limited = api.get("/apps").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["id"], "rate_limit");
}

#[tokio::test]
async fn kill_9_mid_release_leaves_whole_releases_only() {
    let mut server = Server::start(&[]);
    let api = server.api();
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api.upload_slug("demo", b"crash", "heroku-24").await;
    let url = server.url.clone();
    let slug_id = slug["id"].clone();
    // Releases fire back to back until the server dies under them.
    let hammer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut made = 0u32;
        while client
            .post(format!("{url}/apps/demo/releases"))
            .json(&json!({ "slug": slug_id }))
            .send()
            .await
            .is_ok()
        {
            made += 1;
        }
        made
    });
    while api
        .get("/apps/demo/releases")
        .await
        .body
        .as_array()
        .unwrap()
        .len()
        < 5
    {
        tokio::task::yield_now().await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Requests go one after another, so 5 releases stored means at least 4 answers received;
    // the 5th answer may still have been on its way when the server died.
    assert!(hammer.await.unwrap() >= 4);

    use slugplan::platform::Platform;
    let local = slugplan::platform::local::LocalPlatform::open(&server.data).unwrap();
    let releases = local.releases("demo", 10_000).await.unwrap();
    let versions: Vec<u64> = releases.iter().map(|r| r.version).collect();
    let expected: Vec<u64> = (1..=releases.len() as u64).rev().collect();
    assert_eq!(versions, expected, "versions are contiguous");
    assert_eq!(releases.iter().filter(|r| r.current).count(), 1);
    assert!(releases[0].current, "the newest whole release is current");
    assert!(
        releases
            .iter()
            .all(|r| r.slug_id.as_deref() == slug["id"].as_str())
    );
}
