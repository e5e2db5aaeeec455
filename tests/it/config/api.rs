//! `slugplan server`'s config var and formation endpoints, every answer checked against the
//! official schema: each config change is a release carrying its config, a release's config is
//! the one it ran with, and the formation answers in the schema's shape however clients send a
//! count (heroku-go's number, the CLI's string, `+1`) or a size.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::schema::{assert_list_matches, assert_matches};
use crate::common::server::{Api, Server};

/// A server with app `demo` running a slug with `web` and `worker` process types (v1).
async fn demo(server: &Server) -> Api {
    let api = server.api();
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api
        .create(
            "/apps/demo/slugs",
            json!({ "process_types": { "web": "./web", "worker": "./worker" } }),
            "slug",
        )
        .await;
    let put = reqwest::Client::new()
        .put(slug["blob"]["url"].as_str().unwrap())
        .body(&b"demo"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    api.release("demo", &slug).await;
    api
}

/// `GET`s a list, checking a `200` whose every item matches `definition`.
async fn list(api: &Api, path: &str, definition: &str) -> Value {
    let answer = api.get(path).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    assert_list_matches(definition, &answer.body);
    answer.body
}

async fn patch(api: &Api, path: &str, body: Value) -> (StatusCode, Value) {
    let answer = api.call(Method::PATCH, path, Some(body), None).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn each_release_answers_the_config_it_was_made_with() {
    let server = Server::start(&[]);
    let api = demo(&server).await;
    let (status, vars) = patch(
        &api,
        "/apps/demo/config-vars",
        json!({ "A": "1", "B": "2" }),
    )
    .await;
    assert_eq!(
        (status, vars),
        (StatusCode::OK, json!({ "A": "1", "B": "2" }))
    );
    let (_, vars) = patch(
        &api,
        "/apps/demo/config-vars",
        json!({ "A": "one", "B": null }),
    )
    .await;
    assert_matches("config-var/definitions/config_vars", &vars);
    let releases = list(&api, "/apps/demo/releases", "release").await;
    let described: Vec<(u64, &str, Option<&str>)> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["description"].as_str().unwrap(),
                r["slug"]["id"].as_str(),
            )
        })
        .collect();
    let slug = described[0].2;
    assert_eq!(
        described,
        [
            (1, "Deploy", slug),
            (2, "Set A, B config vars", slug),
            (3, "Set A and remove B config vars", slug),
        ],
        "each change a release of the running slug"
    );
    assert_eq!(releases[2]["current"], true);
    for (version, config) in [
        ("1", json!({})),
        ("2", json!({ "A": "1", "B": "2" })),
        ("3", json!({ "A": "one" })),
    ] {
        let path = format!("/apps/demo/releases/{version}/config-vars");
        let body = api.read(&path, "config-var/definitions/config_vars").await;
        assert_eq!(body, config, "{path}");
        // By id too.
        let id = releases[version.parse::<usize>().unwrap() - 1]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let by_id = api
            .read(
                &format!("/apps/demo/releases/{id}/config-vars"),
                "config-var/definitions/config_vars",
            )
            .await;
        assert_eq!(by_id, config);
    }
    // Rolling back to v2 brings its config back.
    let v2 = releases[1]["id"].clone();
    let rollback = api
        .create("/apps/demo/releases", json!({ "release": v2 }), "release")
        .await;
    assert_eq!(rollback["description"], "Rollback to v2");
    let now = api
        .read(
            "/apps/demo/config-vars",
            "config-var/definitions/config_vars",
        )
        .await;
    assert_eq!(now, json!({ "A": "1", "B": "2" }));
    let (status, err) = patch(&api, "/apps/demo/config-vars", json!({ "bad key": "x" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
}

#[tokio::test]
async fn formation_answers_in_the_schemas_shape_however_counts_are_sent() {
    let server = Server::start(&[]);
    let api = demo(&server).await;
    let formation = list(&api, "/apps/demo/formation", "formation").await;
    // By type: the API lists a formation by id.
    let words = |formation: &Value| -> Vec<String> {
        let mut words: Vec<String> = formation
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{}={}:{}", f["type"], f["quantity"], f["size"]))
            .collect();
        words.sort();
        words
    };
    // Heroku's first-release rule: one web dyno, no workers.
    assert_eq!(
        words(&formation),
        [r#""web"=1:"Basic""#, r#""worker"=0:"Basic""#]
    );
    let web = api.read("/apps/demo/formation/web", "formation").await;
    assert_eq!(web["command"], "./web");
    assert_eq!(web["dyno_size"]["name"], "Basic");

    // The CLI's `ps:scale web=2 worker+1`: counts as strings, one relative.
    let (status, scaled) = patch(
        &api,
        "/apps/demo/formation",
        json!({ "updates": [
            { "type": "web", "quantity": "2", "size": "standard-1x" },
            { "type": "worker", "quantity": "+1" },
        ] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{scaled}");
    assert_list_matches("formation", &scaled);
    assert_eq!(
        words(&scaled),
        [r#""web"=2:"Standard-1X""#, r#""worker"=1:"Basic""#]
    );
    // heroku-go's: a number, the size as dyno_size, on one type.
    let (status, one) = patch(
        &api,
        "/apps/demo/formation/worker",
        json!({ "quantity": 3, "dyno_size": { "name": "Performance-M" } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_matches("formation", &one);
    let worker = api.read("/apps/demo/formation/worker", "formation").await;
    assert_eq!(
        (worker["quantity"].clone(), worker["size"].clone()),
        (json!(3), json!("Performance-M"))
    );

    let (status, err) = patch(
        &api,
        "/apps/demo/formation",
        json!({ "updates": [{ "type": "clock", "quantity": 1 }] }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["message"], "Couldn't find that process type (clock).");
    let (status, err) = patch(
        &api,
        "/apps/demo/formation/web",
        json!({ "size": "dyno-1c-0.5gb" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a Fir size on a Cedar app: {err}"
    );
    let (status, _) = patch(&api, "/apps/demo/formation/web", json!({ "quantity": -1 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing changed by the refused updates.
    let formation = list(&api, "/apps/demo/formation", "formation").await;
    assert_eq!(
        words(&formation),
        [r#""web"=2:"Standard-1X""#, r#""worker"=3:"Performance-M""#]
    );
    // An app without a release has no process types yet.
    api.create("/apps", json!({ "name": "empty" }), "app").await;
    assert_eq!(
        list(&api, "/apps/empty/formation", "formation").await,
        json!([])
    );
}
