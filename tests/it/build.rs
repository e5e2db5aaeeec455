//! Integration tests: `slugplan build` — output, choosing the app's files, and refusing hostile
//! input without leaving a partial slug in the cache.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Command;

use crate::common::{TestContext, run_ok, slugplan_snapshot, stderr, stdout};
use crate::slug::{build, fixture, tar_listing};

/// Asserts that nothing was left in the slug bucket (by a build that was refused).
fn assert_nothing_cached(ctx: &TestContext) {
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
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
      × slug `web` could not be packed
      ╰─▶ symlink ./app/lib/escape -> ../../../etc/passwd points outside ./app
      help: the slug is extracted on another machine: point the link inside the app, or exclude it
    ");
    assert_nothing_cached(&ctx);
}

#[test]
fn fifo_is_refused() {
    let ctx = fixture();
    run_ok(Command::new("mkfifo").arg(ctx.path().join("rt/lib/pipe")));
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
      × slug `web` could not be packed
      ╰─▶ ./rt/lib/pipe is a fifo; a slug can only hold files, directories and symlinks
      help: remove it, or leave it out with `exclude` or .slugignore
    ");
    assert_nothing_cached(&ctx);
}

#[test]
fn socket_is_refused() {
    let ctx = fixture();
    let socket = ctx.path().join("src/lib/app.sock");
    // Python binds a Unix socket and exits; the socket file stays behind.
    run_ok(
        Command::new("python3")
            .args([
                "-c",
                "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
            ])
            .arg(&socket),
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
      × slug `web` could not be packed
      ╰─▶ ./src/lib/app.sock is a socket; a slug can only hold files, directories and symlinks
      help: remove it, or leave it out with `exclude` or .slugignore
    ");
    assert_nothing_cached(&ctx);
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
    assert!(out.status.success(), "{}", stderr(&out));
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
        cmd = Command::new("setpriv");
        cmd.arg("--bounding-set=-dac_override,-dac_read_search")
            .arg(crate::common::slugplan_bin())
            .current_dir(ctx.path());
        ctx.apply_env(&mut cmd);
    }
    cmd.arg("build");
    slugplan_snapshot!(ctx.filters(), cmd, @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
         Packing web (3.74 MB of tar)
      × slug `web` could not be packed
      ├─▶ cannot read ./src/lib.js
      ╰─▶ Permission denied (os error 13)
      help: make the file readable, or leave it out with `exclude` or .slugignore
    ");
    assert_nothing_cached(&ctx);
}

#[test]
fn runtime_and_app_providing_the_same_path_is_an_error_naming_both() {
    let ctx = fixture();
    std::fs::create_dir_all(ctx.path().join("src/vendor/rt")).unwrap();
    std::fs::write(ctx.path().join("src/vendor/rt/x"), "x").unwrap();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
      × slug `web` could not be packed
      ╰─▶ ./app/vendor/rt is provided by both `runtime.rt` and `app`
      help: change a runtime's `dest` or the Go `output`, or exclude the path from the app's files
    ");
    assert_nothing_cached(&ctx);
}

#[test]
fn build_prints_name_checksum_size_and_path() {
    let ctx = fixture();
    let out = slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build", "web"]), @"
    exit code: 0
    ----- stdout -----
    web	SHA256:5faaf7d219a87a98c75bade1c5770a56b445f7967ebb7cee2c124a38051e93f4	969243	[CACHE]/slugs-v1/5faaf7d219a87a98c75bade1c5770a56b445f7967ebb7cee2c124a38051e93f4.tgz

    ----- stderr -----
         Fetched rt (cached)
         Packing web (3.74 MB of tar)
           Built web (969.24 kB) in [DURATION]
    ");
    let stdout = stdout(&out);
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

    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build", "nope"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
    slugplan::manifest::unknown_slug

      × no slug `nope` in slug.toml
      help: defined slugs: web
    ");
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

/// A symlink that loops is a loop, not a link "pointing outside ./app" (issue 16, point 7).
#[test]
fn a_symlink_loop_is_reported_as_a_loop() {
    let ctx = fixture();
    symlink("loop-b", ctx.path().join("src/loop-a")).unwrap();
    symlink("loop-a", ctx.path().join("src/loop-b")).unwrap();
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
      × slug `web` could not be packed
      ╰─▶ symlink ./app/loop-a -> loop-b is a loop: following it never ends
      help: point the link at a file or directory, or exclude it
    ");
    assert_nothing_cached(&ctx);
}

/// Writes the fixture's manifest with its `process_types` line replaced by `table`.
fn with_process_types(ctx: &TestContext, table: &str) {
    let manifest = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    let manifest: Vec<&str> = manifest
        .lines()
        .map(|line| {
            if line.starts_with("process_types") {
                table
            } else {
                line
            }
        })
        .collect();
    ctx.write("slug.toml", manifest.join("\n") + "\n");
}

/// A command naming a program by path must find it, executable, in the slug: the runtime's
/// binary where `dest` and `strip_components` put it, not where the command guessed.
#[test]
fn a_process_type_naming_a_program_the_slug_lacks_is_refused_with_what_is_there() {
    let ctx = fixture();
    with_process_types(&ctx, "process_types = { web = \"vendor/tool web.js\" }");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
    slugplan::build::command

      × slug `web`: process type `web` runs `vendor/tool`, which is not in the slug; ./app/vendor/ holds own.rb, rt/
        ╭─[slug.toml:10:25]
      9 │ runtimes = ["rt"]
     10 │ process_types = { web = "vendor/tool web.js" }
        ·                         ──────────┬─────────
        ·                                   ╰── run from /app, the slug's root
        ╰────
      help: the slug has `vendor/rt/bin/tool`: fix the command, or the runtime's `dest` and `strip_components` (a runtime's top-level folder stays unless it is stripped)
    "#);
    assert_nothing_cached(&ctx);

    // Not executable, a directory: each said as it is.
    with_process_types(&ctx, "process_types = { web = \"./web.js\" }");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
    slugplan::build::command

      × slug `web`: process type `web` runs `./web.js`, which is not executable; the slug keeps a file's executable bit, and it has none
        ╭─[slug.toml:10:25]
      9 │ runtimes = ["rt"]
     10 │ process_types = { web = "./web.js" }
        ·                         ─────┬────
        ·                              ╰── run from /app, the slug's root
        ╰────
      help: make it executable (`chmod +x`), or run it with its interpreter (`node web.js`, `sh bin/start`)
    "#);
    with_process_types(&ctx, "process_types = { web = \"/app/vendor/rt\" }");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["build"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
    slugplan::build::command

      × slug `web`: process type `web` runs `/app/vendor/rt`, which is a directory; ./app/vendor/rt/ holds bin/, lib/
        ╭─[slug.toml:10:25]
      9 │ runtimes = ["rt"]
     10 │ process_types = { web = "/app/vendor/rt" }
        ·                         ────────┬───────
        ·                                 ╰── run from /app, the slug's root
        ╰────
      help: name the program inside it
    "#);

    // Found: directly, through the runtime's symlink, or left to the dyno's PATH.
    with_process_types(
        &ctx,
        "process_types = { web = \"vendor/rt/bin/tool\", start = \"PORT=1 ./bin/start\", link = \"/app/vendor/rt/bin/link\", worker = \"node worker.js\" }",
    );
    let out = ctx.run(&["build"]);
    assert!(
        !out.status.success(),
        "bin/link is a link to a file that is not executable"
    );
    with_process_types(
        &ctx,
        "process_types = { web = \"vendor/rt/bin/tool\", start = \"PORT=1 ./bin/start\", worker = \"node worker.js\" }",
    );
    let out = ctx.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Process types are not part of a slug's input key: a slug found in the cache by its key is
/// checked against the process types of now.
#[test]
fn a_cached_slug_is_checked_against_new_process_types() {
    let ctx = fixture();
    with_process_types(&ctx, "process_types = { web = \"vendor/rt/bin/tool\" }");
    let manifest = std::fs::read_to_string(ctx.path().join("slug.toml")).unwrap();
    ctx.write(
        "slug.toml",
        format!("{manifest}\n[apps.fixture-web]\nslug = \"web\"\n"),
    );
    let out = ctx.run(&["plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    with_process_types(&ctx, "process_types = { web = \"vendor/rt/tool\" }");
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["plan"]), @r#"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
         Fetched rt (cached)
    slugplan::build::command

      × slug `web`: process type `web` runs `vendor/rt/tool`, which is not in the slug; ./app/vendor/rt/ holds bin/, lib/
        ╭─[slug.toml:10:25]
      9 │ runtimes = ["rt"]
     10 │ process_types = { web = "vendor/rt/tool" }
        ·                         ────────┬───────
        ·                                 ╰── run from /app, the slug's root
     11 │
        ╰────
      help: the slug has `vendor/rt/bin/tool`: fix the command, or the runtime's `dest` and `strip_components` (a runtime's top-level folder stays unless it is stripped)
    "#);
}
