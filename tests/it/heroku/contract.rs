//! Checks JSON against Heroku's official Platform API schema (`shared/heroku/platform-api-schema.json`).
//!
//! Link schemas refer to `#/definitions/…` of the whole document, so a request body is checked
//! against a root that carries the document's `definitions` beside the link's schema (answers
//! are checked with [`schema_errors`]). The tests here run the whole flow against canned answers
//! and check every body sent, and check the canned answers themselves, so the fake is held to the
//! schema too.

use std::path::Path;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use slugplan::platform::heroku::HerokuPlatform;
use slugplan::platform::{FormationUpdate, Platform, ReleaseStatus};

use super::{Progress, canned, client, new_slug, slug_file};
use crate::common::http::FakeServer;
use crate::common::schema::{errors_against, schema, schema_errors};

/// The link of `definition` titled `title` (e.g. `release`, `Rollback`).
pub fn link(definition: &str, title: &str) -> &'static Value {
    schema()["definitions"][definition]["links"]
        .as_array()
        .unwrap_or_else(|| panic!("no links for {definition}"))
        .iter()
        .find(|l| l["title"] == title)
        .unwrap_or_else(|| panic!("no link {definition}/{title}"))
}

/// Whether `path` is an instance of the link's `href` (each `{(…)}` standing for one segment).
pub fn href_matches(link: &Value, path: &str) -> bool {
    let href = link["href"].as_str().expect("href");
    let pattern: Vec<String> = href
        .trim_matches('/')
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "[^/]+".to_owned()
            } else {
                regex::escape(segment)
            }
        })
        .collect();
    regex::Regex::new(&format!("^/{}$", pattern.join("/")))
        .unwrap()
        .is_match(path)
}

/// The errors of a request body against the link's request schema, resolved within the
/// official document, formats (`uuid`, `date-time`) checked.
pub fn request_errors(definition: &str, title: &str, body: &Value) -> Vec<String> {
    let mut root = json!({ "definitions": schema()["definitions"].clone() });
    let request_schema = &link(definition, title)["schema"];
    for (key, value) in request_schema.as_object().expect("schema object") {
        root[key] = value.clone();
    }
    errors_against(&root, body)
}

/// Runs the whole slug flow and pipeline promotion against canned Heroku answers.
async fn whole_flow(heroku: &HerokuPlatform, dir: &Path) {
    let app = heroku.create_app("example", "heroku-24").await.unwrap();
    assert_eq!(app.name, "example");
    let created = heroku.create_slug("example", &new_slug()).await.unwrap();
    let (path, _) = slug_file(dir, 1000);
    heroku
        .upload_blob(&created.blob, &path, &Progress::default())
        .await
        .unwrap();
    let release = heroku
        .create_release("example", &created.slug.id, "Deploy web")
        .await
        .unwrap();
    assert_eq!(
        heroku.release("example", &release.id).await.unwrap().status,
        ReleaseStatus::Succeeded
    );
    assert_eq!(
        heroku
            .slug("example", &created.slug.id)
            .await
            .unwrap()
            .stack,
        "heroku-24"
    );
    heroku
        .rollback("example", &canned::release_id(2))
        .await
        .unwrap();
    let pipeline = heroku.create_pipeline("example-pipeline").await.unwrap();
    assert_eq!(
        heroku.pipeline("example-pipeline").await.unwrap().id,
        pipeline.id
    );
    heroku
        .create_coupling("example", &pipeline.id, "staging")
        .await
        .unwrap();
    assert_eq!(
        heroku
            .coupling("example")
            .await
            .unwrap()
            .unwrap()
            .pipeline_id,
        canned::PIPELINE_ID
    );
    let promotion = heroku
        .create_promotion(
            &pipeline.id,
            &app.id,
            &canned::release_id(3),
            &[canned::APP_ID.to_owned()],
        )
        .await
        .unwrap();
    let targets = heroku.promotion_targets(&promotion.id).await.unwrap();
    assert_eq!(
        targets[1].error_message.as_deref(),
        Some("Slug not compatible with stack")
    );
    assert_eq!(targets[0].release_id, Some(canned::release_id(3)));
    let changes = BTreeMap::from([
        ("TOKEN".to_owned(), Some("s3cret".to_owned())),
        ("GREETING".to_owned(), None),
    ]);
    let vars = heroku
        .update_config_vars("example", &changes)
        .await
        .unwrap();
    assert_eq!(vars, BTreeMap::from([("TOKEN".into(), "s3cret".into())]));
    assert_eq!(
        heroku.config_vars("example").await.unwrap()["GREETING"],
        "hi"
    );
    let formation = heroku.formation("example").await.unwrap();
    assert_eq!(
        (formation[0].quantity, formation[0].size.as_str()),
        (1, "Standard-1X")
    );
    let updates = [FormationUpdate {
        process_type: "web".into(),
        quantity: Some(2),
        size: Some("standard-1x".into()),
    }];
    let scaled = heroku.update_formation("example", &updates).await.unwrap();
    assert_eq!(scaled[0].quantity, 2);
}

