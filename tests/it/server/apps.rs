//! Changing and deleting apps over HTTP: rename, maintenance, `build_stack`, and a deletion that
//! takes what is the app's own and leaves what other apps run.

use reqwest::StatusCode;
use serde_json::json;

use super::{delete, names, patch};
use crate::common::schema::assert_matches;
use crate::common::server::Server;

#[tokio::test]
async fn apps_are_renamed_put_in_maintenance_and_keep_their_history() {
    let server = Server::start(&[]);
    let api = server.api();
    api.create("/apps", json!({ "name": "old-name" }), "app")
        .await;
    api.create("/apps", json!({ "name": "taken" }), "app").await;
    let slug = api.upload_slug("old-name", b"rename", "heroku-24").await;
    api.release("old-name", &slug).await;
    let pipeline = api
        .create("/pipelines", json!({ "name": "renames" }), "pipeline")
        .await;
    api.create(
        "/pipeline-couplings",
        json!({ "app": "old-name", "pipeline": pipeline["id"], "stage": "staging" }),
        "pipeline-coupling",
    )
    .await;

    let before = api.read("/apps/old-name", "app").await;
    let renamed = patch(&api, "/apps/old-name", json!({ "name": "new-name" })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_matches("app", &renamed.body);
    assert_eq!(renamed.body["name"], "new-name");
    // The URL is the app's own port, kept across the rename.
    assert_eq!(renamed.body["web_url"], before["web_url"]);
    assert_eq!(
        api.get("/apps/old-name").await.status,
        StatusCode::NOT_FOUND
    );
    let release = api.read("/apps/new-name/releases/1", "release").await;
    assert_eq!(release["app"]["name"], "new-name");
    let coupling = api
        .read("/apps/new-name/pipeline-couplings", "pipeline-coupling")
        .await;
    assert_eq!(coupling["app"]["name"], "new-name");

    let on = patch(&api, "/apps/new-name", json!({ "maintenance": true })).await;
    assert_eq!(on.body["maintenance"], true);
    assert_eq!(api.read("/apps/new-name", "app").await["maintenance"], true);
    let off = patch(&api, "/apps/new-name", json!({ "maintenance": false })).await;
    assert_eq!(
        (off.body["maintenance"].clone(), off.body["name"].clone()),
        (json!(false), json!("new-name"))
    );

    // The schema's checks, each naming the field; nothing changes when one fails.
    for (body, status, says) in [
        (
            json!({ "name": "Not Valid" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "must match",
        ),
        (
            json!({ "name": "taken" }),
            StatusCode::CONFLICT,
            "already taken",
        ),
        (
            json!({ "name": 7 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name must be",
        ),
        (
            json!({ "maintenance": "yes" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "maintenance must be",
        ),
        (
            json!({ "maintenance": true, "build_stack": "cedar-14" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cedar-14",
        ),
        (
            json!(["name"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid request body",
        ),
    ] {
        let refused = patch(&api, "/apps/new-name", body.clone()).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        let message = refused.body["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let unchanged = api.read("/apps/new-name", "app").await;
    assert_eq!(unchanged["maintenance"], false);
    assert_eq!(unchanged["build_stack"]["name"], "heroku-24");
}

#[tokio::test]
async fn build_stack_moves_the_app_with_its_next_release_and_rollback_moves_it_back() {
    let server = Server::start(&[]);
    let api = server.api();
    api.create("/apps", json!({ "name": "mover" }), "app").await;
    let old = api.upload_slug("mover", b"on heroku-24", "heroku-24").await;
    api.release("mover", &old).await;
    let stranger = api.upload_slug("mover", b"on heroku-20", "heroku-20").await;
    let refused = api
        .post("/apps/mover/releases", json!({ "slug": stranger["id"] }))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );

    let stacks = api.get("/stacks").await.body;
    let heroku_22 = stacks
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "heroku-22")
        .unwrap()["id"]
        .clone();
    // By id, as heroku-go sends it, or by name, as the CLI does.
    let set = patch(&api, "/apps/mover", json!({ "build_stack": heroku_22 })).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        (
            set.body["stack"]["name"].as_str(),
            set.body["build_stack"]["name"].as_str()
        ),
        (Some("heroku-24"), Some("heroku-22"))
    );
    // A slug made now is for the next release's stack.
    let new = api
        .create(
            "/apps/mover/slugs",
            json!({ "process_types": { "web": "./web" } }),
            "slug",
        )
        .await;
    assert_eq!(new["stack"]["name"], "heroku-22");
    let new = api.upload_slug("mover", b"on heroku-22", "heroku-22").await;
    api.release("mover", &new).await;
    let moved = api.read("/apps/mover", "app").await;
    assert_eq!(
        (
            moved["stack"]["name"].as_str(),
            moved["build_stack"]["name"].as_str()
        ),
        (Some("heroku-22"), Some("heroku-22"))
    );
    let back = api
        .create(
            "/apps/mover/releases",
            json!({ "release": api.read("/apps/mover/releases/1", "release").await["id"] }),
            "release",
        )
        .await;
    assert_eq!(back["slug"]["id"], old["id"]);
    assert_eq!(
        api.read("/apps/mover", "app").await["stack"]["name"],
        "heroku-24"
    );
}

#[tokio::test]
async fn deleting_an_app_takes_what_is_its_own_and_leaves_what_others_run() {
    let server = Server::start(&[]);
    let api = server.api();
    for name in ["staging", "prod", "bystander"] {
        api.create("/apps", json!({ "name": name }), "app").await;
    }
    let shared = api
        .upload_slug("staging", b"promoted to prod", "heroku-24")
        .await;
    let own = api
        .upload_slug("staging", b"only staging ran this", "heroku-24")
        .await;
    // The same bytes as `own`, uploaded for another app's slug: its archive must stay.
    let twin = api
        .upload_slug("bystander", b"only staging ran this", "heroku-24")
        .await;
    api.release("staging", &shared).await;
    api.release("staging", &own).await;
    api.release("bystander", &twin).await;
    let pipeline = api
        .create("/pipelines", json!({ "name": "shop" }), "pipeline")
        .await;
    for (app, stage) in [("staging", "staging"), ("prod", "production")] {
        api.create(
            "/pipeline-couplings",
            json!({ "app": app, "pipeline": pipeline["id"], "stage": stage }),
            "pipeline-coupling",
        )
        .await;
    }
    let promotion = api
        .create(
            "/pipeline-promotions",
            json!({
                "pipeline": { "id": pipeline["id"] },
                "source": { "app": { "id": "staging" },
                            "release": { "id": api.read("/apps/staging/releases/1", "release").await["id"] } },
                "targets": [ { "app": { "id": "prod" } } ],
            }),
            "pipeline-promotion",
        )
        .await;
    patch(&api, "/apps/staging/config-vars", json!({ "SECRET": "x" })).await;
    let blobs = server.data.join("blobs/sha256");
    let archives = || std::fs::read_dir(&blobs).unwrap().count();
    assert_eq!(archives(), 2, "two distinct archives");

    let deleted = delete(&api, "/apps/staging").await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_matches("app", &deleted.body);
    assert_eq!(deleted.body["name"], "staging");
    for path in [
        "/apps/staging",
        "/apps/staging/releases",
        "/apps/staging/config-vars",
        "/apps/staging/pipeline-couplings",
    ] {
        assert_eq!(api.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let promotion = format!("/pipeline-promotions/{}", promotion["id"].as_str().unwrap());
    assert_eq!(api.get(&promotion).await.status, StatusCode::NOT_FOUND);
    // What prod runs is prod's now: its release, its slug and the slug's archive.
    let release = api.read("/apps/prod/releases/1", "release").await;
    assert_eq!(release["slug"]["id"], shared["id"]);
    let slug = api
        .read(
            &format!("/apps/prod/slugs/{}", shared["id"].as_str().unwrap()),
            "slug",
        )
        .await;
    let bytes = reqwest::get(slug["blob"]["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"promoted to prod");
    // staging's own slug is gone; its bytes stay, because bystander's slug has them too.
    let own_path = format!("/apps/prod/slugs/{}", own["id"].as_str().unwrap());
    assert_eq!(api.get(&own_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(archives(), 2);
    let couplings = api
        .get(&format!(
            "/pipelines/{}/pipeline-couplings",
            pipeline["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        couplings.body.as_array().unwrap().len(),
        1,
        "the pipeline stays, with prod"
    );
    assert_eq!(names(&api.get("/apps").await.body), ["bystander", "prod"]);

    // Once nothing uses an archive, it goes with the last app that did.
    assert_eq!(delete(&api, "/apps/prod").await.status, StatusCode::OK);
    assert_eq!(archives(), 1);
    assert_eq!(delete(&api, "/apps/bystander").await.status, StatusCode::OK);
    assert_eq!(archives(), 0);
    assert_eq!(
        delete(&api, "/apps/bystander").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_app_lists_its_default_domain_the_address_of_its_web_url() {
    let server = Server::start(&[]);
    let api = server.api();
    let app = api
        .create("/apps", json!({ "name": "domains" }), "app")
        .await;
    let web_url = app["web_url"].as_str().unwrap();
    let host = web_url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap();
    assert!(host.starts_with("127.0.0.1:"), "{web_url}");

    let list = api.get("/apps/domains/domains").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let domains = list.body.as_array().unwrap();
    assert_eq!(domains.len(), 1, "{}", list.body);
    let domain = &domains[0];
    assert_matches("domain", domain);
    assert_eq!(domain["hostname"], host);
    assert_eq!(domain["kind"], "heroku");
    assert_eq!(domain["app"]["name"], "domains");

    // By id and by hostname, as the schema's identity says.
    for identity in [domain["id"].as_str().unwrap(), host] {
        let one = api
            .read(&format!("/apps/domains/domains/{identity}"), "domain")
            .await;
        assert_eq!(one, *domain);
    }
    assert_eq!(
        api.get("/apps/domains/domains/example.com").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_server_routes_each_web_url_and_follows_maintenance_at_once() {
    let server = Server::start(&[]);
    let api = server.api();
    let app = api
        .create("/apps", json!({ "name": "routed" }), "app")
        .await;
    let web_url = app["web_url"].as_str().unwrap().to_owned();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    // Listened for as soon as the app exists: nothing runs it, so Heroku's H14 page.
    let response = client.get(&web_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = response.text().await.unwrap();
    assert!(page.contains("H14 - No web processes running"), "{page}");

    // Maintenance is followed within moments, not at the next periodic refresh.
    patch(&api, "/apps/routed", json!({ "maintenance": true })).await;
    let asked = std::time::Instant::now();
    loop {
        let page = client
            .get(&web_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("Offline for Maintenance") {
            break;
        }
        assert!(
            asked.elapsed() < std::time::Duration::from_millis(400),
            "still not in maintenance: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let log = std::fs::read_to_string(server.data.join("logs/routed.log")).unwrap();
    assert!(log.contains(r#"heroku[router]: at=error code=H14 desc="No web processes running" method=GET path="/""#), "{log}");
    assert!(
        log.contains(r#"heroku[router]: at=info code=H80 desc="Maintenance mode""#),
        "{log}"
    );
}
