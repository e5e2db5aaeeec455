//! Download routes for the runtime tests, answered by the shared scripted fake: fixed bodies,
//! and on request the first answers failing with `500`, cut off halfway, sent slowly, or a
//! body that never ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::common::http::{FakeServer, Reply};

/// How one path answers.
#[derive(Clone, Default)]
pub struct Route {
    /// The body served on success.
    pub body: Vec<u8>,
    /// The first this many requests get `500 Internal Server Error`.
    pub fail_first: usize,
    /// The next this many requests announce the full length, send half, and hang up.
    pub truncate_first: usize,
    /// Pause between 64 KiB pieces of the body (to make concurrent fetches overlap), or
    /// between repetitions of an endless body.
    pub pace: Option<Duration>,
    /// Send the body again and again without a `Content-Length`, forever.
    pub endless: bool,
}

impl Route {
    /// Serves the bytes of the file at `path`.
    pub fn file(path: &std::path::Path) -> Route {
        Route {
            body: std::fs::read(path).expect("read the archive to serve"),
            ..Route::default()
        }
    }

    /// Serves `body` again and again without a `Content-Length`, `pace` between repetitions.
    pub fn endless(body: Vec<u8>, pace: Option<Duration>) -> Route {
        Route {
            body,
            pace,
            endless: true,
            ..Route::default()
        }
    }

    /// The answer to this route's `n`th request (from 1).
    fn reply(&self, n: usize) -> Reply {
        if n <= self.fail_first {
            return Reply::bytes(500, "oops");
        }
        let mut reply =
            Reply::bytes(200, self.body.clone()).header("content-type", "application/octet-stream");
        if n <= self.fail_first + self.truncate_first {
            reply = reply.truncated();
        }
        if let Some(pace) = self.pace {
            reply = reply.paced(pace);
        }
        if self.endless {
            reply = reply.endless();
        }
        reply
    }
}

/// Starts serving `routes` (path → route); other paths get `404`.
pub fn serve(routes: Vec<(&str, Route)>) -> FakeServer {
    let routes: HashMap<String, Route> =
        routes.into_iter().map(|(p, r)| (p.to_owned(), r)).collect();
    let hits = Mutex::new(HashMap::<String, usize>::new());
    FakeServer::start(move |seen, _| {
        let n = {
            let mut hits = hits.lock().unwrap();
            let n = hits.entry(seen.path.clone()).or_insert(0);
            *n += 1;
            *n
        };
        match routes.get(&seen.path) {
            Some(route) => route.reply(n),
            None => Reply::bytes(404, ""),
        }
    })
}
