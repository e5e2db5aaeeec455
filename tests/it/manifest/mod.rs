//! Integration tests: slug.toml loading, `validate`, `schema`, the example and the API other
//! modules use to point into the manifest. Error diagnostics are in [`errors`].

mod errors;
mod hostile;

use std::path::Path;

use crate::common::{TestContext, slugplan_snapshot, stderr};
use errors::WEB;

#[test]
fn valid_manifest_prints_a_summary_and_json() {
    let ctx = TestContext::new();
    ctx.write(&format!("deploy/{}", WEB.0), WEB.1);
    ctx.write(
        "deploy/slug.toml",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\n",
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["-f", "deploy/slug.toml", "validate"]), @"
    exit code: 0
    ----- stdout -----

    ----- stderr -----
           Valid deploy/slug.toml: 0 runtimes, 1 slug, 1 app
    ");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["-q", "validate", "-f", "deploy/slug.toml"]), @"
    exit code: 0
    ----- stdout -----

    ----- stderr -----
    ");

    let json = ctx.run(&["validate", "--json", "-f", "deploy/slug.toml"]);
    assert_eq!(json.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "format_version": 2,
            "valid": true,
            "manifest": "deploy/slug.toml",
            "counts": {"runtimes": 0, "slugs": 1, "apps": 1},
        })
    );
}

#[test]
fn validate_json_reports_every_error_with_its_location() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    ctx.write(
        "slug.toml",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"wbe\"\n\n[apps.x]\nslug = \"web\"\n",
    );
    let out = ctx.run(&["validate", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    // The document on stdout; the error rendered on stderr, as without --json.
    assert!(
        stderr(&out).contains("slug.toml has 2 problems"),
        "{}",
        stderr(&out)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["valid"], false);
    assert_eq!(value["error"]["code"], "slugplan::manifest::invalid");
    assert_eq!(value["error"]["related"], value["errors"]);
    let errors = value["errors"].as_array().unwrap();
    let summary: Vec<(&str, &str, u64, u64)> = errors
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap(),
                e["file"].as_str().unwrap(),
                e["line"].as_u64().unwrap(),
                e["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("slugplan::manifest::unknown_slug", "slug.toml", 5, 8),
            ("slugplan::manifest::app_name", "slug.toml", 7, 7),
        ]
    );
    assert_eq!(
        errors[0]["labels"],
        serde_json::json!([{"label": "no such slug", "file": "slug.toml", "line": 5, "column": 8}])
    );
    assert_eq!(errors[0]["help"], "defined slugs: web");
}

