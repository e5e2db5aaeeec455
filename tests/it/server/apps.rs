//! The account, app changes and deletion, stacks, list filters and ranges, and the answers for
//! what the server does not serve, over HTTP against a real `slugplan server`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::schema::{assert_list_matches, assert_matches};
use crate::common::server::{Answer, Api, Server};

/// The names in a list answer, sorted (a list without `Range` is in id order, as on Heroku).
fn names(list: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    names
}

async fn patch(api: &Api, path: &str, body: Value) -> Answer {
    api.call(Method::PATCH, path, Some(body), None).await
}

async fn delete(api: &Api, path: &str) -> Answer {
    api.call(Method::DELETE, path, None, None).await
}

#[tokio::test]
async fn the_account_answers_as_itself_and_as_users_tilde() {
    let server = Server::start(&["--token", "account-token"]);
    let mut api = server.api();
    api.auth = Some("Bearer account-token".to_owned());
    let app = api.create("/apps", json!({ "name": "mine" }), "app").await;
    let account = api.read("/account", "account").await;
    assert_eq!(account["email"], "owner@slugplan.localhost");
    assert_eq!(account["id"], app["owner"]["id"]);
    let email = account["email"].as_str().unwrap();
    let id = account["id"].as_str().unwrap();
    for user in ["~", email, id] {
        let seen = api.read(&format!("/users/{user}"), "account").await;
        assert_eq!(seen, account, "/users/{user}");
    }
    let stranger = api.get("/users/someone@example.com").await;
    assert_eq!(
        (stranger.status, stranger.body["id"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let apps = api.get("/users/~/apps").await;
    assert_eq!(apps.status, StatusCode::OK);
    assert_list_matches("app", &apps.body);
    assert_eq!(names(&apps.body), ["mine"]);
    assert_eq!(
        api.get("/users/nobody/apps").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rate_limits_agree_with_the_header_of_the_same_answer() {
    let server = Server::start(&["--rate-limit", "50", "--rate-limit-refill", "0"]);
    let api = server.api();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let answer = api.get("/account/rate-limits").await;
        assert_matches("rate-limit", &answer.body);
        let header: u64 = answer.headers["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(answer.body["remaining"], header);
        seen.push(header);
    }
    assert_eq!(seen, [49, 48, 47], "each request takes one");
}

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

    let renamed = patch(&api, "/apps/old-name", json!({ "name": "new-name" })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_matches("app", &renamed.body);
    assert_eq!(renamed.body["name"], "new-name");
    assert_eq!(
        renamed.body["web_url"],
        format!(
            "http://new-name.localhost:{}/",
            server.url.rsplit(':').next().unwrap()
        )
    );
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
async fn stacks_are_listed_with_stable_ids_and_found_by_name_or_id() {
    let server = Server::start(&[]);
    let api = server.api();
    let stacks = api.get("/stacks").await;
    assert_eq!(stacks.status, StatusCode::OK);
    assert_list_matches("stack", &stacks.body);
    assert_eq!(names(&stacks.body), ["heroku-20", "heroku-22", "heroku-24"]);
    let mut facts: Vec<(&str, &str, bool)> = stacks
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |key: &str| s[key].as_str().unwrap();
            (text("name"), text("state"), s["default"].as_bool().unwrap())
        })
        .collect();
    facts.sort_unstable();
    assert_eq!(
        facts,
        [
            ("heroku-20", "deprecated", false),
            ("heroku-22", "public", false),
            ("heroku-24", "public", true)
        ]
    );
    let other = Server::start(&[]);
    assert_eq!(
        other.api().get("/stacks").await.body,
        stacks.body,
        "the same on every server"
    );
    let by_name = api.read("/stacks/heroku-22", "stack").await;
    let by_id = api
        .read(
            &format!("/stacks/{}", by_name["id"].as_str().unwrap()),
            "stack",
        )
        .await;
    assert_eq!(by_id, by_name);
    let app = api
        .create(
            "/apps",
            json!({ "name": "stacked", "stack": by_name["id"] }),
            "app",
        )
        .await;
    assert_eq!(
        app["stack"],
        json!({ "id": by_name["id"], "name": "heroku-22" })
    );
    assert_eq!(
        api.get("/stacks/cedar-14").await.status,
        StatusCode::NOT_FOUND
    );
    let refused = api
        .post("/apps", json!({ "name": "ancient", "stack": "cedar-14" }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let available = api.get("/apps/stacked/available-stacks").await;
    assert_eq!(available.body, stacks.body);
}

#[tokio::test]
async fn lists_filter_by_eq_and_range_over_the_schemas_fields() {
    let server = Server::start(&[]);
    let api = server.api();
    for name in ["shop", "shop-eu", "blog"] {
        api.create("/pipelines", json!({ "name": name }), "pipeline")
            .await;
        api.create("/apps", json!({ "name": format!("{name}-app") }), "app")
            .await;
    }
    let only = api.get("/pipelines?eq[name]=shop").await;
    assert_eq!(names(&only.body), ["shop"]);
    let escaped = api.get("/pipelines?eq%5Bname%5D=shop-eu").await;
    assert_eq!(names(&escaped.body), ["shop-eu"]);
    assert_eq!(api.get("/pipelines?eq[name]=none").await.body, json!([]));
    assert_eq!(
        names(&api.get("/apps?eq[name]=blog-app").await.body),
        ["blog-app"]
    );

    let by_name = api
        .call(
            Method::GET,
            "/apps",
            None,
            Some("name ..; order=desc, max=2"),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::PARTIAL_CONTENT);
    let in_order: Vec<&Value> = by_name
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["name"])
        .collect();
    assert_eq!(in_order, [&json!("shop-eu-app"), &json!("shop-app")]);
    assert_eq!(by_name.headers["accept-ranges"], "id, name, created_at");
    assert_eq!(
        by_name.headers["next-range"],
        "name ]shop-app..; max=2, order=desc"
    );
    let bounded = api
        .call(Method::GET, "/apps", None, Some("name blog-app..shop-app"))
        .await;
    assert_eq!(names(&bounded.body), ["blog-app", "shop-app"]);
    let by_time = api
        .call(
            Method::GET,
            "/pipelines",
            None,
            Some("created_at ..; max=10"),
        )
        .await;
    assert_eq!(by_time.body.as_array().unwrap().len(), 3);
    let couplings = api
        .get(&format!(
            "/pipelines/{}/pipeline-couplings",
            api.read("/pipelines/shop", "pipeline").await["id"]
                .as_str()
                .unwrap()
        ))
        .await;
    assert_eq!(couplings.headers["accept-ranges"], "id, created_at");
}

#[tokio::test]
async fn couplings_name_their_app_and_pipeline() {
    let server = Server::start(&[]);
    let api = server.api();
    let app = api.create("/apps", json!({ "name": "named" }), "app").await;
    let pipeline = api
        .create("/pipelines", json!({ "name": "names" }), "pipeline")
        .await;
    assert_eq!(
        pipeline["owner"],
        json!({ "id": app["owner"]["id"], "type": "user" })
    );
    let created = api
        .create(
            "/pipeline-couplings",
            json!({ "app": app["id"], "pipeline": pipeline["id"], "stage": "staging" }),
            "pipeline-coupling",
        )
        .await;
    let expected = (
        json!({ "id": app["id"], "name": "named" }),
        json!({ "id": pipeline["id"], "name": "names" }),
    );
    let id = created["id"].as_str().unwrap();
    let moved = patch(
        &api,
        &format!("/pipeline-couplings/{id}"),
        json!({ "stage": "production" }),
    )
    .await;
    for coupling in [
        created.clone(),
        api.read("/apps/named/pipeline-couplings", "pipeline-coupling")
            .await,
        api.read(&format!("/pipeline-couplings/{id}"), "pipeline-coupling")
            .await,
        moved.body,
        api.get(&format!(
            "/pipelines/{}/pipeline-couplings",
            pipeline["id"].as_str().unwrap()
        ))
        .await
        .body[0]
            .clone(),
        delete(&api, &format!("/pipeline-couplings/{id}"))
            .await
            .body,
    ] {
        assert_eq!(
            (coupling["app"].clone(), coupling["pipeline"].clone()),
            expected
        );
    }
}

#[tokio::test]
async fn unserved_links_answer_501_and_unknown_methods_405_as_json() {
    let server = Server::start(&[]);
    let api = server.api();
    api.create("/apps", json!({ "name": "limits" }), "app")
        .await;
    // The config, formation, dyno and log endpoints other work will serve: 501, not 404.
    for (method, path, template) in [
        (
            Method::DELETE,
            "/apps/limits/addons/pg",
            "DELETE /apps/{app}/addons/{id}",
        ),
        (
            Method::GET,
            "/apps/limits/formation",
            "GET /apps/{app}/formation",
        ),
        (
            Method::PATCH,
            "/apps/limits/formation",
            "PATCH /apps/{app}/formation",
        ),
        (
            Method::GET,
            "/apps/limits/formation/web",
            "GET /apps/{app}/formation/{id}",
        ),
        (Method::POST, "/apps/limits/dynos", "POST /apps/{app}/dynos"),
        (
            Method::DELETE,
            "/apps/limits/dynos",
            "DELETE /apps/{app}/dynos",
        ),
        (
            Method::GET,
            "/apps/limits/dynos/web.1",
            "GET /apps/{app}/dynos/{id}",
        ),
        (
            Method::POST,
            "/apps/limits/log-sessions",
            "POST /apps/{app}/log-sessions",
        ),
        (
            Method::GET,
            "/users/~/pipeline-couplings",
            "GET /users/~/pipeline-couplings",
        ),
    ] {
        let answer = api.call(method, path, Some(json!({})), None).await;
        assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED, "{path}");
        assert_eq!(
            answer.body,
            json!({ "id": "not_implemented",
                    "message": format!("slugplan server does not implement {template}") })
        );
    }
    let answer = api
        .call(Method::PUT, "/apps/limits", Some(json!({})), None)
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body["id"], "method_not_allowed");
    assert_eq!(answer.headers["allow"], "DELETE, GET, PATCH");
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("/apps/{id}")
    );
    let answer = api.call(Method::DELETE, "/blobs/nope", None, None).await;
    assert_eq!(
        (answer.status, answer.headers["allow"].to_str().unwrap()),
        (StatusCode::METHOD_NOT_ALLOWED, "GET, PUT")
    );
    assert_eq!(
        api.get("/no/such/endpoint").await.status,
        StatusCode::NOT_FOUND
    );
}
