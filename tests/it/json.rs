//! The JSON contract: every `--json` prints exactly one document on stdout, with
//! `format_version`, full checksums, and when the command fails an `error` object (code,
//! message, causes, help, labels with file, line and column, related errors), the exit code
//! being what it is without `--json`.

use serde_json::Value;

use crate::common::project::Project;
use crate::common::slugplan_snapshot;

/// A project with one slug released to one app, on `p`'s platform.
fn project(p: Project) -> Project {
    p.ctx.write("web/web.js", "console.log('Hello World')\n");
    let platform = p.platform_table();
    let create = if p.is_served() { "create = true\n" } else { "" };
    p.ctx.write(
        "slug.toml",
        format!(
            "{platform}\n[slugs.web]\nsource = \"web\"\nprocess_types = {{ web = \"node web.js\" }}\n\n[apps.json-staging]\nslug = \"web\"\n{create}"
        ),
    );
    p
}

/// Runs `args`, asserts the exit code and that stdout is one JSON document, and returns it.
fn document(p: &Project, args: &[&str], code: i32) -> Value {
    let out = p.run(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"));
    assert!(doc["format_version"].is_u64(), "{args:?}: {doc:#}");
    doc
}

#[test]
fn every_command_prints_one_versioned_document() {
    let p = project(Project::local());
    for args in [
        &["validate", "--json"][..],
        &["graph", "--json"],
        &["build", "--json"],
        &["plan", "--json"],
        &["lock", "--json"],
        &["fetch", "--json"],
        &["apply", "--yes", "--json"],
        &["releases", "json-staging", "--json"],
        &["ps", "--json"],
        &["ps", "json-staging", "--json"],
        &["history", "--json"],
        &["cache", "ls", "--json"],
        &["cache", "prune", "--older-than", "100w", "--json"],
    ] {
        document(&p, args, 0);
    }
    // Full checksums, in reasons too: only renderings for people shorten them.
    p.ctx.write("web/web.js", "console.log('v2')\n");
    let plan = document(&p, &["plan", "--json"], 0);
    let release = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["address"] == "release.json-staging")
        .unwrap();
    let reason = release["reason"].as_str().unwrap();
    assert!(!reason.contains('…'), "{reason}");
    assert!(
        reason.contains(release["after"].as_str().unwrap()),
        "{reason}"
    );
    let graph = document(&p, &["graph", "--json"], 0);
    insta::assert_snapshot!(serde_json::to_string_pretty(&graph).unwrap(), @r#"
    {
      "format_version": 1,
      "steps": [
        {
          "address": "app.json-staging",
          "depends_on": [],
          "step": {
            "app": "json-staging",
            "kind": "ensure_app"
          }
        },
        {
          "address": "slug.web@heroku-24",
          "depends_on": [],
          "step": {
            "kind": "assemble_slug",
            "slug": "web",
            "stack": "heroku-24"
          }
        },
        {
          "address": "upload.web→json-staging",
          "depends_on": [
            "app.json-staging",
            "slug.web@heroku-24"
          ],
          "step": {
            "app": "json-staging",
            "kind": "upload",
            "slug": "web"
          }
        },
        {
          "address": "release.json-staging",
          "depends_on": [
            "app.json-staging",
            "upload.web→json-staging"
          ],
          "step": {
            "app": "json-staging",
            "kind": "release",
            "slug": "web"
          }
        }
      ]
    }
    "#);
}

#[test]
fn a_failure_is_a_document_with_the_error_and_the_same_exit_code() {
    let p = project(Project::local());
    p.ctx
        .write("slug.toml", "[apps.json-staging]\nslug = \"nope\"\n");
    for args in [
        &["plan", "--json"][..],
        &["apply", "--yes", "--json"],
        &["graph", "--json"],
        &["build", "--json"],
    ] {
        let doc = document(&p, args, 1);
        assert_eq!(
            doc["error"]["code"], "slugplan::manifest::unknown_slug",
            "{args:?}"
        );
    }
    slugplan_snapshot!(p.ctx.filters(), p.command(&["plan", "--json"]), @r#"
    exit code: 1
    ----- stdout -----
    {
      "error": {
        "causes": [],
        "code": "slugplan::manifest::unknown_slug",
        "column": 8,
        "file": "slug.toml",
        "help": "no slugs are defined in this manifest",
        "labels": [
          {
            "column": 8,
            "file": "slug.toml",
            "label": "no such slug",
            "line": 2
          }
        ],
        "line": 2,
        "message": "app `json-staging` runs slug `nope`, which is not defined",
        "related": []
      },
      "format_version": 1
    }

    ----- stderr -----
    slugplan::manifest::unknown_slug

      × app `json-staging` runs slug `nope`, which is not defined
       ╭─[slug.toml:2:8]
     1 │ [apps.json-staging]
     2 │ slug = "nope"
       ·        ───┬──
       ·           ╰── no such slug
       ╰────
      help: no slugs are defined in this manifest
    "#);
}

#[test]
fn a_failed_apply_reports_its_steps_and_the_error() {
    let p = project(Project::served(&["--fault-release-fail-every", "1"]));
    let doc = document(&p, &["apply", "--yes", "--json"], 1);
    assert_eq!(doc["applied"], true);
    assert_eq!(doc["outcome"], Value::Null);
    assert_eq!(
        doc["error"]["message"],
        "1 step failed: release.json-staging"
    );
    let related = doc["error"]["related"].as_array().unwrap();
    assert_eq!(related.len(), 1, "{doc:#}");
    let steps: Vec<(&str, &str)> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["address"].as_str().unwrap(),
                s["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        steps.contains(&("release.json-staging", "failed")),
        "{steps:?}"
    );
    // The same keys when it succeeds: a script reads one shape.
    let plain = project(Project::local());
    let ok = document(&plain, &["apply", "--yes", "--json"], 0);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ok), keys(&doc));
    assert_eq!(ok["error"], Value::Null);
}

#[test]
fn a_usage_error_with_json_is_a_document_too() {
    let p = project(Project::local());
    slugplan_snapshot!(p.ctx.filters(), p.command(&["plan", "--json", "--no-such-flag"]), @r#"
    exit code: 1
    ----- stdout -----
    {
      "error": {
        "causes": [],
        "code": "slugplan::usage",
        "column": null,
        "file": null,
        "help": "see `slugplan --help` and `slugplan <command> --help`",
        "labels": [],
        "line": null,
        "message": "unexpected argument '--no-such-flag' found",
        "related": []
      },
      "format_version": 1
    }

    ----- stderr -----
    error: unexpected argument '--no-such-flag' found

    Usage: slugplan plan --json

    For more information, try '--help'.
    "#);
    // Without --json, clap's message alone.
    assert!(p.run(&["plan", "--no-such-flag"]).stdout.is_empty());
}
