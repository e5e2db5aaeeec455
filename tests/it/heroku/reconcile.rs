//! Writes that must happen once, failing with an unknown outcome (a `5xx`, a reply cut off): the
//! client reads back whether each took effect and sends it again only if not; `Retry-After` is
//! honoured in both its forms; every failed attempt is told to the reporter with its number.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use slugplan::platform::heroku::{HerokuPlatform, NextStep, RetryEvent, RetryReporter, Token};
use slugplan::platform::{Platform, PlatformError};

use super::{TOKEN, canned, client, config};
use crate::common::http::{FakeServer, Reply, Seen};

/// `METHOD /path` of every request the server saw.
fn calls(api: &FakeServer) -> Vec<String> {
    api.seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect()
}

/// How many `POST`s went to `path`.
fn posts(api: &FakeServer, path: &str) -> usize {
    api.seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path == path)
        .count()
}

#[tokio::test]
async fn a_release_whose_reply_was_cut_off_is_read_back_not_made_twice() {
    let api = FakeServer::start(|seen: &Seen, index| match seen.method.as_str() {
        "POST" => Reply::json(201, &canned::release(3, "pending", false)).truncated(),
        _ => canned::heroku(seen, index),
    });
    let release = client(&api.url)
        .create_release("example", canned::SLUG_ID, "Deploy v3")
        .await
        .unwrap();
    assert_eq!(release.version, 3);
    assert_eq!(
        calls(&api),
        ["POST /apps/example/releases", "GET /apps/example/releases"]
    );
}

#[tokio::test]
async fn a_write_refused_with_503_whose_read_back_finds_nothing_is_sent_again() {
    // Each write fails once with 503; the reads find nothing of it.
    let api = FakeServer::start(|seen: &Seen, index| {
        let first_post = seen.method == "POST" && index % 3 == 0;
        match (seen.method.as_str(), seen.segments().as_slice()) {
            _ if first_post => Reply::error(503, "unavailable", "Try again"),
            ("GET", ["apps", _]) | ("GET", ["pipelines", _]) => {
                Reply::error(404, "not_found", "Couldn't find that.")
            }
            ("GET", ["apps", _, "pipeline-couplings"]) => {
                Reply::error(404, "not_found", "No coupling.")
            }
            _ => canned::heroku(seen, index),
        }
    });
    let heroku = client(&api.url);
    assert_eq!(
        heroku
            .create_app("example", "heroku-24")
            .await
            .unwrap()
            .name,
        "example"
    );
    assert_eq!(heroku.create_pipeline("web").await.unwrap().name, "web");
    let coupling = heroku
        .create_coupling("example", canned::PIPELINE_ID, "staging")
        .await
        .unwrap();
    assert_eq!(coupling.stage, "staging");
    assert_eq!(
        calls(&api),
        [
            "POST /apps",
            "GET /apps/example",
            "POST /apps",
            "POST /pipelines",
            "GET /pipelines/web",
            "POST /pipelines",
            "POST /pipeline-couplings",
            "GET /apps/example/pipeline-couplings",
            "POST /pipeline-couplings",
        ]
    );
}

#[tokio::test]
async fn writes_that_answered_500_but_took_effect_are_not_sent_again() {
    let api = FakeServer::start(|seen: &Seen, index| match seen.method.as_str() {
        "POST" => Reply::error(500, "internal_server_error", "Oops"),
        _ => canned::heroku(seen, index),
    });
    let heroku = client(&api.url);
    assert_eq!(
        heroku.create_app("example", "heroku-24").await.unwrap().id,
        canned::APP_ID
    );
    assert_eq!(
        heroku.create_pipeline("web").await.unwrap().id,
        canned::PIPELINE_ID
    );
    let coupling = heroku
        .create_coupling("example", canned::PIPELINE_ID, "staging")
        .await
        .unwrap();
    assert_eq!(coupling.id, canned::COUPLING_ID);
    let release = heroku
        .create_release("example", canned::SLUG_ID, "Deploy v3")
        .await
        .unwrap();
    assert_eq!(release.version, 3);
    for path in [
        "/apps",
        "/pipelines",
        "/pipeline-couplings",
        "/apps/example/releases",
    ] {
        assert_eq!(posts(&api, path), 1, "{path}: {:#?}", calls(&api));
    }
}