#[tokio::test]
async fn every_request_body_matches_its_link_schema() {
    let api = FakeServer::start(canned::heroku);
    let temp = tempfile::tempdir().unwrap();
    whole_flow(&client(&api.url), temp.path()).await;

    let mut checked = Vec::new();
    for seen in api
        .seen()
        .iter()
        .filter(|s| s.method != "GET" && s.method != "PUT")
    {
        let body = seen.json();
        let (definition, title) = match seen.segments().as_slice() {
            ["apps", _, "config-vars"] => ("config-var", "Update"),
            ["apps", _, "formation"] => ("formation", "Batch Update"),
            ["apps"] => ("app", "Create"),
            ["apps", _, "slugs"] => ("slug", "Create"),
            ["apps", _, "releases"] if body.get("release").is_some() => ("release", "Rollback"),
            ["apps", _, "releases"] => ("release", "Create"),
            ["pipelines"] => ("pipeline", "Create"),
            ["pipeline-couplings"] => ("pipeline-coupling", "Create"),
            ["pipeline-promotions"] => ("pipeline-promotion", "Create"),
            other => panic!("unexpected {} {other:?}", seen.method),
        };
        let link = link(definition, title);
        assert_eq!(link["method"], seen.method.as_str());
        assert!(
            href_matches(link, &seen.path),
            "{} is not {}",
            seen.path,
            link["href"]
        );
        let errors = request_errors(definition, title, &body);
        assert!(
            errors.is_empty(),
            "{definition}/{title} body {body}: {errors:?}"
        );
        checked.push(format!("{definition}/{title}"));
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "app/Create",
            "config-var/Update",
            "formation/Batch Update",
            "pipeline-coupling/Create",
            "pipeline-promotion/Create",
            "pipeline/Create",
            "release/Create",
            "release/Rollback",
            "slug/Create",
        ]
    );
}

#[test]
fn the_contract_check_rejects_bodies_the_api_would() {
    let bad_slug = json!({ "process_types": { "web server!": "./web" } });
    assert!(!request_errors("slug", "Create", &bad_slug).is_empty());
    assert!(!request_errors("release", "Create", &json!({ "description": "no slug" })).is_empty());
    let by_version = json!({ "release": "3" });
    assert!(
        !request_errors("release", "Rollback", &by_version).is_empty(),
        "ids are UUIDs"
    );
    assert!(
        !request_errors(
            "pipeline-coupling",
            "Create",
            &json!({ "app": "a", "pipeline": canned::PIPELINE_ID, "stage": "prod" })
        )
        .is_empty()
    );
    let deprecated_size = json!({ "updates": [{ "type": "web", "size": "standard-1x" }] });
    assert!(
        !request_errors("formation", "Batch Update", &deprecated_size).is_empty(),
        "an update sizes with dyno_size"
    );
    assert!(!request_errors("config-var", "Update", &json!({ "bad key": "x" })).is_empty());
}

#[test]
fn canned_answers_match_the_schema() {
    for (definition, body) in [
        ("app", canned::app("example", "cedar")),
        ("release", canned::release(3, "succeeded", true)),
        ("slug", canned::slug("https://example.invalid/blob")),
        ("pipeline", canned::pipeline("example-pipeline")),
        ("pipeline-coupling", canned::coupling("staging")),
        ("pipeline-promotion", canned::promotion()),
        (
            "pipeline-promotion-target",
            canned::target("failed", Some("boom")),
        ),
        ("formation", canned::formation("web", 1)),
        (
            "config-var/definitions/config_vars",
            json!({ "GREETING": "hi" }),
        ),
    ] {
        let errors = schema_errors(definition, &body);
        assert!(errors.is_empty(), "{definition}: {errors:?}");
    }
    assert!(!schema_errors("release", &json!({ "version": "three" })).is_empty());
}
