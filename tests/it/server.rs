//! Integration tests: `slugplan server` as a real process on 127.0.0.1, driven by a plain HTTP
//! client. Every response body is checked against the official Platform API schema.

mod account;
mod apps;
mod heroku_cli;
mod links;
mod lists;
mod reliability;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::schema::{assert_list_matches, schema_errors};
use crate::common::server::{Answer, Api, Server};
use crate::common::snapshot::{STANDARD_FILTERS, apply_filters};
use crate::common::{TestContext, slugplan_snapshot};

/// An answer's body as a snapshot shows it: pretty, with generated ids replaced.
fn redact(body: &Value) -> String {
    let text = serde_json::to_string_pretty(body).unwrap();
    apply_filters(&text, STANDARD_FILTERS)
}

/// The names in a list answer, sorted (a list without `Range` is in id order, as on Heroku).
pub(crate) fn names(list: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["name"].as_str().expect("a name"))
        .collect();
    names.sort_unstable();
    names
}

/// `PATCH`es `body` to `path`.
pub(crate) async fn patch(api: &Api, path: &str, body: Value) -> Answer {
    api.call(Method::PATCH, path, Some(body), None).await
}

/// `DELETE`s `path`.
pub(crate) async fn delete(api: &Api, path: &str) -> Answer {
    api.call(Method::DELETE, path, None, None).await
}