#[tokio::test]
async fn a_rollback_that_answered_502_but_was_made_is_found_by_its_description() {
    let rolled_back = {
        let mut release = canned::release(4, "succeeded", true);
        release["description"] = json!("Rollback to v2");
        release["id"] = json!(canned::release_id(4));
        release
    };
    let api = FakeServer::start(move |seen: &Seen, index| {
        match (seen.method.as_str(), seen.segments().as_slice()) {
            ("POST", _) => Reply::error(502, "bad_gateway", "Bad gateway"),
            ("GET", ["apps", _, "releases", _]) => {
                Reply::json(200, &canned::release(2, "succeeded", false))
            }
            ("GET", ["apps", _, "releases"]) => Reply::json(200, &json!([rolled_back])),
            _ => canned::heroku(seen, index),
        }
    });
    let release = client(&api.url)
        .rollback("example", &canned::release_id(2))
        .await
        .unwrap();
    assert_eq!(release.version, 4);
    assert_eq!(posts(&api, "/apps/example/releases"), 1);
}

#[tokio::test]
async fn a_promotion_of_unknown_outcome_is_left_to_the_caller() {
    let api = FakeServer::start(|seen: &Seen, index| match seen.method.as_str() {
        "POST" => Reply::error(503, "unavailable", "Down"),
        _ => canned::heroku(seen, index),
    });
    let err = client(&api.url)
        .create_promotion(
            canned::PIPELINE_ID,
            canned::APP_ID,
            &canned::release_id(2),
            &[canned::APP_ID.to_owned()],
        )
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(calls(&api), ["POST /pipeline-promotions"]);
}

/// Every failed attempt a client reported.
#[derive(Default)]
struct Recorded(Mutex<Vec<(u32, u32, NextStep, String)>>);

impl RetryReporter for Recorded {
    fn failed_attempt(&self, event: &RetryEvent<'_>) {
        self.0.lock().unwrap().push((
            event.attempt,
            event.attempts,
            event.next,
            event.what.to_owned(),
        ));
    }
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_an_http_date() {
    let date = "Wed, 21 Oct 2026 07:28:00 GMT";
    let api = FakeServer::start(move |seen: &Seen, index| match index {
        0 => Reply::error(429, "rate_limit", "Slow down").header("retry-after", "1"),
        // One second after the answer's own clock, whatever this machine's says.
        1 => Reply::error(503, "unavailable", "Down")
            .header("date", date)
            .header("retry-after", "Wed, 21 Oct 2026 07:28:01 GMT"),
        _ => canned::heroku(seen, index),
    });
    let heroku = client(&api.url);
    let started = Instant::now();
    heroku.app("example").await.unwrap();
    // Two waits of at least a second each; the backoffs alone are milliseconds.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api.seen().len(), 3);
}

#[tokio::test]
async fn a_retry_after_past_the_retry_time_fails_at_once_saying_so() {
    let api = FakeServer::start(|_: &Seen, _| {
        Reply::error(429, "rate_limit", "Slow down").header("retry-after", "3600")
    });
    let recorded = Arc::new(Recorded::default());
    let heroku =
        HerokuPlatform::with_config(config(&api.url, Duration::from_secs(5)), Token::new(TOKEN))
            .unwrap()
            .reporting_retries(recorded.clone());
    let started = Instant::now();
    let err = heroku.app("example").await.unwrap_err();
    assert!(matches!(err, PlatformError::RateLimited { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(api.seen().len(), 1);
    let events = recorded.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].2, NextStep::GiveUp);
}

#[tokio::test]
async fn every_failed_attempt_is_reported_with_its_number_until_the_last() {
    let api = FakeServer::start(|_: &Seen, _| Reply::error(503, "unavailable", "Down"));
    let recorded = Arc::new(Recorded::default());
    // Backoffs of at most 20, 40, 40, 40 ms fit 170 ms (a fifth would not): five attempts,
    // with room to spare for the answers themselves.
    let mut config = config(&api.url, Duration::from_millis(170));
    config.retry.initial_backoff = Duration::from_millis(20);
    config.retry.max_backoff = Duration::from_millis(40);
    let heroku = HerokuPlatform::with_config(config, Token::new(TOKEN))
        .unwrap()
        .reporting_retries(recorded.clone());
    heroku.app("example").await.unwrap_err();
    let events = recorded.0.lock().unwrap().clone();
    let attempts = events[0].1;
    assert_eq!(attempts, 5, "{events:#?}");
    assert_eq!(
        events.len() as u32,
        attempts,
        "one event per attempt: {events:#?}"
    );
    assert_eq!(api.seen().len() as u32, attempts);
    for (i, (attempt, of, next, what)) in events.iter().enumerate() {
        assert_eq!((*attempt, *of), (i as u32 + 1, attempts));
        assert_eq!(what, &format!("GET {}/apps/example", api.url));
        if *attempt < attempts {
            assert!(matches!(next, NextStep::Retry(_)), "{next:?}");
        } else {
            assert_eq!(*next, NextStep::GiveUp);
        }
    }
}
