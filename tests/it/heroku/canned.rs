//! Resources as the real API answers them (every property the schema lists), and a responder
//! that serves the whole slug flow from them. The contract tests check these objects against
//! the official schema, so the client is tested against answers that look like Heroku's.

use serde_json::{Value, json};

use crate::common::http::{Reply, Seen};

/// The app's UUID in canned answers.
pub const APP_ID: &str = "01234567-89ab-cdef-0123-456789abcdef";
/// The slug's UUID.
pub const SLUG_ID: &str = "11111111-89ab-cdef-0123-456789abcdef";
/// The pipeline's UUID.
pub const PIPELINE_ID: &str = "33333333-89ab-cdef-0123-456789abcdef";
/// The coupling's UUID.
pub const COUPLING_ID: &str = "44444444-89ab-cdef-0123-456789abcdef";
/// The promotion's UUID.
pub const PROMOTION_ID: &str = "55555555-89ab-cdef-0123-456789abcdef";
const STACK_ID: &str = "66666666-89ab-cdef-0123-456789abcdef";
const WHEN: &str = "2026-11-25T10:00:00Z";

fn stack() -> Value {
    json!({ "id": STACK_ID, "name": "heroku-24" })
}

/// An app.
pub fn app(name: &str, generation: &str) -> Value {
    json!({
        "acm": false, "archived_at": null, "buildpack_provided_description": null,
        "build_stack": stack(), "created_at": WHEN,
        "generation": { "id": "77777777-89ab-cdef-0123-456789abcdef", "name": generation },
        "git_url": format!("https://git.heroku.com/{name}.git"), "id": APP_ID,
        "internal_routing": null, "maintenance": false, "name": name,
        "owner": { "email": "dev@example.com", "id": "88888888-89ab-cdef-0123-456789abcdef" },
        "organization": null, "team": null,
        "region": { "id": "99999999-89ab-cdef-0123-456789abcdef", "name": "us" },
        "released_at": WHEN, "repo_size": null, "slug_size": null, "space": null,
        "stack": stack(), "updated_at": WHEN, "web_url": format!("https://{name}.herokuapp.com/"),
    })
}

/// A release; `id` is a UUID, made from the version when None.
pub fn release(version: u64, status: &str, current: bool) -> Value {
    json!({
        "addon_plan_names": [], "artifacts": [],
        "app": { "id": APP_ID, "name": "example" },
        "created_at": WHEN, "description": format!("Deploy v{version}"),
        "id": release_id(version), "updated_at": WHEN, "slug": { "id": SLUG_ID },
        "status": status, "user": { "id": "88888888-89ab-cdef-0123-456789abcdef", "email": "dev@example.com" },
        "version": version, "current": current, "output_stream_url": null, "eligible_for_rollback": true,
    })
}

/// The UUID of release `version` in canned answers.
pub fn release_id(version: u64) -> String {
    format!("{version:08}-89ab-cdef-0123-456789abcdef")
}

/// A slug; a creation carries the blob URL.
pub fn slug(blob_url: &str) -> Value {
    json!({
        "blob": { "method": "put", "url": blob_url },
        "buildpack_provided_description": null,
        "checksum": format!("SHA256:{}", "ab".repeat(32)),
        "commit": "60883d9e8947a57e04dc9124f25df004866a2051", "commit_description": null,
        "created_at": WHEN, "id": SLUG_ID, "process_types": { "web": "./web" },
        "size": null, "stack": stack(), "updated_at": WHEN,
    })
}

/// A pipeline.
pub fn pipeline(name: &str) -> Value {
    json!({
        "created_at": WHEN, "id": PIPELINE_ID, "name": name,
        "owner": { "id": "88888888-89ab-cdef-0123-456789abcdef", "type": "user" },
        "updated_at": WHEN, "generation": { "name": "cedar" },
    })
}

/// A pipeline coupling.
pub fn coupling(stage: &str) -> Value {
    json!({
        "app": { "id": APP_ID }, "created_at": WHEN, "id": COUPLING_ID,
        "pipeline": { "id": PIPELINE_ID }, "stage": stage, "updated_at": WHEN,
    })
}

