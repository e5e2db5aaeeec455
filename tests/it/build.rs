//! Integration tests: `slugplan build` — output, choosing the app's files, and refusing hostile
//! input without leaving a partial slug in the cache.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::{Command, Output};

use crate::common::TestContext;
use crate::slug::{build, fixture, run, tar_listing};

/// Asserts that `slugplan build` fails naming `needle` and leaves nothing in the slug bucket.
fn assert_refused(ctx: &TestContext, out: Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(needle),
        "stderr does not name {needle}: {stderr}"
    );
    let bucket = ctx.cache.join("slugs-v1");
    let left: Vec<_> = std::fs::read_dir(&bucket)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "partial slug left behind: {left:?}");
}

#[test]
fn symlink_escaping_app_is_refused() {
    let ctx = fixture();
    symlink("../../../etc/passwd", ctx.path().join("src/lib/escape")).unwrap();
    let out = ctx.run(&["build"]);
    assert_refused(&ctx, out, "./app/lib/escape -> ../../../etc/passwd");
}

#[test]
fn fifo_is_refused() {
    let ctx = fixture();
    run(Command::new("mkfifo").arg(ctx.path().join("rt/lib/pipe")));
    let out = ctx.run(&["build"]);
    assert_refused(&ctx, out, "rt/lib/pipe is a fifo");
}

#[test]
fn socket_is_refused() {
    let ctx = fixture();
    let socket = ctx.path().join("src/lib/app.sock");
    // Python binds a Unix socket and exits; the socket file stays behind.
    run(Command::new("python3")
        .args([
            "-c",
            "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
        ])
        .arg(&socket));
    let out = ctx.run(&["build"]);
    assert_refused(&ctx, out, "src/lib/app.sock is a socket");
}

#[test]
fn build_without_names_builds_every_slug() {
    let ctx = fixture();
    let manifest = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    ctx.write(
        "slug.toml",
        format!("{manifest}\n[slugs.api]\nsource = \"src/lib\"\n"),
    );
    let out = ctx.run(&["build", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["slugs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(doc["format_version"], 1);
    assert_ne!(doc["slugs"][0]["checksum"], doc["slugs"][1]["checksum"]);
}

#[test]
fn unreadable_file_is_refused() {
    let ctx = fixture();
    // After the big runtime file, so chunks are already being written when reading fails.
    let secret = ctx.path().join("src/lib.js");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads mode-000 files through CAP_DAC_OVERRIDE; when this test runs with that power,
    // run slugplan without it (and without CAP_DAC_READ_SEARCH) so the file is really unreadable.
    let privileged = std::fs::read(&secret).is_ok();
    let mut cmd = ctx.command();
    if privileged {
        let program = cmd.get_program().to_owned();
        let mut wrapped = Command::new("setpriv");
        wrapped
            .arg("--bounding-set=-dac_override,-dac_read_search")
            .arg(program)
            .current_dir(ctx.path());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        cmd = wrapped;
    }
    let out = cmd.arg("build").output().unwrap();
    assert_refused(&ctx, out, "cannot read ./src/lib.js");
}

#[test]
fn runtime_and_app_providing_the_same_path_is_an_error_naming_both() {
    let ctx = fixture();
    std::fs::create_dir_all(ctx.path().join("src/vendor/rt")).unwrap();
    std::fs::write(ctx.path().join("src/vendor/rt/x"), "x").unwrap();
    let out = ctx.run(&["build"]);
    assert_refused(
        &ctx,
        out,
        "./app/vendor/rt is provided by both `runtime.rt` and `app`",
    );
}

#[test]
fn build_prints_name_checksum_size_and_path() {
    let ctx = fixture();
    let out = ctx.run(&["build", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = stdout.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 4, "{stdout}");
    assert_eq!(fields[0], "web");
    let sha = fields[1].strip_prefix("SHA256:").unwrap();
    assert_eq!(
        fields[3],
        ctx.cache
            .join(format!("slugs-v1/{sha}.tgz"))
            .display()
            .to_string()
    );
    assert_eq!(
        fields[2],
        std::fs::metadata(fields[3]).unwrap().len().to_string()
    );

    let out = ctx.run(&["build", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no slug `nope`"));
}

#[test]
fn app_files_follow_include_exclude_slugignore_and_leave_out_slugplans_own() {
    let ctx = TestContext::new();
    ctx.write(
        "slug.toml",
        "[slugs.web]\ninclude = [\"web.js\", \"lib/*.js\", \"docs\", \"*.tmp\"]\n\
         exclude = [\"docs/secret*\"]\n",
    );
    for rel in [
        "web.js",
        "lib/a.js",
        "lib/b.txt",
        "lib/deep/c.js",
        "docs/x.md",
        "docs/secret.md",
        "docs/scratch.tmp",
        "slug.lock",
        ".slugplan/state/db",
        ".git/HEAD",
        "other/z.js",
    ] {
        ctx.write(rel, rel);
    }
    ctx.write(".slugignore", "*.tmp\n");
    let (_, slug) = build(&ctx, ctx.path(), &[]);
    let names: Vec<String> = tar_listing(&slug).into_iter().map(|row| row.3).collect();
    assert_eq!(
        names,
        [
            "./app/",
            "./app/docs/",
            "./app/docs/x.md",
            "./app/lib/",
            "./app/lib/a.js",
            "./app/web.js"
        ]
    );

    // Without include patterns everything is in, except slugplan's own files and .git.
    ctx.write(
        "slug.toml",
        "[slugs.web]\nexclude = [\"docs\", \"lib\", \"other/\"]\n",
    );
    let (_, slug) = build(&ctx, ctx.path(), &[]);
    let names: Vec<String> = tar_listing(&slug).into_iter().map(|row| row.3).collect();
    assert_eq!(names, ["./app/", "./app/.slugignore", "./app/web.js"]);
}
