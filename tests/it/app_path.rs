//! The one rule for paths slug.toml writes inside `./app` (a runtime's `dest`, a Go `output`),
//! at both places that apply it: `slugplan validate` and the build. Each case of one table is
//! checked at both, so they cannot disagree again (they did on `a/./b`: validation passed it,
//! the build refused it).

use slugplan::build::{BuildError, BuildOptions, build_slug};
use slugplan::cache::Cache;
use slugplan::manifest::{GoBuild, LoadedManifest};

use crate::common::{TestContext, expect_exit};
use crate::slug::tar_listing;

/// Values refused as a `dest` and as a Go `output`, with the reason both call sites give.
const REFUSED: &[(&str, &str)] = &[
    ("/opt/rt", "is absolute"),
    ("../rt", "climbs out with `..`"),
    ("vendor/../../rt", "climbs out with `..`"),
    ("vendor/../rt", "climbs out with `..`"),
    ("vendor//rt", "has an empty component (`//`)"),
    ("vendor/r\0t", "contains a control character"),
    ("vendor/rt\n", "contains a control character"),
];

/// Values accepted as a `dest`, and the directory under `./app` the runtime lands in.
const ACCEPTED_DESTS: &[(&str, &str)] = &[
    ("a/./b", "./app/a/b/"),
    ("./vendor/rt/", "./app/vendor/rt/"),
    ("vendor/rt", "./app/vendor/rt/"),
    ("./", "./app/"),
];

/// `value` as a TOML basic string (JSON's escapes are TOML's).
fn toml_string(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

/// A project whose slug `web` carries runtime `rt` (a local directory) at `dest`.
fn project(dest: &str) -> TestContext {
    let ctx = TestContext::new();
    ctx.write("rt/bin/tool", "#!/bin/sh\n");
    ctx.write("web/web.js", "console.log('hi')\n");
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.rt]\npath = \"rt\"\ndest = {}\n\n[slugs.web]\nsource = \"web\"\nruntimes = [\"rt\"]\n",
            toml_string(dest)
        ),
    );
    ctx
}

/// The manifest of a valid project, to be changed by hand the way validation would refuse:
/// the builder applies the rule on its own too.
fn loaded(ctx: &TestContext) -> LoadedManifest {
    slugplan::manifest::load(&ctx.path().join("slug.toml")).expect("a valid manifest")
}

fn build(ctx: &TestContext, loaded: &LoadedManifest) -> Result<(), BuildError> {
    build_slug(
        loaded,
        "web",
        &Cache::new(&ctx.cache),
        &BuildOptions::default(),
    )
    .map(drop)
}

fn assert_bad_path(result: Result<(), BuildError>, value: &str, why: &str) {
    match result {
        Err(BuildError::BadPath {
            value: got, reason, ..
        }) => {
            assert_eq!(got, value);
            assert_eq!(reason.to_string(), why, "{value:?}");
        }
        other => panic!("{value:?}: expected a bad path, got {other:?}"),
    }
}

#[test]
fn validation_refuses_each_dest_and_go_output_outside_app() {
    for (value, why) in REFUSED {
        let ctx = project(value);
        let out = ctx.run(&["validate"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{value:?}: {stderr}");
        assert!(stderr.contains("path_outside_app"), "{value:?}: {stderr}");
        let message = format!("dest `{}` {why}", value.escape_debug());
        assert!(stderr.contains(&message), "{value:?}: {stderr}");

        let ctx = TestContext::new();
        ctx.write("web/web.js", "");
        ctx.write(
            "slug.toml",
            format!(
                "[slugs.api]\nsource = \"web\"\n\n[slugs.api.go]\noutput = {}\n",
                toml_string(value)
            ),
        );
        let stderr = String::from_utf8_lossy(&ctx.run(&["validate"]).stderr).into_owned();
        let message = format!("go output `{}` {why}", value.escape_debug());
        assert!(stderr.contains(&message), "{value:?}: {stderr}");
    }
}

#[test]
fn the_build_refuses_each_dest_and_go_output_outside_app() {
    let ctx = project("vendor/rt");
    for (value, why) in REFUSED {
        let mut manifest = loaded(&ctx);
        let rt = manifest.manifest.runtimes.get_mut("rt").unwrap();
        rt.dest = Some((*value).to_owned());
        assert_bad_path(build(&ctx, &manifest), value, why);

        // Refused before `go build` runs: no Go module is needed to get here.
        let mut manifest = loaded(&ctx);
        let web = manifest.manifest.slugs.get_mut("web").unwrap();
        web.go = Some(GoBuild {
            module: ".".into(),
            package: ".".into(),
            output: (*value).to_owned(),
            goos: "linux".into(),
            goarch: "amd64".into(),
        });
        assert_bad_path(build(&ctx, &manifest), value, why);
    }
    let left = std::fs::read_dir(ctx.cache.join("slugs-v1"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "no slug is written");
}

#[test]
fn a_go_output_cannot_be_app_itself_at_either_call_site() {
    for value in ["", ".", "./"] {
        let ctx = TestContext::new();
        ctx.write("web/web.js", "");
        ctx.write(
            "slug.toml",
            format!("[slugs.web]\nsource = \"web\"\n\n[slugs.web.go]\noutput = \"{value}\"\n"),
        );
        let stderr = String::from_utf8_lossy(&ctx.run(&["validate"]).stderr).into_owned();
        let message = format!("go output `{value}` is ./app itself, not a file inside it");
        assert!(stderr.contains(&message), "{value:?}: {stderr}");

        let ctx = project("vendor/rt");
        let mut manifest = loaded(&ctx);
        manifest.manifest.slugs.get_mut("web").unwrap().go = Some(GoBuild {
            module: ".".into(),
            package: ".".into(),
            output: value.to_owned(),
            goos: "linux".into(),
            goarch: "amd64".into(),
        });
        assert_bad_path(
            build(&ctx, &manifest),
            value,
            "is ./app itself, not a file inside it",
        );
    }
}

/// The regression: `a/./b` passed validation and failed the build. Now both accept each value
/// and the build places the runtime where the normalised path says.
#[test]
fn validation_and_build_accept_the_same_dests_and_place_them_normalised() {
    for (value, dir) in ACCEPTED_DESTS {
        let ctx = project(value);
        expect_exit(&ctx.run(&["validate"]), &["validate"], 0);
        let args = ["build", "--json"];
        let json: serde_json::Value =
            serde_json::from_str(&expect_exit(&ctx.run(&args), &args, 0)).unwrap();
        let path = json["slugs"][0]["path"].as_str().unwrap();
        let names: Vec<String> = tar_listing(path.as_ref())
            .into_iter()
            .map(|row| row.3)
            .collect();
        let tool = format!("{dir}bin/tool");
        assert!(names.contains(&tool), "{value:?}: {names:?}");
        assert!(
            names
                .iter()
                .all(|n| !n.contains("/./") && !n.contains("//")),
            "{value:?}: {names:?}"
        );
    }
}
