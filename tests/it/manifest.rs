//! Integration tests: slug.toml loading, its diagnostics, `validate`, `schema` and the example.
//!
//! Each error kind runs the real binary on a small manifest and snapshots what a user sees
//! (`NO_COLOR=1`), and separately asserts the exit code and the `file:line:column` it points at,
//! so a snapshot accepted by mistake still cannot hide a wrong location.

use std::path::Path;

use crate::common::{TestContext, redact};

/// Writes `manifest` as slug.toml (plus `files`), runs `slugplan validate`, checks it fails with
/// exit code 1 at `location` (`slug.toml:3:8`), and snapshots stderr as `name`.
fn assert_invalid(name: &str, manifest: &str, files: &[(&str, &str)], location: &str) {
    let ctx = TestContext::new();
    ctx.write("slug.toml", manifest);
    for (path, contents) in files {
        ctx.write(path, contents);
    }
    let out = ctx.run(&["validate"]);
    let stderr = redact(&String::from_utf8_lossy(&out.stderr), &ctx);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no data on stdout for an error");
    assert!(
        stderr.contains(&format!("[{location}]")),
        "expected a snippet at {location}:\n{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "NO_COLOR output has escapes");
    insta::assert_snapshot!(name, stderr);
}

/// The source directory most test manifests name.
const WEB: (&str, &str) = ("web/web.js", "console.log('Hello World')\n");

#[test]
fn syntax_error_points_at_the_bad_token() {
    assert_invalid(
        "syntax_error",
        "[apps.example-web\nslug = \"web\"\n",
        &[],
        "slug.toml:1:18",
    );
}

#[test]
fn unknown_key_is_underlined() {
    assert_invalid(
        "unknown_key",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\nslgu = \"web\"\n",
        &[WEB],
        "slug.toml:6:1",
    );
}

#[test]
fn wrong_type_names_the_field() {
    assert_invalid(
        "wrong_type",
        "[slugs.web]\nsource = \"web\"\nruntimes = \"node\"\n",
        &[WEB],
        "slug.toml:3:12",
    );
}

#[test]
fn missing_required_key_points_at_its_table() {
    assert_invalid(
        "missing_go_output",
        "[slugs.api]\nsource = \"web\"\n\n[slugs.api.go]\npackage = \".\"\n",
        &[WEB],
        "slug.toml:4:1",
    );
}

#[test]
fn unknown_stage_lists_the_allowed_ones() {
    assert_invalid(
        "unknown_stage",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\npipeline = \"example\"\nstage = \"prod\"\n",
        &[WEB],
        "slug.toml:7:9",
    );
}

#[test]
fn app_naming_an_undefined_slug() {
    assert_invalid(
        "unknown_slug",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"wbe\"\n",
        &[WEB],
        "slug.toml:5:8",
    );
}

#[test]
fn slug_naming_an_undefined_runtime() {
    assert_invalid(
        "unknown_runtime",
        "[runtimes.node]\npath = \"node\"\n\n[slugs.web]\nsource = \"web\"\nruntimes = [\"node\", \"ruby\"]\n",
        &[WEB, ("node/bin/node", "")],
        "slug.toml:6:21",
    );
}

#[test]
fn two_runtimes_unpacking_into_one_dest() {
    assert_invalid(
        "dest_conflict",
        "[runtimes.node]\npath = \"node\"\ndest = \"vendor\"\n\n[runtimes.ruby]\npath = \"ruby\"\ndest = \"vendor/\"\n\n[slugs.web]\nsource = \"web\"\nruntimes = [\"node\", \"ruby\"]\n",
        &[WEB, ("node/bin/node", ""), ("ruby/bin/ruby", "")],
        "slug.toml:11:21",
    );
}

#[test]
fn promote_from_an_unknown_app() {
    assert_invalid(
        "unknown_promote_from",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-staging]\nslug = \"web\"\n\n[apps.example-prod]\npromote_from = \"example-stagign\"\n",
        &[WEB],
        "slug.toml:8:16",
    );
}

#[test]
fn promotion_cycle_shows_the_chain() {
    let manifest = "[apps.aaa]\npromote_from = \"bbb\"\n\n[apps.bbb]\npromote_from = \"aaa\"\n";
    assert_invalid("promotion_cycle", manifest, &[], "slug.toml:2:16");
    let ctx = TestContext::new();
    ctx.write("slug.toml", manifest);
    let stderr = String::from_utf8(ctx.run(&["validate"]).stderr).unwrap();
    assert!(
        stderr.contains("promotion cycle: aaa → bbb → aaa"),
        "{stderr}"
    );
}

#[test]
fn sha256_must_be_64_lowercase_hex() {
    let upper = "A".repeat(64);
    assert_invalid(
        "bad_sha256",
        &format!(
            "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\nsha256 = \"{upper}\"\n"
        ),
        &[],
        "slug.toml:3:10",
    );
}

#[test]
fn process_type_name_breaking_the_pattern() {
    assert_invalid(
        "bad_process_type",
        "[slugs.web]\nsource = \"web\"\n\n[slugs.web.process_types]\nweb = \"node web.js\"\n\"web worker\" = \"node worker.js\"\n",
        &[WEB],
        "slug.toml:6:1",
    );
}

#[test]
fn app_name_breaking_herokus_pattern() {
    assert_invalid(
        "bad_app_name",
        "[slugs.web]\nsource = \"web\"\n\n[apps.Example_Web]\nslug = \"web\"\n",
        &[WEB],
        "slug.toml:4:7",
    );
}

#[test]
fn runtime_with_both_url_and_path() {
    assert_invalid(
        "runtime_url_and_path",
        "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\npath = \"node\"\n",
        &[],
        "slug.toml:2:1",
    );
}

