//! `slugplan init`: a commented slug.toml from what a project holds, which `slugplan validate`
//! accepts for every kind of project; never over an existing file; `.slugplan/` ignored once.

use crate::common::{TestContext, slugplan_snapshot};

/// Runs `slugplan init` in `ctx`, snapshots what it printed (under `name`) and the manifest
/// it wrote (`name`_manifest), and checks `slugplan validate` accepts it.
fn init_and_validate(ctx: &TestContext, name: &str) {
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["init"]), name = name);
    let manifest = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    assert!(manifest.starts_with("#:schema https://slugplan.dev/slug.schema.json\n"));
    insta::assert_snapshot!(format!("{name}_manifest"), manifest);
    let validate = ctx.run(&["validate"]);
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
}

#[test]
fn a_node_project_gets_the_official_runtime_of_its_engines_version() {
    let ctx = TestContext::new();
    ctx.write(
        "package.json",
        r#"{"name": "shop", "engines": {"node": "20.11.0"}, "scripts": {"start": "node server.js"}}"#,
    );
    ctx.write(
        "server.js",
        "require('http').createServer().listen(process.env.PORT)\n",
    );
    init_and_validate(&ctx, "init_node");
    let loaded = ctx.load_manifest();
    let node = &loaded.manifest.runtimes["node"];
    assert_eq!(
        node.url.as_deref(),
        Some("https://nodejs.org/dist/v20.11.0/node-v20.11.0-linux-x64.tar.gz")
    );
    assert_eq!(node.strip_components, 1);
    assert_eq!(node.dest.as_deref(), Some("node-v20.11.0-linux-x64"));
    let types = loaded.manifest.slugs["web"].process_types.clone().unwrap();
    assert_eq!(types["web"], "node-v20.11.0-linux-x64/bin/node server.js");
}

#[test]
fn a_node_range_takes_its_lowest_version_and_says_so() {
    let ctx = TestContext::new();
    ctx.write("package.json", r#"{"engines": {"node": "^22.11"}}"#);
    ctx.write("Procfile", "web: node-v22.11.0-linux-x64/bin/node web.js\n");
    ctx.write("web.js", "\n");
    init_and_validate(&ctx, "init_node_range");
}

#[test]
fn a_ruby_project_gets_herokus_ruby_for_the_stack() {
    let ctx = TestContext::new();
    ctx.write(".ruby-version", "ruby-3.2.2\n");
    ctx.write("Gemfile", "source 'https://rubygems.org'\nruby '3.2.2'\n");
    ctx.write("server.rb", "puts 'hi'\n");
    init_and_validate(&ctx, "init_ruby");
    let out = ctx.run(&["-f", "heroku-22.toml", "init", "--stack", "heroku-22"]);
    assert!(out.status.success());
    let loaded = slugplan::manifest::load(&ctx.path().join("heroku-22.toml")).unwrap();
    assert_eq!(
        loaded.manifest.runtimes["ruby"].url.as_deref(),
        Some("https://heroku-buildpack-ruby.s3.us-east-1.amazonaws.com/heroku-22/ruby-3.2.2.tgz")
    );
}

#[test]
fn a_go_module_gets_a_go_build_and_a_procfile_is_read() {
    let ctx = TestContext::new();
    ctx.write("go.mod", "module github.com/example/hello-api\n\ngo 1.22\n");
    ctx.write("main.go", "package main\n\nfunc main() {}\n");
    ctx.write(
        "Procfile",
        "web: bin/hello-api\nworker: bin/hello-api -worker\n",
    );
    init_and_validate(&ctx, "init_go");
}

#[test]
fn a_procfile_alone_is_enough() {
    let ctx = TestContext::new();
    ctx.write("Procfile", "web: ./run.sh\n");
    ctx.write("run.sh", "#!/bin/sh\n");
    init_and_validate(&ctx, "init_procfile");
}

#[test]
fn init_never_overwrites_and_ignores_the_state_dir_once() {
    let ctx = TestContext::new();
    ctx.write(".gitignore", "node_modules/");
    ctx.write("Procfile", "web: ./run.sh\n");
    assert!(ctx.run(&["init", "--app", "shop"]).status.success());
    let written = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["init"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::init::exists

      × slug.toml exists already; slugplan init never overwrites it
      help: edit it (`slugplan validate` checks it), or write another with `slugplan -f PATH init`
    ");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap(),
        written,
        "untouched"
    );
    // Another manifest in the same directory: .gitignore has the line already.
    assert!(ctx.run(&["-f", "other.toml", "init"]).status.success());
    let ignore = std::fs::read_to_string(ctx.path().join(".gitignore")).unwrap();
    insta::assert_snapshot!(ignore, @"
    node_modules/
    # slugplan's state and the local platform (`slugplan init`)
    .slugplan/
    ");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["init", "--app", "Not_An_App", "-f", "x.toml", "--json"]), @r#"
    exit code: 1
    ----- stdout -----
    {
      "error": {
        "causes": [],
        "code": "slugplan::init::app_name",
        "column": null,
        "file": null,
        "help": "app names are 3 to 30 of a-z, 0-9 and -, starting with a letter: pass --app NAME",
        "labels": [],
        "line": null,
        "message": "`Not_An_App` is not a valid app name",
        "related": []
      },
      "format_version": 1
    }

    ----- stderr -----
    slugplan::init::app_name

      × `Not_An_App` is not a valid app name
      help: app names are 3 to 30 of a-z, 0-9 and -, starting with a letter: pass --app NAME
    "#);
}

#[test]
fn init_json_says_what_it_found_and_wrote() {
    let ctx = TestContext::new();
    ctx.write("package.json", r#"{"main": "web.js"}"#);
    ctx.write("web.js", "\n");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["init", "--app", "shop", "--json"]), @r#"
    exit code: 0
    ----- stdout -----
    {
      "format_version": 1,
      "init": {
        "app": "shop",
        "found": {
          "go": null,
          "node": {
            "engines": null,
            "script": "web.js",
            "version": "22.11.0"
          },
          "notes": [
            "package.json has no engines.node: Node.js 22.11.0 (an LTS release) is used; set engines.node to the version you test with"
          ],
          "procfile": null,
          "ruby": null
        },
        "gitignore": ".gitignore",
        "gitignore_updated": true,
        "manifest": "slug.toml",
        "runtimes": [
          "node"
        ]
      }
    }

    ----- stderr -----
    "#);
}