#[test]
fn validate_json_reports_an_unreadable_manifest() {
    let ctx = TestContext::new();
    let out = ctx.run(&["validate", "--json", "-f", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["errors"][0]["code"], "slugplan::manifest::read");
    assert_eq!(value["errors"][0]["file"], "missing.toml");
}

/// Copies slug.toml.example into a project with the source directories it names.
fn example_project() -> TestContext {
    let ctx = TestContext::new();
    let example = std::fs::read_to_string(repo_file("slug.toml.example")).unwrap();
    ctx.write("slug.toml", example);
    ctx.write("examples/node/web.js", "console.log('Hello World')\n");
    ctx.write("examples/ruby/server.rb", "puts 'Hello World'\n");
    ctx.write("examples/go/web.go", "package main\n\nfunc main() {}\n");
    ctx.write("examples/go/go.mod", "module example.com/web\n\ngo 1.22\n");
    ctx
}

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn the_example_manifest_is_valid() {
    let ctx = example_project();
    let out = ctx.run(&["validate", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{value:#}");
    assert_eq!(
        value["counts"],
        serde_json::json!({"runtimes": 2, "slugs": 3, "apps": 5})
    );

    let loaded = ctx.load_manifest();
    let node = &loaded.manifest.runtimes["node"];
    assert_eq!(
        node.url.as_deref(),
        Some("https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.gz")
    );
    assert_eq!(
        (node.dest.as_deref(), node.strip_components),
        (Some("node-v20.11.0-linux-x64"), 1)
    );
    let ruby = &loaded.manifest.runtimes["ruby"];
    assert_eq!(
        (ruby.dest.as_deref(), ruby.strip_components),
        (Some("ruby-3.3.6"), 0)
    );
    let go = loaded.manifest.slugs["api"].go.as_ref().unwrap();
    assert_eq!(go.output, "bin/web");
    let prod = &loaded.manifest.apps["example-prod"];
    assert_eq!(prod.promote_from.as_deref(), Some("example-staging"));
    assert_eq!(prod.pipeline.as_deref(), Some("example"));
    assert_eq!(prod.formation["web"].quantity(), 2);
    let staging = &loaded.manifest.apps["example-staging"];
    assert_eq!(
        staging.config["SESSION_SECRET"].template(),
        "${EXAMPLE_SESSION_SECRET}"
    );
    assert!(staging.config["ANALYTICS_KEY"].marked_sensitive());
}

#[test]
fn the_example_manifest_matches_the_schema() {
    let example = std::fs::read_to_string(repo_file("slug.toml.example")).unwrap();
    let document: serde_json::Value = toml::from_str(&example).unwrap();
    let validator = jsonschema::validator_for(&slugplan::manifest::json_schema()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_schema_rejects_what_validation_rejects() {
    let validator = jsonschema::validator_for(&slugplan::manifest::json_schema()).unwrap();
    let bad = [
        r#"apps.Bad_Name.slug = "web""#,
        r#"apps.example-web.sluggg = "web""#,
        r#"slugs.web.process_types."web worker" = "x""#,
        r#"runtimes.node = { url = "ftp://x/y.tgz" }"#,
        r#"runtimes.node = { url = "https://x/y.tgz", sha256 = "ABC" }"#,
        r#"slugs.web.stack = "cedar""#,
        r#"apps.example-web.config."BAD KEY" = "x""#,
        r#"apps.example-web.config.KEY = { value = "x", secret = true }"#,
        r#"apps.example-web.config.KEY = 1"#,
        r#"apps.example-web.formation.web = -1"#,
        r#"apps.example-web.formation.web = { count = 2 }"#,
    ];
    for toml_text in bad {
        let document: serde_json::Value = toml::from_str(toml_text).unwrap();
        assert!(
            !validator.is_valid(&document),
            "schema accepted {toml_text}"
        );
    }
    let good: serde_json::Value =
        toml::from_str("apps.example-web.slug = \"web\"\nslugs.web.source = \"web\"\n").unwrap();
    assert!(validator.is_valid(&good));
}

#[test]
fn committed_schema_is_up_to_date() {
    let ctx = TestContext::new();
    let out = ctx.run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(repo_file("schema/slug.schema.json")).unwrap();
    assert!(
        generated == committed,
        "schema/slug.schema.json differs from the schema the manifest types generate; \
         regenerate it with:\n    cargo run -- schema > schema/slug.schema.json"
    );
}

#[test]
fn process_types_come_from_the_table_or_the_procfile() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    ctx.write(
        "web/Procfile",
        "# the app's processes\nweb: node web.js\n\nworker: node worker.js\n",
    );
    ctx.write(
        "slug.toml",
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\n\n[slugs.api]\nsource = \"web\"\nprocess_types = { web = \"bin/web\" }\n\n[slugs.bare]\nsource = \"web\"\n\n[slugs.none]\nsource = \"other\"\n",
    );
    ctx.write("other/index.html", "<p>static</p>\n");
    let loaded = ctx.load_manifest();
    let web = loaded.process_types("web").unwrap();
    assert_eq!(
        web.into_iter().collect::<Vec<_>>(),
        [
            ("web".to_owned(), "node web.js".to_owned()),
            ("worker".to_owned(), "node worker.js".to_owned())
        ]
    );
    let api = loaded.process_types("api").unwrap();
    assert_eq!(api["web"], "bin/web");
    // Neither key: the Procfile in the source root, as Heroku reads it; without one, none.
    assert_eq!(
        loaded.process_types("bare").unwrap(),
        loaded.process_types("web").unwrap()
    );
    assert!(loaded.process_types("none").unwrap().is_empty());
    assert!(matches!(
        loaded.process_types("nope"),
        Err(slugplan::manifest::ManifestError::UnknownSlug(_))
    ));

    // A Procfile broken after loading is reported when it is read, pointing into it.
    ctx.write("web/Procfile", "web node web.js\n");
    let err = loaded.process_types("web").unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line_column(), Some((1, 1)));
    assert!(problems[0].file_name().unwrap().ends_with("web/Procfile"));
}

#[test]
fn other_modules_can_point_at_manifest_keys() {
    use slugplan::manifest::Part;

    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    ctx.write(
        "slug.toml",
        "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\n\n[slugs.web]\nsource = \"web\"\nruntimes = [\"node\"]\n\n[apps.example-web]\nslug = \"web\"\n",
    );
    let loaded = ctx.load_manifest();
    let span = loaded.span_of(&["apps", "example-web", "slug"]).unwrap();
    assert_eq!(
        &loaded.text[span.offset()..span.offset() + span.len()],
        "\"web\""
    );
    let key = loaded
        .key_span_of(&["slugs", "web", "runtimes", "0"])
        .unwrap();
    assert_eq!(
        &loaded.text[key.offset()..key.offset() + key.len()],
        "\"node\""
    );
    assert!(loaded.span_of(&["apps", "nope"]).is_none());

    // A key the manifest leaves to its default points at the nearest table that is written.
    let diag = loaded
        .locator()
        .diagnostic_at(
            &["runtimes", "node", "sha256"],
            Part::Value,
            "slugplan::lock::mismatch",
            "slug.lock records another URL for runtime `node`",
            "this runtime",
        )
        .with_help("run `slugplan lock` to update slug.lock");
    assert_eq!(diag.line_column(), Some((1, 11)));
    let rendered = slugplan::cli::diagnostics::render(&diag, false);
    insta::assert_snapshot!("diagnostic_at_default_key", ctx.redact(&rendered));
}
