//! A tiny HTTP/1.1 server on 127.0.0.1 for download tests: serves fixed bodies and can fail
//! the first requests with 500, cut the body short, or send it slowly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How one path answers.
#[derive(Clone, Default)]
pub struct Route {
    /// The body served on success.
    pub body: Vec<u8>,
    /// The first this many requests get `500 Internal Server Error`.
    pub fail_first: usize,
    /// The next this many requests announce the full length, send half, and hang up.
    pub truncate_first: usize,
    /// Pause between 64 KiB pieces of the body (to make concurrent fetches overlap).
    pub pace: Option<Duration>,
}

impl Route {
    /// Serves the bytes of the file at `path`.
    pub fn file(path: &std::path::Path) -> Route {
        Route {
            body: std::fs::read(path).expect("read the archive to serve"),
            ..Route::default()
        }
    }
}

/// A running server; it lives until the test process ends.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    /// Starts serving `routes` (path → route); other paths get 404.
    pub fn start(routes: Vec<(&str, Route)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<HashMap<String, Route>> =
            Arc::new(routes.into_iter().map(|(p, r)| (p.to_owned(), r)).collect());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, counter) = (routes.clone(), counter.clone());
                std::thread::spawn(move || handle(stream, &routes, &counter));
            }
        });
        Server { base, hits }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn handle(
    stream: TcpStream,
    routes: &HashMap<String, Route>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let n = {
        let mut hits = hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let mut out = stream;
    let Some(route) = routes.get(&path) else {
        let _ = out
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    if n <= route.fail_first {
        let _ = out.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops",
        );
        return;
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        route.body.len()
    );
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let body: &[u8] = if n <= route.fail_first + route.truncate_first {
        &route.body[..route.body.len() / 2]
    } else {
        &route.body
    };
    for piece in body.chunks(64 * 1024) {
        if out.write_all(piece).is_err() {
            return;
        }
        if let Some(pace) = route.pace {
            std::thread::sleep(pace);
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}
