//! The contract check: JSON against Heroku's official Platform API schema
//! (`shared/heroku/platform-api-schema.json`), for the server's answers and the client's requests.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// Where the schema lives: `shared/heroku/` beside the checkout, or beside one of its ancestors
/// (a git worktree sits a level or two deeper than the main checkout).
fn schema_path() -> PathBuf {
    const REL: &str = "shared/heroku/platform-api-schema.json";
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join(REL))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("no {REL} beside {} or above it", root.display()))
}

/// The official schema, loaded once.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(schema_path()).expect("read the Platform API schema");
        let mut schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        close_strict_objects(&mut schema);
        local_deviations(&mut schema);
        schema
    })
}

/// Heroku's hyper-schema closes an object with `strictProperties: true` (no properties but the
/// listed ones); draft 4 spells that `additionalProperties: false`, so the check enforces it too.
fn close_strict_objects(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.get("strictProperties") == Some(&Value::Bool(true))
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            map.values_mut().for_each(close_strict_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_strict_objects),
        _ => {}
    }
}

/// Where the local platform knowingly differs from Heroku, written into the schema the
/// contract check uses, so every other property is held to the official one:
/// - an app's `web_url` may be on loopback (`http://127.0.0.1:<port>/`, the app's own port
///   where the router answers) as well as on `herokuapp.com`: a local app's URL must never lead
///   to someone's Heroku app;
/// - a domain's `hostname` may be that loopback address (`127.0.0.1:<port>`, the default
///   domain of an app). The schema gives `hostname` the `uri` format, which no bare host name
///   (Heroku's own `example.herokuapp.com` included) passes, so the local form replaces the
///   format rather than adding to it.
fn local_deviations(schema: &mut Value) {
    let web_url = &mut schema["definitions"]["app"]["definitions"]["web_url"];
    let heroku = web_url["pattern"]
        .as_str()
        .and_then(|p| p.strip_prefix('^'))
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or_else(|| panic!("the schema's web_url changed: {web_url}"))
        .to_owned();
    let local = r"http://127\.0\.0\.1:[0-9]{1,5}/";
    web_url["pattern"] = Value::String(format!("^({heroku}|{local})$"));

    let hostname = &mut schema["definitions"]["domain"]["definitions"]["hostname"];
    assert_eq!(
        hostname["format"], "uri",
        "the schema's domain hostname changed: {hostname}"
    );
    let hostname = hostname.as_object_mut().expect("an object");
    hostname.remove("format");
    hostname.insert(
        "pattern".to_owned(),
        Value::String(r"^([a-z0-9-]+\.)+[a-z]+$|^127\.0\.0\.1:[0-9]{1,5}$".to_owned()),
    );
}

/// What is wrong with `value` against the draft-4 schema `root` (refs resolved within it,
/// formats checked, `uuid` too: the schema uses it for every id but draft 4 does not know it).
pub fn errors_against(root: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .with_format("uuid", |s: &str| {
            s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
        })
        .build(root)
        .unwrap_or_else(|e| panic!("compile schema: {e}"));
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// What is wrong with `value` as a `#/definitions/<definition>` (refs resolved against the
/// whole document, formats checked).
pub fn schema_errors(definition: &str, value: &Value) -> Vec<String> {
    let mut root = schema().clone();
    let object = root.as_object_mut().expect("schema object");
    object.remove("$schema");
    object.remove("id");
    object.insert(
        "$ref".to_owned(),
        Value::String(format!("#/definitions/{definition}")),
    );
    errors_against(&root, value)
}

/// What is wrong with `value` as the answer of `link` (its `targetSchema`, refs resolved
/// against the whole document).
pub fn target_errors(link: &Value, value: &Value) -> Vec<String> {
    let mut root = schema().clone();
    let object = root.as_object_mut().expect("schema object");
    for key in ["$schema", "id", "links", "properties"] {
        object.remove(key);
    }
    for (key, part) in link["targetSchema"].as_object().expect("a targetSchema") {
        object.insert(key.clone(), part.clone());
    }
    errors_against(&root, value)
}

/// Checks `value` against `#/definitions/<definition>` (refs resolved against the whole
/// document), and that it has every property the definition lists, as clients expect.
pub fn assert_matches(definition: &str, value: &Value) {
    let errors = schema_errors(definition, value);
    assert!(
        errors.is_empty(),
        "{definition} does not match the schema: {errors:#?}\n{value:#}"
    );
    if let Some(properties) = schema()["definitions"][definition]["properties"].as_object() {
        for key in properties.keys() {
            assert!(
                value.get(key).is_some(),
                "{definition} lacks property {key}: {value:#}"
            );
        }
    }
}

/// Checks every item of a list answer against `definition`.
pub fn assert_list_matches(definition: &str, value: &Value) {
    for item in value.as_array().expect("a list answer is an array") {
        assert_matches(definition, item);
    }
}
