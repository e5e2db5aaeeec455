//! Manifests that name files outside the project, special files or huge values: `validate`
//! refuses each with a short diagnostic that quotes nothing it should not (issue 16, point 3).

use std::time::{Duration, Instant};

use super::errors::WEB;
use crate::common::{TestContext, slugplan_snapshot, stderr, stdout};

/// A value planted in the environment: no diagnostic may show it.
const SECRET: &str = "hunter2-do-not-print";

/// Runs `slugplan validate` and `slugplan validate --json` with [`SECRET`] in the environment,
/// each within 10 s, and returns the first's output after checking that neither shows the
/// secret and both exit 1.
fn refused(ctx: &TestContext, name: &str) {
    let started = Instant::now();
    let out = slugplan_snapshot!(
        ctx.filters(),
        ctx.slugplan(&["validate"]).env("HEROKU_API_KEY", SECRET),
        name = name
    );
    let json = ctx
        .command()
        .args(["validate", "--json"])
        .env("HEROKU_API_KEY", SECRET)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "validate hung");
    for (what, out) in [("validate", &out), ("validate --json", &json)] {
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(out));
        let all = format!("{}{}", stdout(out), stderr(out));
        assert!(
            !all.contains(SECRET),
            "{what} printed the environment:\n{all}"
        );
    }
}

#[test]
fn a_procfile_outside_the_project_is_never_read() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    ctx.write(
        "slug.toml",
        "[slugs.env]\nsource = \"web\"\nprocfile = \"/proc/self/environ\"\n\n\
         [slugs.up]\nsource = \"web\"\nprocfile = \"../../home/.netrc\"\n",
    );
    refused(&ctx, "procfile_outside_project");
}

#[test]
fn a_procfile_symlinked_out_of_the_project_is_never_read() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    std::fs::write(
        ctx.home.join(".netrc"),
        format!("machine api.heroku.com login me password {SECRET}\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(ctx.home.join(".netrc"), ctx.dir.join("web/Procfile")).unwrap();
    ctx.write(
        "slug.toml",
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\n",
    );
    refused(&ctx, "procfile_symlinked_out");
}

#[test]
fn a_procfile_that_is_a_device_or_a_fifo_is_refused_without_reading_it() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    std::fs::create_dir_all(ctx.dir.join("fifo")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(ctx.dir.join("fifo/Procfile"))
        .status()
        .unwrap();
    assert!(made.success());
    ctx.write(
        "slug.toml",
        "[slugs.zero]\nsource = \"web\"\nprocfile = \"/dev/zero\"\n\n\
         [slugs.fifo]\nsource = \"fifo\"\n",
    );
    refused(&ctx, "procfile_special_files");
}

#[test]
fn a_huge_procfile_is_refused_by_its_size() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    let huge = "web: node web.js\n".repeat(100_000);
    ctx.write("web/Procfile", huge);
    ctx.write("slug.toml", "[slugs.web]\nsource = \"web\"\n");
    refused(&ctx, "procfile_too_large");
}

#[test]
fn sources_runtime_dirs_and_go_modules_stay_inside_the_project() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    std::os::unix::fs::symlink("/etc", ctx.dir.join("etc")).unwrap();
    ctx.write(
        "slug.toml",
        "[runtimes.tools]\npath = \"/usr/lib\"\n\n\
         [slugs.up]\nsource = \"..\"\n\n\
         [slugs.linked]\nsource = \"etc\"\n\n\
         [slugs.go]\nsource = \"web\"\n\n[slugs.go.go]\nmodule = \"../..\"\noutput = \"bin/x\"\n",
    );
    refused(&ctx, "paths_outside_project");
}

/// Only the offending line of a Procfile is quoted: not the lines around it.
#[test]
fn a_procfile_diagnostic_quotes_the_offending_line_only() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    ctx.write(
        "web/Procfile",
        format!("# token: {SECRET}\nweb node web.js\n# {SECRET}\n"),
    );
    ctx.write(
        "slug.toml",
        "[slugs.web]\nsource = \"web\"\nprocfile = \"Procfile\"\n",
    );
    refused(&ctx, "procfile_offending_line_only");
}

/// A 10 MB app name: the diagnostic names it cut short, and quotes its line cut short.
#[test]
fn a_huge_app_name_gives_a_short_diagnostic() {
    let ctx = TestContext::new();
    ctx.write(WEB.0, WEB.1);
    let name = "a".repeat(10 << 20);
    ctx.write(
        "slug.toml",
        format!("[slugs.web]\nsource = \"web\"\n\n[apps.{name}]\nslug = \"web\"\n"),
    );
    let out = slugplan_snapshot!(
        ctx.filters(),
        ctx.slugplan(&["validate"]),
        name = "huge_app_name"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of diagnostic",
        out.stderr.len()
    );
    let json = ctx.run(&["validate", "--json"]);
    assert!(
        json.stdout.len() < 4096,
        "{} bytes of JSON",
        json.stdout.len()
    );
}
