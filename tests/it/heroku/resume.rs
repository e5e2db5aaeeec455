//! A pipeline promotion interrupted or failed with an unknown outcome, against a scripted API:
//! the promotion is never made twice. A journaled promotion still pending is polled again; one
//! whose creation answered `503` but reached its target is waited for; one that reached nothing
//! is made again.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use slugplan::platform::{App, Coupling, Generation, Release, ReleaseStatus, Slug};
use slugplan::release::{PromotionJournal, Source, StartedPromotion, Target, promote_all};

use super::{canned, client};
use crate::common::http::{FakeServer, Reply, Seen};

/// The source's app id (the canned answers' app is the target).
const SOURCE_ID: &str = "22222222-89ab-cdef-0123-456789abcdef";

fn coupling(app_id: &str, stage: &str) -> Option<Coupling> {
    Some(Coupling {
        id: format!("c-{app_id}"),
        pipeline_id: canned::PIPELINE_ID.into(),
        app_id: app_id.into(),
        stage: stage.into(),
    })
}

fn app(id: &str, name: &str) -> App {
    App {
        id: id.into(),
        name: name.into(),
        stack: "heroku-24".into(),
        generation: Generation::Cedar,
        web_url: None,
    }
}

/// `staging` runs release v2 of the canned slug; `example` (the canned app), in the same
/// pipeline, runs nothing yet.
fn source_and_target() -> (Source, Target) {
    let source = Source {
        name: "staging".into(),
        app: app(SOURCE_ID, "staging"),
        release: Release {
            id: canned::release_id(2),
            version: 2,
            status: ReleaseStatus::Succeeded,
            current: true,
            slug_id: Some(canned::SLUG_ID.into()),
            description: "Deploy v2".into(),
            created_at: "2026-11-25T10:00:00Z".into(),
        },
        slug: Slug {
            id: canned::SLUG_ID.into(),
            checksum: None,
            process_types: Default::default(),
            size: None,
            stack: "heroku-24".into(),
            commit: None,
        },
        coupling: coupling(SOURCE_ID, "staging"),
    };
    let target = Target {
        name: "example".into(),
        app: app(canned::APP_ID, "example"),
        running: None,
        coupling: coupling(canned::APP_ID, "production"),
    };
    (source, target)
}

/// A journal holding `started` and recording what is started.
#[derive(Default)]
struct Journal {
    started: Vec<StartedPromotion>,
    recorded: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl PromotionJournal for Journal {
    async fn sending(&self, _target_apps: &[&str], _slug_id: &str, _description: &str) {}

    async fn started(&self, promotion_id: &str, _source: &str, _targets: &[String]) {
        self.recorded.lock().unwrap().push(promotion_id.to_owned());
    }

    async fn started_for(&self, _source_release_id: &str) -> Vec<StartedPromotion> {
        self.started.clone()
    }
}

/// Promotes the source to the target through `api`; the target's settled release.
async fn promote(api: &FakeServer, journal: &Journal) -> Result<Release, String> {
    let (source, target) = source_and_target();
    let heroku = client(&api.url);
    let mut results = promote_all(
        &heroku,
        &source,
        &[&target],
        Duration::from_secs(10),
        journal,
    )
    .await;
    results.pop().unwrap().map_err(|e| format!("{e:?}"))
}

fn promotions_made(api: &FakeServer) -> usize {
    api.seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path == "/pipeline-promotions")
        .count()
}

/// Release v3 of the canned slug on the target, with `status`: the promotion's work.
fn promoted(status: &str) -> serde_json::Value {
    let mut release = canned::release(3, status, status == "succeeded");
    release["description"] = json!("Promote staging v2");
    release
}

#[tokio::test]
async fn a_journaled_promotion_still_pending_is_polled_again_not_made_twice() {
    // The platform has not made the target's release yet: only the journal knows.
    let api = FakeServer::start(|seen: &Seen, index| {
        match (seen.method.as_str(), seen.segments().as_slice()) {
            ("GET", ["apps", _, "releases"]) => Reply::json(200, &json!([])),
            // Request 1 is the look before promoting, which finds it pending; the polls after
            // it find it done.
            ("GET", ["pipeline-promotions", _, "promotion-targets"]) => {
                let status = if index < 2 { "pending" } else { "succeeded" };
                Reply::json(200, &json!([canned::target(status, None)]))
            }
            _ => canned::heroku(seen, index),
        }
    });
    let journal = Journal {
        started: vec![StartedPromotion {
            id: canned::PROMOTION_ID.into(),
            target_app_ids: vec![canned::APP_ID.into()],
        }],
        ..Journal::default()
    };
    let release = promote(&api, &journal).await.unwrap();
    assert_eq!(release.version, 3);
    assert_eq!(promotions_made(&api), 0, "{:#?}", api.seen());
}

#[tokio::test]
async fn a_promotion_answered_503_that_reached_its_target_is_waited_for() {
    let api = FakeServer::start(|seen: &Seen, index| {
        match (seen.method.as_str(), seen.segments().as_slice()) {
            ("POST", ["pipeline-promotions"]) => Reply::error(503, "unavailable", "Down"),
            ("GET", ["apps", _, "releases"]) if index == 0 => Reply::json(200, &json!([])),
            ("GET", ["apps", _, "releases"]) => Reply::json(200, &json!([promoted("pending")])),
            ("GET", ["apps", _, "releases", _]) => Reply::json(200, &promoted("succeeded")),
            _ => canned::heroku(seen, index),
        }
    });
    let journal = Journal::default();
    let release = promote(&api, &journal).await.unwrap();
    assert_eq!(
        (release.version, release.status),
        (3, ReleaseStatus::Succeeded)
    );
    assert_eq!(promotions_made(&api), 1, "{:#?}", api.seen());
}

#[tokio::test]
async fn a_promotion_answered_503_that_reached_nothing_is_made_again_and_journaled() {
    let api = FakeServer::start(|seen: &Seen, index| {
        match (seen.method.as_str(), seen.segments().as_slice()) {
            ("POST", ["pipeline-promotions"]) if index < 3 => {
                Reply::error(503, "unavailable", "Down")
            }
            ("GET", ["apps", _, "releases"]) => Reply::json(200, &json!([])),
            ("GET", ["pipeline-promotions", _, "promotion-targets"]) => {
                Reply::json(200, &json!([canned::target("succeeded", None)]))
            }
            _ => canned::heroku(seen, index),
        }
    });
    let journal = Journal::default();
    let release = promote(&api, &journal).await.unwrap();
    assert_eq!(release.version, 3);
    assert_eq!(promotions_made(&api), 2, "{:#?}", api.seen());
    assert_eq!(*journal.recorded.lock().unwrap(), [canned::PROMOTION_ID]);
}
