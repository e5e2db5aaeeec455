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

#[tokio::test]
async fn a_slug_archive_over_the_limit_is_refused_unstored() {
    let server = Server::start(&["--max-blob-size", "1M"]);
    let api = server.api();
    let slug = api.demo_slug_without_archive().await;
    let url = slug["blob"]["url"].as_str().unwrap();
    let put = reqwest::Client::new()
        .put(url)
        .body(vec![0u8; 3 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = put.json().await.unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&body).unwrap(), @r#"
    {
      "id": "payload_too_large",
      "message": "the slug archive has 3145728 bytes, more than this server takes (1000000 bytes, `slugplan server --max-blob-size`)"
    }
    "#);
    let tmp = server.data.join("blobs/tmp");
    let kept = std::fs::read_dir(&tmp).map_or(0, Iterator::count);
    assert_eq!(kept, 0, "nothing of the refused upload was stored");

    // Exactly the limit is taken.
    let put = reqwest::Client::new()
        .put(url)
        .body(vec![0u8; 1_000_000])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_upload_killed_with_the_server_leaves_no_temp_file_once_the_platform_opens() {
    use tokio::io::AsyncWriteExt;
    let mut server = Server::start(&[]);
    let api = server.api();
    let slug = api.demo_slug_without_archive().await;
    let url = url::Url::parse(slug["blob"]["url"].as_str().unwrap()).unwrap();
    // An upload that sends half its announced bytes, then waits.
    let mut upload = tokio::net::TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        url.path(),
        url.authority(),
        2 << 20
    );
    upload.write_all(head.as_bytes()).await.unwrap();
    upload.write_all(&vec![0u8; 1 << 20]).await.unwrap();
    let tmp = server.data.join("blobs/tmp");
    let uploads = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect()
    };
    // Bytes in the file: its writer holds its lock (taken before the first byte is written).
    let written = || {
        uploads()
            .iter()
            .filter_map(|p| p.metadata().ok())
            .any(|m| m.len() > 0)
    };
    let start = std::time::Instant::now();
    while !written() {
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Long untouched, as if the client had stalled for an hour: a live upload still.
    let partial = uploads().remove(0);
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let age = |path: &std::path::Path| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
    };
    age(&partial);
    slugplan::platform::local::LocalPlatform::open(&server.data).unwrap();
    assert_eq!(
        uploads(),
        std::slice::from_ref(&partial),
        "a live upload is never removed"
    );

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    age(&partial);
    assert_eq!(uploads(), [partial], "kill -9 leaves the temp file");
    slugplan::platform::local::LocalPlatform::open(&server.data).unwrap();
    assert!(
        uploads().is_empty(),
        "the dead upload's temp file is removed"
    );
}

#[test]
fn apply_through_a_server_a_slug_is_too_large_for_fails_once_with_its_answer() {
    use crate::common::project::{Project, count};
    use crate::common::slugplan_snapshot;
    let p = Project::served(&["--max-blob-size", "4K"]);
    // Hashes do not compress: the slug is larger than 4 KiB, and the same on every run.
    let noise: Vec<u8> = (0u32..2048)
        .flat_map(|i| <sha2::Sha256 as sha2::Digest>::digest(i.to_le_bytes()))
        .collect();
    p.ctx.write("app/noise.bin", noise);
    p.ctx.write(
        "slug.toml",
        format!(
            "{}[slugs.web]\nsource = \"app\"\nprocess_types = {{ web = \"cat noise.bin\" }}\n\n[apps.big]\nslug = \"web\"\ncreate = true\n",
            p.platform_table()
        ),
    );
    slugplan_snapshot!(p.filters(), p.command(&["-q", "apply", "--yes"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × 1 step failed: upload.web→big
      help: fix the cause and run `slugplan apply` again: finished steps are not redone

      × upload.web→big: uploading the archive
      ╰─▶   × platform error 413 (payload_too_large): the slug archive has 65744 bytes, more than this server takes (4000 bytes, `slugplan server --max-blob-size`) (request id [UUID])
    ");
    let puts = count(&p.requests(), "PUT", |path| path.starts_with("/blobs/"));
    assert_eq!(puts, 1, "a refusal is final: the upload is not repeated");
}