#[test]
fn the_contract_check_catches_wrong_shapes() {
    let wrong = json!({ "id": "not-a-uuid", "version": "3", "status": "done",
                        "created_at": "yesterday", "current": true });
    let errors = schema_errors("release", &wrong);
    for field in ["/id", "/version", "/status", "/created_at"] {
        assert!(
            errors.iter().any(|e| e.ends_with(field)),
            "{field} not caught: {errors:#?}"
        );
    }
    // Objects the schema closes (strictProperties) take no other property.
    let id = "01234567-89ab-cdef-0123-456789abcdef";
    let extra = json!({ "slug": { "id": id, "name": "no such property" } });
    let errors = schema_errors("release", &extra);
    assert!(
        errors.iter().any(|e| e.ends_with("/slug")),
        "an extra property in a closed object passed: {errors:#?}"
    );
    let open = json!({ "app": { "id": id, "name": "coupled" } });
    assert_eq!(
        schema_errors("pipeline-coupling", &open),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn whole_slug_flow_over_http() {
    let server = Server::start(&["--release-delay-ms", "100"]);
    let api = server.api();
    let app = api
        .create(
            "/apps",
            json!({ "name": "demo", "stack": "heroku-24" }),
            "app",
        )
        .await;
    let slug = api
        .upload_slug("demo", b"slug archive bytes", "heroku-24")
        .await;
    assert_eq!(slug["size"], Value::Null);
    let read = api
        .read(
            &format!("/apps/demo/slugs/{}", slug["id"].as_str().unwrap()),
            "slug",
        )
        .await;
    assert_eq!(read["size"], 18);
    assert_eq!(read["checksum"], slug["checksum"]);

    let release = api.release("demo", &slug).await;
    assert_eq!(release["status"], "pending");
    assert_eq!(release["version"], 1);
    let path = format!(
        "/apps/{}/releases/{}",
        app["id"].as_str().unwrap(),
        release["id"].as_str().unwrap()
    );
    let mut polled = release;
    while polled["status"] == "pending" {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        polled = api.read(&path, "release").await;
    }
    assert_eq!(polled["status"], "succeeded");
    assert_eq!(polled["current"], true);
    assert_eq!(polled["slug"]["id"], slug["id"]);
    let by_version = api.read("/apps/demo/releases/1", "release").await;
    assert_eq!(by_version["id"], polled["id"]);
    let app = api.read("/apps/demo", "app").await;
    assert_eq!(app["slug_size"], 18);
    assert!(app["released_at"].is_string());
    let download = reqwest::get(read["blob"]["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&download[..], b"slug archive bytes");
    let listed = api.get("/apps/demo/releases").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_list_matches("release", &listed.body);
    let apps = api.get("/apps").await;
    assert_list_matches("app", &apps.body);
    assert_eq!(apps.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn range_spellings_and_next_range_paging() {
    let server = Server::start(&[]);
    let api = server.api();
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api.upload_slug("demo", b"paged", "heroku-24").await;
    for _ in 0..5 {
        api.release("demo", &slug).await;
    }
    let versions = |body: &Value| -> Vec<u64> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["version"].as_u64().unwrap())
            .collect()
    };
    let spellings = [
        ("version ..; max=15, order=desc", vec![5, 4, 3, 2, 1]),
        ("version ..; max=10,order=desc", vec![5, 4, 3, 2, 1]),
        ("version ..; order=desc,max=10;", vec![5, 4, 3, 2, 1]),
        ("id ..; max=1000;", {
            let mut by_id = Vec::new();
            let all = api.get("/apps/demo/releases").await.body;
            let mut items: Vec<(String, u64)> = all
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap().to_owned(),
                        r["version"].as_u64().unwrap(),
                    )
                })
                .collect();
            items.sort();
            by_id.extend(items.into_iter().map(|(_, v)| v));
            by_id
        }),
        ("version ..; ;", vec![1, 2, 3, 4, 5]),
    ];
    for (range, expected) in spellings {
        let answer = api
            .call(Method::GET, "/apps/demo/releases", None, Some(range))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{range}");
        assert_eq!(versions(&answer.body), expected, "{range}");
        assert_list_matches("release", &answer.body);
    }
    let none = api.get("/apps/demo/releases").await;
    assert_eq!(versions(&none.body), [1, 2, 3, 4, 5]);

    let mut range = "version ..; max=2, order=desc".to_owned();
    let mut seen = Vec::new();
    loop {
        let answer = api
            .call(Method::GET, "/apps/demo/releases", None, Some(&range))
            .await;
        seen.extend(versions(&answer.body));
        assert_list_matches("release", &answer.body);
        match answer.headers.get("next-range") {
            Some(next) => {
                assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT);
                range = next.to_str().unwrap().to_owned();
            }
            None => {
                assert_eq!(answer.status, StatusCode::OK);
                break;
            }
        }
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn rollback_and_promotion_over_http() {
    let server = Server::start(&[]);
    let api = server.api();
    let staging = api
        .create("/apps", json!({ "name": "staging" }), "app")
        .await;
    let prod = api
        .create("/apps", json!({ "name": "prod-eu" }), "app")
        .await;
    let old = api
        .create(
            "/apps",
            json!({ "name": "prod-old", "stack": "heroku-22" }),
            "app",
        )
        .await;
    let one = api.upload_slug("staging", b"one", "heroku-24").await;
    let two = api.upload_slug("staging", b"two", "heroku-24").await;
    let v1 = api.release("staging", &one).await;
    api.release("staging", &two).await;
    let v3 = api
        .create(
            "/apps/staging/releases",
            json!({ "release": v1["id"] }),
            "release",
        )
        .await;
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["slug"]["id"], one["id"]);
    assert_eq!(v3["current"], true);

    let pipeline = api
        .create("/pipelines", json!({ "name": "shop" }), "pipeline")
        .await;
    assert_eq!(
        api.read("/pipelines/shop", "pipeline").await["id"],
        pipeline["id"]
    );
    let missing = api.get("/apps/staging/pipeline-couplings").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for (app, stage) in [
        (&staging, "staging"),
        (&prod, "production"),
        (&old, "production"),
    ] {
        api.create(
            "/pipeline-couplings",
            json!({ "app": app["id"], "pipeline": pipeline["id"], "stage": stage }),
            "pipeline-coupling",
        )
        .await;
    }
    let coupling = api
        .read("/apps/staging/pipeline-couplings", "pipeline-coupling")
        .await;
    assert_eq!(coupling["stage"], "staging");
    let couplings = api
        .get(&format!(
            "/pipelines/{}/pipeline-couplings",
            pipeline["id"].as_str().unwrap()
        ))
        .await;
    assert_list_matches("pipeline-coupling", &couplings.body);
    assert_eq!(couplings.body.as_array().unwrap().len(), 3);

    let promotion = api
        .create(
            "/pipeline-promotions",
            json!({
                "pipeline": { "id": pipeline["id"] },
                "source": { "app": { "id": staging["id"] }, "release": { "id": v3["id"] } },
                "targets": [ { "app": { "id": prod["id"] } }, { "app": { "id": old["id"] } } ],
            }),
            "pipeline-promotion",
        )
        .await;
    let id = promotion["id"].as_str().unwrap();
    assert_eq!(
        api.read(&format!("/pipeline-promotions/{id}"), "pipeline-promotion")
            .await["status"],
        "completed"
    );
    let targets = api
        .get(&format!("/pipeline-promotions/{id}/promotion-targets"))
        .await;
    assert_list_matches("pipeline-promotion-target", &targets.body);
    let target = |app: &Value| {
        targets
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["app"]["id"] == app["id"])
            .cloned()
            .unwrap()
    };
    assert_eq!(target(&prod)["status"], "succeeded");
    let made = target(&prod)["release"]["id"].as_str().unwrap().to_owned();
    let release = api
        .read(&format!("/apps/prod-eu/releases/{made}"), "release")
        .await;
    assert_eq!(release["slug"]["id"], one["id"]);
    assert_eq!(target(&old)["status"], "failed");
    let why = target(&old)["error_message"].as_str().unwrap().to_owned();
    insta::assert_snapshot!(apply_filters(&why, STANDARD_FILTERS), @"slug not compatible with stack: slug [UUID] was built for heroku-24, app prod-old runs heroku-22");
}

