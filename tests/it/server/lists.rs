//! What lists and stacks answer over HTTP: stacks with stable ids, `eq[field]=` filters,
//! `Range` on the schema's fields, couplings that name their app and pipeline.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{delete, names, patch};
use crate::common::schema::assert_list_matches;
use crate::common::server::Server;

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
