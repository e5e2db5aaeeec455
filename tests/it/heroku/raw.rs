//! Servers that misbehave below HTTP: a connection dropped after the request went out, a blob
//! store that swallows bytes and never answers. They show what the client retries when it cannot
//! know whether the platform acted.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slugplan::platform::heroku::{HerokuPlatform, Token};
use slugplan::platform::{BlobTarget, Platform};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Progress, TOKEN, canned, client, config, slug_file};
use crate::common::render;

/// Accepts connections on 127.0.0.1 and hands each, with its index, to `serve`; returns the
/// base URL and a count of connections.
async fn raw_server<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let index = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(socket, index));
        }
    });
    (url, connections)
}

/// Reads one whole request and returns its first line; None when the client went away first.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    while !complete_request(&request) {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    Some(text.lines().next().unwrap_or_default().to_owned())
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

/// The first `drops` connections read the whole request and close without answering (the
/// platform may or may not have acted); later ones answer a list of releases whose newest is
/// release 3 of the canned slug (`Deploy v3`) to `GET …/releases`, and an app to anything else.
/// Also returns each request's first line, in order.
async fn dropping_server(drops: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let (url, _) = raw_server(move |mut socket, index| {
        let seen = seen.clone();
        async move {
            let Some(line) = read_request(&mut socket).await else {
                return;
            };
            seen.lock().unwrap().push(line.clone());
            if index < drops {
                return;
            }
            let body = if line.starts_with("GET /apps/example/releases ") {
                serde_json::json!([canned::release(3, "pending", false)]).to_string()
            } else {
                canned::app("example", "cedar").to_string()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
        }
    })
    .await;
    (url, lines)
}

#[tokio::test]
async fn a_connection_dropped_after_sending_is_retried_only_when_repeating_is_harmless() {
    let (url, lines) = dropping_server(1).await;
    assert_eq!(client(&url).app("example").await.unwrap().name, "example");
    assert_eq!(lines.lock().unwrap().len(), 2, "the read was retried");

    // The release may have been made: it is read back, found, and not sent again.
    let (url, lines) = dropping_server(1).await;
    let release = client(&url)
        .create_release("example", canned::SLUG_ID, "Deploy v3")
        .await
        .unwrap();
    assert_eq!(release.version, 3);
    let lines = lines.lock().unwrap().clone();
    assert_eq!(
        lines,
        [
            "POST /apps/example/releases HTTP/1.1",
            "GET /apps/example/releases HTTP/1.1"
        ],
        "the release was not sent twice"
    );
}

#[tokio::test]
async fn a_stalled_upload_is_abandoned_and_retried() {
    // A blob store that takes the bytes and never answers.
    let (base, connections) = raw_server(|mut socket, _| async move {
        let mut buf = [0u8; 8192];
        while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    let url = format!("{base}/blobs/x");
    let mut config = config(&url, Duration::from_millis(1500));
    config.request_timeout = Duration::from_millis(100);
    let heroku = HerokuPlatform::with_config(config, Token::new(TOKEN)).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let (path, _) = slug_file(temp.path(), 10_000);
    let target = BlobTarget {
        method: "put".into(),
        url: url.clone(),
    };
    let err = heroku
        .upload_blob(&target, &path, &Progress::default())
        .await
        .unwrap_err();
    let chain = render(&err).replace(&url, "[BLOB_URL]");
    insta::assert_snapshot!(chain, @"
    × cannot reach the platform at [BLOB_URL]
    ╰─▶ the upload made no progress for 0.1 s
    ");
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "the upload was retried"
    );
}

#[tokio::test]
async fn an_upload_that_trickles_ends_at_the_upload_timeout() {
    // A blob store that reads a little every few milliseconds: never still, never done.
    let (base, _) = raw_server(|mut socket, _| async move {
        let mut buf = [0u8; 1024];
        while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let url = format!("{base}/blobs/x");
    let mut config = config(&url, Duration::ZERO);
    config.upload_timeout = Duration::from_millis(800);
    let heroku = HerokuPlatform::with_config(config, Token::new(TOKEN)).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let (path, _) = slug_file(temp.path(), 64 << 20);
    let target = BlobTarget {
        method: "put".into(),
        url: url.clone(),
    };
    let started = std::time::Instant::now();
    let err = heroku
        .upload_blob(&target, &path, &Progress::default())
        .await
        .unwrap_err();
    let took = started.elapsed();
    let chain = render(&err).replace(&url, "[BLOB_URL]");
    insta::assert_snapshot!(chain, @"
    × cannot reach the platform at [BLOB_URL]
    ╰─▶ the upload did not finish within 0.8 s
    ");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
