//! Integration tests: the router on a real local platform's apps and ports, in front of
//! stand-in web dynos (real HTTP servers on 127.0.0.1) that a test [`WebDynos`] points it at.

mod stand_in;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;
use slugplan::dynos::{AppLogs, WebState};
use slugplan::platform::Generation;
use slugplan::platform::local::{AppChanges, LocalPlatform, web_url};
use slugplan::router::{Router, RouterConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use stand_in::{Dynos, StandIn, dead, hangs_up};

/// A local platform with apps, its router, and the dynos the router is told about.
struct Setup {
    temp: tempfile::TempDir,
    platform: LocalPlatform,
    dynos: Arc<Dynos>,
    router: Router,
    client: reqwest::Client,
}

impl Setup {
    async fn new(apps: &[&str], config: RouterConfig) -> Setup {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("platform");
        let platform = LocalPlatform::open(&data).unwrap();
        for app in apps {
            platform
                .store()
                .create_app(app, "heroku-24", Generation::Cedar)
                .unwrap();
        }
        let dynos = Arc::new(Dynos::default());
        let router = Router::start(
            platform.clone(),
            dynos.clone(),
            AppLogs::open(&data),
            config,
        )
        .await
        .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Setup {
            temp,
            platform,
            dynos,
            router,
            client,
        }
    }

    fn port(&self, app: &str) -> u16 {
        self.platform.store().app(app).unwrap().web_port
    }

    /// `app`'s `web_url` joined with `path` (no leading `/`).
    fn url(&self, app: &str, path: &str) -> String {
        format!("{}{path}", web_url(self.port(app)))
    }

    async fn get(&self, app: &str, path: &str) -> (u16, String) {
        let response = self.client.get(self.url(app, path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// The router's lines in `app`'s log, once there are at least `count` (bounded wait: a
    /// line is written as its response ends).
    async fn router_lines(&self, app: &str, count: usize) -> Vec<String> {
        let path = self
            .temp
            .path()
            .join("platform/logs")
            .join(format!("{app}.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines: Vec<String> = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(" heroku[router]: "))
                .map(str::to_owned)
                .collect();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The message of a log line (what follows `heroku[router]: `).
fn message(line: &str) -> &str {
    line.split_once(" heroku[router]: ")
        .map_or(line, |(_, m)| m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_to_a_web_dyno_with_herokus_headers_and_logs_herokus_line() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    let dyno = StandIn::start("hello").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![dyno.web("web.1")]));
    let port = setup.port("shop");
    let before = jiff::Timestamp::now().as_millisecond();
    let id = "client-request-id-0123456789";
    let response = setup
        .client
        .get(setup.url("shop", "headers?q=1"))
        .header("x-request-id", id)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["via"], "1.1 slugplan");
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-port"], port.to_string());
    assert_eq!(seen["x-request-id"], id);
    assert_eq!(seen["host"], format!("127.0.0.1:{port}"));
    assert_eq!(seen["via"], "1.1 slugplan");
    let start: i64 = seen["x-request-start"].as_str().unwrap().parse().unwrap();
    let after = jiff::Timestamp::now().as_millisecond();
    assert!(
        (before..=after).contains(&start),
        "{before} <= {start} <= {after}"
    );

    // A request id Heroku would not keep is replaced by a UUID.
    let seen: Value = setup
        .client
        .get(setup.url("shop", "headers"))
        .header("x-request-id", "short")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_id = seen["x-request-id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(new_id).is_ok(), "{new_id}");

    let lines = setup.router_lines("shop", 2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let stamp =
        Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 heroku\[router\]: ").unwrap();
    assert!(stamp.is_match(&lines[0]), "{}", lines[0]);
    let expected = Regex::new(&format!(
        r#"^at=info method=GET path="/headers\?q=1" host=127\.0\.0\.1:{port} request_id={id} fwd="203\.0\.113\.9, 127\.0\.0\.1" dyno=web\.1 connect=\d+ms service=\d+ms status=200 bytes=\d+ protocol=http$"#
    ))
    .unwrap();
    assert!(expected.is_match(message(&lines[0])), "{}", lines[0]);
    assert!(
        message(&lines[1]).contains(&format!("request_id={new_id} ")),
        "{}",
        lines[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_take_turns_over_the_up_web_dynos() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    let one = StandIn::start("one").await;
    let two = StandIn::start("two").await;
    setup.dynos.set(
        "shop",
        WebState::Up(vec![one.web("web.1"), two.web("web.2")]),
    );
    let mut answers = Vec::new();
    for _ in 0..6 {
        let (status, body) = setup.get("shop", "").await;
        assert_eq!(status, 200);
        answers.push(body);
    }
    for pair in answers.windows(2) {
        assert_ne!(pair[0], pair[1], "{answers:?}");
    }
    assert_eq!(
        answers.iter().filter(|a| *a == "one").count(),
        3,
        "{answers:?}"
    );
    let lines = setup.router_lines("shop", 6).await;
    let dynos: Vec<bool> = lines.iter().map(|l| l.contains(" dyno=web.1 ")).collect();
    assert_eq!(dynos.iter().filter(|d| **d).count(), 3, "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_web_dyno_is_h14_and_crashed_dynos_are_h10() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    // Unknown to the supervisor, then no web dynos, then crashed.
    for (state, code) in [
        (None, "H14 - No web processes running"),
        (Some(WebState::NoWebDynos), "H14 - No web processes running"),
        (
            Some(WebState::Up(Vec::new())),
            "H14 - No web processes running",
        ),
        (Some(WebState::Crashed), "H10 - App crashed"),
    ] {
        if let Some(state) = state {
            setup.dynos.set("shop", state);
        }
        let response = setup
            .client
            .get(setup.url("shop", ""))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("<h1>Application error</h1>"), "{page}");
        assert!(page.contains(code), "{page}");
    }
    let lines = setup.router_lines("shop", 4).await;
    assert!(
        message(&lines[0]).starts_with(
            r#"at=error code=H14 desc="No web processes running" method=GET path="/" "#
        ),
        "{}",
        lines[0]
    );
    assert!(
        message(&lines[0]).ends_with(" dyno= connect= service= status=503 bytes= protocol=http"),
        "{}",
        lines[0]
    );
    assert!(
        message(&lines[3]).starts_with(r#"at=error code=H10 desc="App crashed" "#),
        "{}",
        lines[3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_in_maintenance_answers_herokus_maintenance_page() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    let dyno = StandIn::start("hello").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![dyno.web("web.1")]));
    let maintenance = |on| AppChanges {
        maintenance: Some(on),
        ..AppChanges::default()
    };
    setup
        .platform
        .store()
        .update_app("shop", &maintenance(true))
        .unwrap();
    setup.router.refresh().await.unwrap();
    let (status, page) = setup.get("shop", "").await;
    assert_eq!(status, 503);
    assert!(
        page.contains("<title>Offline for Maintenance</title>"),
        "{page}"
    );
    assert!(
        page.contains("This app is undergoing maintenance right now."),
        "{page}"
    );

    setup
        .platform
        .store()
        .update_app("shop", &maintenance(false))
        .unwrap();
    setup.router.refresh().await.unwrap();
    assert_eq!(setup.get("shop", "").await, (200, "hello".to_owned()));
    let lines = setup.router_lines("shop", 2).await;
    assert!(
        message(&lines[0]).starts_with(r#"at=info code=H80 desc="Maintenance mode" "#),
        "{}",
        lines[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dyno_that_never_got_the_request_passes_it_on() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    let alive = StandIn::start("alive").await;
    // A dead port first: every request still reaches the live dyno.
    setup.dynos.set(
        "shop",
        WebState::Up(vec![dead("web.1").await, alive.web("web.2")]),
    );
    for _ in 0..4 {
        assert_eq!(setup.get("shop", "").await, (200, "alive".to_owned()));
    }
    // A dyno that reads a GET and hangs up: the GET is sent to the next one.
    let (rude, _task) = hangs_up("web.1").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![rude.clone(), alive.web("web.2")]));
    for _ in 0..4 {
        assert_eq!(setup.get("shop", "").await, (200, "alive".to_owned()));
    }
    // A POST it received is not sent again: H13.
    setup.dynos.set("shop", WebState::Up(vec![rude]));
    let response = setup
        .client
        .post(setup.url("shop", "echo"))
        .body("order=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("H13 - Connection closed without response")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_response_bodies_stream_through() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    let dyno = StandIn::start("hello").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![dyno.web("web.1")]));
    let body: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let response = setup
        .client
        .post(setup.url("shop", "echo"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap() == body);
    let lines = setup.router_lines("shop", 1).await;
    assert!(
        message(&lines[0]).contains(&format!(" status=200 bytes={} ", body.len())),
        "{}",
        lines[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waits_for_booting_dynos_up_to_the_boot_timeout() {
    let config = RouterConfig {
        boot_timeout: Duration::from_secs(1),
        ..RouterConfig::default()
    };
    let setup = Setup::new(&["shop"], config).await;
    let dyno = StandIn::start("booted").await;
    setup.dynos.set("shop", WebState::Starting);
    let dynos = setup.dynos.clone();
    let web = dyno.web("web.1");
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dynos.set("shop", WebState::Up(vec![web]));
    });
    assert_eq!(setup.get("shop", "").await, (200, "booted".to_owned()));

    setup.dynos.set("shop", WebState::Starting);
    let started = Instant::now();
    let (status, page) = setup.get("shop", "").await;
    assert_eq!(status, 503);
    assert!(page.contains("H20 - App boot timeout"), "{page}");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dyno_is_h12_and_a_stalled_body_is_h15() {
    let config = RouterConfig {
        response_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..RouterConfig::default()
    };
    let setup = Setup::new(&["shop"], config).await;
    let dyno = StandIn::start("hello").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![dyno.web("web.1")]));
    let (status, page) = setup.get("shop", "slow").await;
    assert_eq!(status, 503);
    assert!(page.contains("H12 - Request timeout"), "{page}");

    // The status was sent already; the body breaks off.
    let response = setup
        .client
        .get(setup.url("shop", "stall"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
    let lines = setup.router_lines("shop", 2).await;
    assert!(
        message(&lines[0]).starts_with("at=error code=H12 "),
        "{}",
        lines[0]
    );
    assert!(
        message(&lines[1]).starts_with("at=error code=H15 "),
        "{}",
        lines[1]
    );
    assert!(message(&lines[1]).contains(" dyno=web.1 "), "{}", lines[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_dynos_loses_no_request() {
    let setup = Arc::new(Setup::new(&["shop"], RouterConfig::default()).await);
    let old = StandIn::start("old").await;
    let new = StandIn::start("new").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![old.web("web.1")]));
    let deadline = Instant::now() + Duration::from_millis(1500);
    let pollers: Vec<_> = (0..4)
        .map(|_| {
            let setup = setup.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while Instant::now() < deadline {
                    answers.push(setup.get("shop", "work").await);
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // As the supervisor does: the new dyno is up and routed to, then the old one is killed,
    // whatever it was in the middle of.
    setup
        .dynos
        .set("shop", WebState::Up(vec![new.web("web.1")]));
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(old);
    let mut seen_old = false;
    for poller in pollers {
        let answers = poller.await.unwrap();
        assert!(
            answers.iter().all(|(status, _)| *status == 200),
            "{answers:?}"
        );
        let first_new = answers.iter().position(|(_, body)| body == "new");
        let first_new = first_new.expect("the new dyno answered");
        assert!(
            answers[first_new..].iter().all(|(_, body)| body == "new"),
            "{answers:?}"
        );
        seen_old |= first_new > 0;
    }
    assert!(seen_old, "the old dyno answered first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_follows_apps_created_renamed_and_deleted() {
    let setup = Setup::new(&[], RouterConfig::default()).await;
    let dyno = StandIn::start("hello").await;
    setup
        .platform
        .store()
        .create_app("later", "heroku-24", Generation::Cedar)
        .unwrap();
    setup
        .dynos
        .set("later", WebState::Up(vec![dyno.web("web.1")]));
    // Found by the periodic refresh, with no call.
    let deadline = Instant::now() + Duration::from_secs(10);
    while setup
        .client
        .get(setup.url("later", ""))
        .send()
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the router never listened for the app"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(setup.get("later", "").await, (200, "hello".to_owned()));
    let port = setup.port("later");
    assert_eq!(
        setup.router.addrs().await.get("later").map(|a| a.port()),
        Some(port)
    );

    // Renamed: the same port, the new name's dynos and log.
    let renamed = AppChanges {
        name: Some("renamed".to_owned()),
        ..AppChanges::default()
    };
    setup
        .platform
        .store()
        .update_app("later", &renamed)
        .unwrap();
    setup.router.changed();
    setup.router.refresh().await.unwrap();
    assert_eq!(setup.port("renamed"), port);
    assert_eq!(
        setup.get("renamed", "").await.0,
        503,
        "no dynos known as renamed yet"
    );
    assert_eq!(setup.router_lines("renamed", 1).await.len(), 1);

    // Deleted: a connection still open is told there is no such app; nothing listens any
    // more for a new one.
    setup.platform.store().delete_app("renamed").unwrap();
    setup.router.refresh().await.unwrap();
    let url = web_url(port);
    let response = setup.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("No app answers on this address")
    );
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh.get(&url).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_another_process_holds_is_moved() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("platform");
    let platform = LocalPlatform::open(&data).unwrap();
    let port = platform
        .store()
        .create_app("shop", "heroku-24", Generation::Cedar)
        .unwrap()
        .web_port;
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let _router = Router::start(
        platform.clone(),
        Arc::new(Dynos::default()),
        AppLogs::open(&data),
        RouterConfig::default(),
    )
    .await
    .unwrap();
    let moved = platform.store().app("shop").unwrap().web_port;
    assert_ne!(moved, port);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client.get(web_url(moved)).send().await.unwrap();
    assert_eq!(response.status(), 503, "H14: no dynos");
    assert_logs_dir_is(&data, "shop");
}

/// `data`'s log directory holds `app`'s log.
fn assert_logs_dir_is(data: &Path, app: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !data.join("logs").join(format!("{app}.log")).exists() {
        assert!(Instant::now() < deadline, "no log for {app}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_is_relayed_both_ways() {
    let setup = Setup::new(&["shop"], RouterConfig::default()).await;
    let dyno = StandIn::start("hello").await;
    setup
        .dynos
        .set("shop", WebState::Up(vec![dyno.web("web.1")]));
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", setup.port("shop")))
        .await
        .unwrap();
    stream
        .write_all(
            b"GET /upgrade HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo"),
        "{head}"
    );
    stream.write_all(b"ping").await.unwrap();
    let mut echoed = [0; 4];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping");
    let lines = setup.router_lines("shop", 1).await;
    assert!(message(&lines[0]).contains(" status=101 "), "{}", lines[0]);
}