/// A pipeline promotion.
pub fn promotion() -> Value {
    json!({
        "created_at": WHEN, "id": PROMOTION_ID, "pipeline": { "id": PIPELINE_ID },
        "source": { "app": { "id": APP_ID }, "release": { "id": release_id(2) } },
        "status": "pending", "updated_at": WHEN,
    })
}

/// A promotion target.
pub fn target(status: &str, error: Option<&str>) -> Value {
    json!({
        "app": { "id": APP_ID }, "error_message": error,
        "id": "aaaaaaaa-89ab-cdef-0123-456789abcdef",
        "pipeline_promotion": { "id": PROMOTION_ID },
        "release": if status == "succeeded" { json!({ "id": release_id(3) }) } else { Value::Null },
        "status": status,
    })
}

/// One process type of a formation, as the API answers it (`size` and `dyno_size` both).
pub fn formation(process_type: &str, quantity: u32) -> Value {
    json!({
        "app": { "id": APP_ID, "name": "example" }, "command": "./web",
        "created_at": WHEN,
        "dyno_size": { "id": "bbbbbbbb-89ab-cdef-0123-456789abcdef", "name": "Standard-1X" },
        "id": "cccccccc-89ab-cdef-0123-456789abcdef", "quantity": quantity,
        "size": "Standard-1X", "type": process_type, "updated_at": WHEN,
    })
}

/// Answers every call of the slug flow like the real API, with the blob URL on this server.
pub fn heroku(seen: &Seen, _index: usize) -> Reply {
    let host = seen.header("host").unwrap_or("127.0.0.1").to_owned();
    match (seen.method.as_str(), seen.segments().as_slice()) {
        ("POST", ["apps"]) => Reply::json(
            201,
            &app(seen.json()["name"].as_str().unwrap_or("x"), "cedar"),
        ),
        ("GET", ["apps", name]) => Reply::json(200, &app(name, "cedar")),
        ("POST", ["apps", _, "slugs"]) => Reply::json(
            201,
            &slug(&format!(
                "http://{host}/blobs/{SLUG_ID}?X-Amz-Signature=deadbeef"
            )),
        ),
        ("GET", ["apps", _, "slugs", _]) => Reply::json(200, &slug("https://example.invalid/blob")),
        ("PUT", ["blobs", _]) => Reply::ok(),
        ("POST", ["apps", _, "releases"]) => Reply::json(201, &release(3, "pending", false)),
        ("GET", ["apps", _, "releases", _]) => Reply::json(200, &release(3, "succeeded", true)),
        ("GET", ["apps", _, "releases"]) => Reply::json(
            200,
            &json!([
                release(3, "succeeded", true),
                release(2, "succeeded", false)
            ]),
        ),
        ("POST", ["pipelines"]) => {
            Reply::json(201, &pipeline(seen.json()["name"].as_str().unwrap_or("p")))
        }
        ("GET", ["pipelines", name]) => Reply::json(200, &pipeline(name)),
        ("POST", ["pipeline-couplings"]) => Reply::json(
            201,
            &coupling(seen.json()["stage"].as_str().unwrap_or("staging")),
        ),
        ("GET", ["apps", _, "pipeline-couplings"]) => Reply::json(200, &coupling("staging")),
        ("GET", ["apps", _, "config-vars"]) => Reply::json(200, &json!({ "GREETING": "hi" })),
        ("PATCH", ["apps", _, "config-vars"]) => {
            let mut vars = json!({ "GREETING": "hi" });
            for (key, value) in seen.json().as_object().cloned().unwrap_or_default() {
                match value {
                    Value::Null => {
                        vars.as_object_mut().unwrap().remove(&key);
                    }
                    value => vars[key] = value,
                }
            }
            Reply::json(200, &vars)
        }
        ("GET", ["apps", _, "formation"]) => Reply::json(200, &json!([formation("web", 1)])),
        ("PATCH", ["apps", _, "formation"]) => Reply::json(200, &json!([formation("web", 2)])),
        ("POST", ["pipeline-promotions"]) => Reply::json(201, &promotion()),
        ("GET", ["pipeline-promotions", _, "promotion-targets"]) => Reply::json(
            200,
            &json!([
                target("succeeded", None),
                target("failed", Some("Slug not compatible with stack"))
            ]),
        ),
        _ => Reply::error(404, "not_found", "Couldn't find that resource."),
    }
}