#[tokio::test]
async fn errors_carry_ids_and_the_right_statuses() {
    let server = Server::start(&[]);
    let api = server.api();
    let answer = api.get("/apps/nope").await;
    assert_eq!(
        (answer.status, answer.body["id"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let answer = api.post("/apps", json!({ "name": "demo" })).await;
    assert_eq!(
        (answer.status, answer.body["id"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let answer = api
        .post(
            "/apps/demo/slugs",
            json!({ "process_types": {}, "checksum": "md5:x" }),
        )
        .await;
    assert_eq!(
        (answer.status, answer.body["id"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params"))
    );
    let answer = api.post("/apps/demo/releases", json!({})).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let garbled = reqwest::Client::new()
        .post(format!("{}/apps", server.url))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), StatusCode::BAD_REQUEST);
    let answer = api.get("/no/such/endpoint").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // Variant suffixes are version 3; another version is refused.
    for accept in [
        "application/vnd.heroku+json; version=3.sdk",
        "application/json",
    ] {
        let status = reqwest::Client::new()
            .get(format!("{}/apps/demo", server.url))
            .header("Accept", accept)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "{accept}");
    }
    let status = reqwest::Client::new()
        .get(format!("{}/apps/demo", server.url))
        .header("Accept", "application/vnd.heroku+json; version=2")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn a_configured_token_is_required_as_bearer_or_basic() {
    let server = Server::start(&["--token", "s3cret-token"]);
    let mut api = server.api();
    let answer = api.get("/apps").await;
    assert_eq!(
        (answer.status, answer.body["id"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    api.auth = Some("Bearer wrong".to_owned());
    assert_eq!(api.get("/apps").await.status, StatusCode::UNAUTHORIZED);
    api.auth = Some("Bearer s3cret-token".to_owned());
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    // base64(":s3cret-token")
    api.auth = Some("Basic OnMzY3JldC10b2tlbg==".to_owned());
    assert_eq!(api.get("/apps/demo").await.status, StatusCode::OK);
    // The blob URL is pre-signed: no credentials needed.
    let slug = api
        .upload_slug("demo", b"no auth for blobs", "heroku-24")
        .await;
    api.release("demo", &slug).await;
}

#[tokio::test]
async fn endpoints_clients_touch_around_the_slug_flow_answer() {
    let server = Server::start(&[]);
    let api = server.api();
    let app = api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api.upload_slug("demo", b"config", "heroku-24").await;
    api.release("demo", &slug).await;
    let vars = api
        .call(
            Method::PATCH,
            "/apps/demo/config-vars",
            Some(json!({ "A": "1", "B": "2" })),
            None,
        )
        .await;
    assert_eq!(vars.status, StatusCode::OK);
    let vars = api
        .call(
            Method::PATCH,
            "/apps/demo/config-vars",
            Some(json!({ "B": null })),
            None,
        )
        .await;
    assert_eq!(vars.body, json!({ "A": "1" }));
    // Each change is a release of its own carrying its config (see tests/it/config.rs).
    for (path, config) in [
        ("/apps/demo/config-vars", json!({ "A": "1" })),
        ("/apps/demo/releases/3/config-vars", json!({ "A": "1" })),
    ] {
        let body = api.read(path, "config-var/definitions/config_vars").await;
        assert_eq!(body, config, "{path}");
    }
    for path in ["/apps/demo/addons", "/apps/demo/collaborators"] {
        let answer = api.get(path).await;
        assert_eq!(
            (answer.status, answer.body.clone()),
            (StatusCode::OK, json!([])),
            "{path}"
        );
    }
    let filtered = api
        .post("/filters/apps", json!({ "in": { "id": [app["id"]] } }))
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    assert_list_matches("team-app", &filtered.body);
    assert_eq!(filtered.body.as_array().unwrap().len(), 1);
    let account = api.read("/account", "account").await;
    assert_eq!(account["email"], app["owner"]["email"]);
    api.create("/pipelines", json!({ "name": "shop" }), "pipeline")
        .await;
    let pipelines = api.get("/pipelines").await;
    assert_list_matches("pipeline", &pipelines.body);
    assert_eq!(pipelines.body.as_array().unwrap().len(), 1);
    let limits = api.read("/account/rate-limits", "rate-limit").await;
    assert!(limits["remaining"].as_u64().unwrap() > 4000);
}

#[tokio::test]
async fn server_and_cli_share_one_data_directory() {
    let server = Server::start(&[]);
    let api = server.api();
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api.upload_slug("demo", b"shared", "heroku-24").await;
    api.release("demo", &slug).await;

    use slugplan::platform::Platform;
    let local = slugplan::platform::local::LocalPlatform::open(&server.data).unwrap();
    let current = local
        .current_release("demo")
        .await
        .unwrap()
        .expect("released by the server");
    assert_eq!(current.slug_id.as_deref(), slug["id"].as_str());
    let made = local
        .create_release(
            "demo",
            slug["id"].as_str().unwrap(),
            "made by another process",
        )
        .await
        .unwrap();
    let seen = api.read("/apps/demo/releases/2", "release").await;
    assert_eq!(seen["id"], made.id.as_str());
    assert_eq!(seen["description"], "made by another process");
}

#[test]
fn sigterm_shuts_down_cleanly_and_open_apis_stay_on_loopback() {
    let mut server = Server::start(&[]);
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    let ctx = TestContext::new();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["server", "--listen", "0.0.0.0:0", "--data", "p"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
      × refusing to serve the API without a token on 0.0.0.0:0, which is not a loopback address
      help: pass --token (or set SLUGPLAN_SERVER_TOKEN), or listen on 127.0.0.1
    ");
}

/// The token never reaches the server's output.
#[test]
fn the_token_is_not_printed() {
    let mut server = Server::start(&["--token", "hunter2-secret"]);
    let pid = server.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    server.child.wait().unwrap();
    assert!(stderr.contains("Serving"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}

#[tokio::test]
async fn releases_of_unuploaded_or_tampered_slugs_are_refused() {
    let server = Server::start(&[]);
    let api = server.api();
    let slug = api.demo_slug_without_archive().await;
    let refused = api
        .post("/apps/demo/releases", json!({ "slug": slug["id"] }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_snapshot!(redact(&refused.body), @r#"
    {
      "id": "invalid_params",
      "message": "slug [UUID] has no archive: upload it to the slug's blob URL before releasing"
    }
    "#);

    let declared = format!("SHA256:{}", "ab".repeat(32));
    let slug = api
        .create(
            "/apps/demo/slugs",
            json!({ "process_types": { "web": "./web" }, "checksum": declared }),
            "slug",
        )
        .await;
    // Like an object store, the blob URL takes any bytes; the release is what checks them.
    let put = reqwest::Client::new()
        .put(slug["blob"]["url"].as_str().unwrap())
        .body("not what was declared")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let refused = api
        .post("/apps/demo/releases", json!({ "slug": slug["id"] }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_snapshot!(redact(&refused.body), @r#"
    {
      "id": "invalid_params",
      "message": "slug [UUID]'s archive hashes to SHA256:7304d7f3cb2874c890e0a94ce07e14774e7506255846174e7650a317919cf140, not its declared checksum SHA256:abababababababababababababababababababababababababababababababab"
    }
    "#);
    assert_eq!(api.get("/apps/demo/releases").await.body, json!([]));
}

#[tokio::test]
async fn the_request_log_counts_what_clients_sent() {
    let ctx = TestContext::new();
    let log = ctx.temp.path().join("requests.jsonl");
    let data = ctx.temp.path().join("platform");
    let server = Server::start_on(ctx, data, &["--request-log", log.to_str().unwrap()]);
    let api = server.api();
    api.create("/apps", json!({ "name": "demo" }), "app").await;
    let slug = api.upload_slug("demo", b"logged", "heroku-24").await;
    api.release("demo", &slug).await;
    api.get("/apps/demo/releases").await;
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(String, String, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap().to_owned(),
                l["path"].as_str().unwrap().to_owned(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("POST", "/apps", 201),
        ("POST", "/apps/demo/slugs", 201),
        ("PUT", "/blobs/{token}", 200),
        ("POST", "/apps/demo/releases", 201),
        ("GET", "/apps/demo/releases", 200),
    ]
    .map(|(m, p, s)| (m.to_owned(), p.to_owned(), s));
    assert_eq!(seen, expected);
}