#[test]
fn runtime_with_neither_url_nor_path() {
    assert_invalid(
        "runtime_no_source",
        "[runtimes.node]\ndest = \"node\"\n",
        &[],
        "slug.toml:1:11",
    );
}

#[test]
fn runtime_url_with_another_scheme() {
    assert_invalid(
        "url_scheme",
        "[runtimes.node]\nurl = \"ftp://nodejs.org/dist/node.tar.gz\"\n",
        &[],
        "slug.toml:2:7",
    );
}

#[test]
fn app_with_both_slug_and_promote_from() {
    assert_invalid(
        "app_slug_and_promote_from",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-a]\nslug = \"web\"\n\n[apps.example-b]\nslug = \"web\"\npromote_from = \"example-a\"\n",
        &[WEB],
        "slug.toml:8:1",
    );
}

#[test]
fn app_with_neither_slug_nor_promote_from() {
    assert_invalid(
        "app_runs_nothing",
        "[apps.example-a]\npipeline = \"example\"\nstage = \"staging\"\n",
        &[],
        "slug.toml:1:7",
    );
}

#[test]
fn process_types_and_procfile_together() {
    assert_invalid(
        "process_types_and_procfile",
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\nprocess_types = { web = \"node web.js\" }\n",
        &[WEB, ("web/Procfile", "web: node web.js\n")],
        "slug.toml:4:1",
    );
}

#[test]
fn dest_outside_app() {
    assert_invalid(
        "dest_outside_app",
        "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\ndest = \"/opt/node\"\n",
        &[],
        "slug.toml:3:8",
    );
}

#[test]
fn go_output_climbing_out_of_app() {
    assert_invalid(
        "go_output_outside_app",
        "[slugs.api]\nsource = \"web\"\n\n[slugs.api.go]\noutput = \"../bin/web\"\n",
        &[WEB],
        "slug.toml:5:10",
    );
}

#[test]
fn malformed_procfile_line_points_into_the_procfile() {
    assert_invalid(
        "procfile_malformed",
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\n",
        &[
            WEB,
            (
                "web/Procfile",
                "# processes\nweb: node web.js\nworker node worker.js\n",
            ),
        ],
        "web/Procfile:3:1",
    );
}

#[test]
fn missing_procfile_points_at_the_key() {
    assert_invalid(
        "procfile_missing",
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\n",
        &[WEB],
        "slug.toml:3:12",
    );
}

#[test]
fn missing_source_directory() {
    assert_invalid(
        "source_missing",
        "[slugs.web]\nsource = \"wbe\"\n",
        &[WEB],
        "slug.toml:2:10",
    );
}

#[test]
fn pipeline_without_stage() {
    assert_invalid(
        "pipeline_without_stage",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\npipeline = \"example\"\n",
        &[WEB],
        "slug.toml:6:1",
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let manifest = r#"[runtimes.node]
url = "https://nodejs.org/dist/node.tar.gz"
sha256 = "abc"

[slugs.web]
source = "web"
runtimes = ["node", "ruby"]

[apps.example-web]
slug = "wbe"

[apps.x]
slug = "web"
"#;
    assert_invalid("many_problems", manifest, &[WEB], "slug.toml:3:10");
    let ctx = TestContext::new();
    ctx.write("slug.toml", manifest);
    ctx.write(WEB.0, WEB.1);
    let stderr = String::from_utf8(ctx.run(&["validate"]).stderr).unwrap();
    assert!(stderr.contains("slug.toml has 4 problems"), "{stderr}");
    let order: Vec<usize> = ["3:10]", "7:21]", "10:8]", "12:7]"]
        .iter()
        .map(|loc| {
            stderr
                .find(loc)
                .unwrap_or_else(|| panic!("{loc} missing: {stderr}"))
        })
        .collect();
    assert!(order.is_sorted(), "problems not in file order: {stderr}");
}

#[test]
fn unreadable_manifest_names_its_path_and_the_flag() {
    let ctx = TestContext::new();
    let out = ctx.run(&["validate", "-f", "nope.toml"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(
        "missing_manifest",
        redact(&String::from_utf8_lossy(&out.stderr), &ctx)
    );
}

#[test]
fn valid_manifest_prints_a_summary_and_json() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    ctx.write(
        "deploy/slug.toml",
        "[slugs.web]\nsource = \"../web\"\n\n[apps.example-web]\nslug = \"web\"\n",
    );
    let out = ctx.run(&["-f", "deploy/slug.toml", "validate"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "       Valid deploy/slug.toml: 0 runtimes, 1 slugs, 1 apps\n"
    );

    let quiet = ctx.run(&["-q", "validate", "-f", "deploy/slug.toml"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty());

    let json = ctx.run(&["validate", "--json", "-f", "deploy/slug.toml"]);
    assert_eq!(json.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "format_version": 1,
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
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["valid"], false);
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
    assert_eq!(errors[0]["labels"], serde_json::json!(["no such slug"]));
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

    let loaded = slugplan::manifest::load(&ctx.dir.join("slug.toml")).unwrap();
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
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\n\n[slugs.api]\nsource = \"web\"\nprocess_types = { web = \"bin/web\" }\n\n[slugs.bare]\nsource = \"web\"\n",
    );
    let loaded = slugplan::manifest::load(&ctx.dir.join("slug.toml")).unwrap();
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
    assert!(loaded.process_types("bare").unwrap().is_empty());
    assert!(matches!(
        loaded.process_types("nope"),
        Err(slugplan::manifest::ManifestError::NoSuchSlug { .. })
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
    let loaded = slugplan::manifest::load(Path::new(&ctx.dir.join("slug.toml"))).unwrap();
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
    insta::assert_snapshot!("diagnostic_at_default_key", redact(&rendered, &ctx));
}
