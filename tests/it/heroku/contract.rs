//! Checks JSON against Heroku's official Platform API schema (`shared/heroku/platform-api-schema.json`).
//!
//! Link schemas refer to `#/definitions/…` of the whole document, so each check validates
//! against a root that carries the document's `definitions` beside the schema in question.

use std::sync::OnceLock;

use serde_json::{Value, json};

/// The official schema document.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/heroku/platform-api-schema.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        serde_json::from_str(&text).expect("schema is JSON")
    })
}

/// The link of `definition` titled `title` (e.g. `release`, `Rollback`).
pub fn link(definition: &str, title: &str) -> &'static Value {
    document()["definitions"][definition]["links"]
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

/// The errors of `instance` against `schema`, resolved within the official document.
pub fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = json!({ "definitions": document()["definitions"].clone() });
    for (key, value) in schema.as_object().expect("schema object") {
        root[key] = value.clone();
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&root)
        .expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// The errors of a request body against the link's request schema.
pub fn request_errors(definition: &str, title: &str, body: &Value) -> Vec<String> {
    errors(&link(definition, title)["schema"], body)
}

/// The errors of a response object against the resource's definition.
pub fn resource_errors(definition: &str, body: &Value) -> Vec<String> {
    errors(
        &json!({ "$ref": format!("#/definitions/{definition}") }),
        body,
    )
}
