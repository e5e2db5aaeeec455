//! The diagnostic of each manifest error kind, as a user sees it.
//!
//! Each case runs the real binary on a small manifest and snapshots its output (`NO_COLOR=1`),
//! and separately asserts the exit code and the `file:line:column` it points at, so a snapshot
//! accepted by mistake still cannot hide a wrong location.

use crate::common::{TestContext, slugplan_snapshot, stderr};

/// Writes `manifest` as slug.toml (plus `files`), runs `slugplan validate`, snapshots its output
/// as `name`, checks it failed with exit code 1 at `location` (`slug.toml:3:8`), and returns
/// its stderr.
fn assert_invalid(name: &str, manifest: &str, files: &[(&str, &str)], location: &str) -> String {
    let ctx = TestContext::new();
    ctx.write("slug.toml", manifest);
    for (path, contents) in files {
        ctx.write(path, contents);
    }
    let out = slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["validate"]), name = name);
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no data on stdout for an error");
    assert!(
        stderr.contains(&format!("[{location}]")),
        "expected a snippet at {location}:\n{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "NO_COLOR output has escapes");
    stderr
}

/// The source directory most test manifests name.
pub(super) const WEB: (&str, &str) = ("web/web.js", "console.log('Hello World')\n");

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
    let stderr = assert_invalid("promotion_cycle", manifest, &[], "slug.toml:2:16");
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
fn promote_without_promote_from() {
    assert_invalid(
        "promote_without_promote_from",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-a]\nslug = \"web\"\npromote = \"auto\"\n",
        &[WEB],
        "slug.toml:6:1",
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
        &[WEB, ("web/go.mod", "module example.com/web\n")],
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
    let stderr = assert_invalid("many_problems", manifest, &[WEB], "slug.toml:3:10");
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
    let out = slugplan_snapshot!(
        ctx.filters(),
        ctx.slugplan(&["validate", "-f", "nope.toml"]),
        name = "missing_manifest"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_malformed_reference_is_underlined_where_it_is_written() {
    assert_invalid(
        "malformed_reference",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\n\
         config = { DATABASE_URL = \"postgres://u:${DB PASSWORD}@db\" }\n",
        &[WEB],
        "slug.toml:6:41",
    );
}

#[test]
fn a_config_value_of_another_type_says_what_is_expected() {
    assert_invalid(
        "config_value_type",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\n\
         [apps.example-web.config]\nWORKERS = 4\n",
        &[WEB],
        "slug.toml:7:11",
    );
}

#[test]
fn a_config_var_name_the_api_refuses_is_underlined() {
    assert_invalid(
        "config_var_name",
        "[slugs.web]\nsource = \"web\"\n\n[apps.example-web]\nslug = \"web\"\n\
         [apps.example-web.config]\n\"SESSION-SECRET\" = \"x\"\n",
        &[WEB],
        "slug.toml:7:1",
    );
}

#[test]
fn a_stack_slugplan_does_not_know_is_refused_by_validate_as_by_plan() {
    assert_invalid(
        "unknown_stack",
        "[slugs.web]\nsource = \"web\"\nstack = \"heroku-42\"\n",
        &[WEB],
        "slug.toml:3:9",
    );
}

/// serde stops at the first unknown key; the shape check reports each, with every wrong type
/// and missing key, at once.
#[test]
fn every_unknown_key_and_wrong_type_is_reported_at_once() {
    let stderr = assert_invalid(
        "many_shape_problems",
        "[slugs.web]\nsource = \"web\"\nfoo = 1\nbar = 2\n\n[slugs.web.go]\nouput = \"bin/web\"\n\n[apps.example-web]\nslug = \"web\"\ncreate = \"yes\"\n",
        &[WEB],
        "slug.toml:3:1",
    );
    assert!(stderr.contains("slug.toml has 5 problems"), "{stderr}");
}

#[test]
fn strip_components_is_bounded() {
    assert_invalid(
        "strip_components_bound",
        "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\nstrip_components = 4294967295\n",
        &[],
        "slug.toml:3:20",
    );
    // Beyond the integer type itself: the shape check, before serde.
    assert_invalid(
        "strip_components_overflow",
        "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\nstrip_components = 4294967296\n",
        &[],
        "slug.toml:3:20",
    );
}

/// A NUL cannot be stored in a tar name: the tree would be corrupt.
#[test]
fn a_dest_with_a_nul_is_refused() {
    assert_invalid(
        "dest_nul",
        "[runtimes.node]\nurl = \"https://nodejs.org/dist/node.tar.gz\"\ndest = \"no\\u0000de\"\n",
        &[],
        "slug.toml:3:8",
    );
}

#[test]
fn a_missing_file_url_archive_is_reported_with_its_runtime_and_line() {
    assert_invalid(
        "file_url_missing",
        "[runtimes.node]\nurl = \"file:runtimes/node.tgz\"\n",
        &[],
        "slug.toml:2:7",
    );
}

#[test]
fn a_go_build_needs_its_module_and_the_stacks_platform() {
    assert_invalid(
        "go_module_and_target",
        "[slugs.api]\nsource = \"web\"\n\n[slugs.api.go]\nmodule = \"cmd\"\noutput = \"bin/api\"\ngoarch = \"arm64\"\n",
        &[WEB],
        "slug.toml:5:10",
    );
}

/// Heroku reads the source's Procfile when nothing else is said, and so does slugplan: a
/// broken one fails validation instead of a slug with no process types being released.
#[test]
fn the_source_procfile_is_read_without_a_procfile_key() {
    assert_invalid(
        "default_procfile_malformed",
        "[slugs.web]\nsource = \"web\"\n",
        &[
            WEB,
            ("web/Procfile", "web: node web.js\nworker node worker.js\n"),
        ],
        "web/Procfile:2:1",
    );
}

#[test]
fn include_patterns_climbing_out_of_the_source_are_refused() {
    assert_invalid(
        "include_climbs_out",
        "[slugs.web]\nsource = \"web\"\ninclude = [\"../secrets/**\"]\n",
        &[WEB],
        "slug.toml:3:12",
    );
}

#[test]
fn a_data_dir_that_is_a_file_is_refused() {
    assert_invalid(
        "data_dir_file",
        "[platform]\ndata_dir = \"state.txt\"\n",
        &[("state.txt", "not a directory")],
        "slug.toml:2:12",
    );
}
