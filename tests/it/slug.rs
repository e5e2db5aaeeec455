//! Integration tests: the slug archive, read back by GNU tar, gzip, pigz and Python; its
//! reproducibility and golden checksum; and reuse of compressed chunks. The fixture and helpers
//! here are shared with `build.rs`.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TestContext, run_ok};

/// The checksum of [`write_tree`]'s tree packed as slug `web` with runtime `rt`. It pins the
/// whole encoding: tar headers, chunking, zlib-rs level 6 output and the gzip framing. If it
/// changes, every checksum users have recorded changes: bump the format version instead.
const GOLDEN: &str = "SHA256:5faaf7d219a87a98c75bade1c5770a56b445f7967ebb7cee2c124a38051e93f4";

const LONG_DIR: &str = "long-directory-name-long-directory-name-long-directory-name";
const LONG_FILE: &str = "a-file-with-a-rather-long-name-to-pass-100.js";

const MANIFEST: &str = r#"
[runtimes.rt]
path = "rt"
dest = "vendor/rt"

[slugs.web]
source = "src"
exclude = ["*.log"]
runtimes = ["rt"]
process_types = { web = "node web.js" }
"#;

/// Deterministic text-like bytes, compressible but not trivially.
fn text(len: usize, seed: u32) -> Vec<u8> {
    let words = [
        &b"function "[..],
        b"return ",
        b"const x = ",
        b"42;\n",
        b"require('http')",
        b" {\n",
        b"}\n",
    ];
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.extend_from_slice(words[(state % words.len() as u32) as usize]);
        out.extend_from_slice(format!("{}", state % 1000).as_bytes());
    }
    out.truncate(len);
    out
}

enum Node {
    Dir(&'static str),
    File(String, Vec<u8>, bool),
    Link(String, String),
}

/// The fixture: a runtime tree `rt/` and an app source `src/` with everything the writer has
/// to get right: executables, a multi-chunk file, names over 100 bytes, a long link target,
/// `lib` next to `lib.js`, an empty directory, a hard link, and files that must be left out.
fn nodes() -> Vec<Node> {
    let long = format!("src/{LONG_DIR}/{LONG_FILE}");
    vec![
        Node::Dir("rt/bin"),
        Node::File(
            "rt/bin/tool".into(),
            b"#!/bin/sh\necho tool\n".to_vec(),
            true,
        ),
        Node::Dir("rt/lib"),
        Node::File("rt/lib/big.bin".into(), text(2_621_440 + 7, 1), false),
        Node::Link("rt/bin/link".into(), "../lib/big.bin".into()),
        Node::File(
            "src/web.js".into(),
            b"console.log('Hello World')\n".to_vec(),
            false,
        ),
        Node::File("src/.slugignore".into(), b"tmp/\n".to_vec(), false),
        Node::File("src/tmp/junk".into(), b"ignored".to_vec(), false),
        Node::File("src/debug.log".into(), b"excluded".to_vec(), false),
        Node::File(
            "src/.git/HEAD".into(),
            b"ref: refs/heads/main\n".to_vec(),
            false,
        ),
        Node::File("src/.slugplan/state".into(), b"{}".to_vec(), false),
        Node::File(
            "src/bin/start".into(),
            b"#!/bin/sh\nexec node web.js\n".to_vec(),
            true,
        ),
        Node::File(
            "src/lib.js".into(),
            b"module.exports = 1;\n".to_vec(),
            false,
        ),
        Node::File("src/lib/a.js".into(), text(1_100_000, 2), false),
        Node::Dir("src/empty"),
        Node::File(long, b"module.exports = 'long';\n".to_vec(), false),
        Node::Link("src/longlink".into(), format!("{LONG_DIR}/{LONG_FILE}")),
        Node::File("src/vendor/own.rb".into(), b"puts 1\n".to_vec(), false),
    ]
}

/// Writes the fixture under `root`, in reverse order when asked, with modes as umask 022
/// leaves them, plus a hard link `src/hard` to `src/web.js`.
fn write_tree(root: &Path, reverse: bool) {
    let mut nodes = nodes();
    if reverse {
        nodes.reverse();
    }
    for node in &nodes {
        match node {
            Node::Dir(rel) => std::fs::create_dir_all(root.join(rel)).unwrap(),
            Node::File(rel, bytes, exec) => {
                let path = root.join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
                let mode = if *exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            Node::Link(rel, target) => {
                let path = root.join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                symlink(target, path).unwrap();
            }
        }
    }
    std::fs::hard_link(root.join("src/web.js"), root.join("src/hard")).unwrap();
    std::fs::write(root.join("slug.toml"), MANIFEST).unwrap();
}

pub(crate) fn fixture() -> TestContext {
    let ctx = TestContext::new();
    write_tree(ctx.path(), false);
    ctx
}

/// Runs `slugplan build --json ARGS` in `dir` and returns (checksum, path) of slug `web`.
pub(crate) fn build(ctx: &TestContext, dir: &Path, args: &[&str]) -> (String, PathBuf) {
    built_web(ctx.command().current_dir(dir), args)
}

/// Runs `cmd` as `slugplan build --json ARGS` and returns (checksum, path) of slug `web`.
pub(crate) fn built_web(cmd: &mut Command, args: &[&str]) -> (String, PathBuf) {
    let out = run_ok(cmd.args(["build", "--json"]).args(args));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slug = &doc["slugs"][0];
    assert_eq!(slug["name"], "web");
    let path = PathBuf::from(slug["path"].as_str().unwrap());
    assert_eq!(
        slug["size"].as_u64().unwrap(),
        std::fs::metadata(&path).unwrap().len()
    );
    (slug["checksum"].as_str().unwrap().to_owned(), path)
}

/// `tar tzvf` as (mode string, owner, size, name, link target) rows.
pub(crate) fn tar_listing(slug: &Path) -> Vec<(String, String, u64, String, Option<String>)> {
    let out = run_ok(Command::new("tar").arg("tzvf").arg(slug).env("TZ", "UTC"));
    assert!(
        out.stderr.is_empty(),
        "tar warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.split_whitespace();
            let mode = parts.next().unwrap().to_owned();
            let owner = parts.next().unwrap().to_owned();
            let size = parts.next().unwrap().parse().unwrap();
            let date = parts.next().unwrap();
            let time = parts.next().unwrap();
            assert_eq!((date, time), ("1970-01-01", "00:00"), "{line}");
            let rest: Vec<&str> = parts.collect();
            let rest = rest.join(" ");
            let (name, link) = match rest.split_once(" -> ") {
                Some((name, link)) => (name.to_owned(), Some(link.to_owned())),
                None => (rest, None),
            };
            (mode, owner, size, name, link)
        })
        .collect()
}

#[test]
fn gnu_tar_lists_names_modes_owners_and_links() {
    let ctx = fixture();
    let (_, slug) = build(&ctx, ctx.path(), &[]);
    let long = format!("./app/{LONG_DIR}/{LONG_FILE}");
    let row = |mode: &str, size: u64, name: &str, link: Option<&str>| {
        (
            mode.to_owned(),
            "0/0".to_owned(),
            size,
            name.to_owned(),
            link.map(str::to_owned),
        )
    };
    let expected = vec![
        row("drwxr-xr-x", 0, "./app/", None),
        row("drwxr-xr-x", 0, "./app/vendor/", None),
        row("drwxr-xr-x", 0, "./app/vendor/rt/", None),
        row("drwxr-xr-x", 0, "./app/vendor/rt/bin/", None),
        row(
            "lrwxrwxrwx",
            0,
            "./app/vendor/rt/bin/link",
            Some("../lib/big.bin"),
        ),
        row("-rwxr-xr-x", 20, "./app/vendor/rt/bin/tool", None),
        row("drwxr-xr-x", 0, "./app/vendor/rt/lib/", None),
        row("-rw-r--r--", 2_621_447, "./app/vendor/rt/lib/big.bin", None),
        row("-rw-r--r--", 5, "./app/.slugignore", None),
        row("drwxr-xr-x", 0, "./app/bin/", None),
        row("-rwxr-xr-x", 27, "./app/bin/start", None),
        row("drwxr-xr-x", 0, "./app/empty/", None),
        row("-rw-r--r--", 27, "./app/hard", None),
        row("drwxr-xr-x", 0, "./app/lib/", None),
        row("-rw-r--r--", 1_100_000, "./app/lib/a.js", None),
        row("-rw-r--r--", 20, "./app/lib.js", None),
        row("drwxr-xr-x", 0, &format!("./app/{LONG_DIR}/"), None),
        row("-rw-r--r--", 25, &long, None),
        row(
            "lrwxrwxrwx",
            0,
            "./app/longlink",
            Some(&long["./app/".len()..]),
        ),
        row("-rw-r--r--", 7, "./app/vendor/own.rb", None),
        row("-rw-r--r--", 27, "./app/web.js", None),
    ];
    assert_eq!(tar_listing(&slug), expected);
    assert!(long.len() > 100 && long["./app/".len()..].len() > 100);
}

#[test]
fn extracts_to_the_same_tree_and_every_reader_accepts_it() {
    let ctx = fixture();
    let (_, slug) = build(&ctx, ctx.path(), &[]);
    let root = ctx.path();

    // The expected tree: the app's files without what is left out, and the runtime at its dest.
    let expected = root.join("expected");
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(root.join("src"))
            .arg(&expected),
    );
    for gone in ["tmp", "debug.log", ".git", ".slugplan"] {
        run_ok(Command::new("rm").arg("-rf").arg(expected.join(gone)));
    }
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(root.join("rt"))
            .arg(expected.join("vendor/rt")),
    );

    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();
    run_ok(Command::new("tar").arg("xzf").arg(&slug).current_dir(&out));
    run_ok(
        Command::new("diff")
            .args(["-r", "--no-dereference"])
            .arg(&expected)
            .arg(out.join("app")),
    );

    run_ok(Command::new("gzip").arg("-t").arg(&slug));
    run_ok(Command::new("pigz").arg("-t").arg(&slug));
    let python = run_ok(
        Command::new("python3")
            .args([
                "-c",
                "import sys, tarfile\n\
         with tarfile.open(sys.argv[1], 'r:gz') as t:\n\
         \tfor m in t.getmembers():\n\
         \t\tdata = t.extractfile(m).read() if m.isfile() else b''\n\
         \t\tassert len(data) == m.size, m.name\n\
         \t\tprint(m.name, oct(m.mode), m.uid, m.gid, repr(m.uname), m.linkname)\n",
            ])
            .arg(&slug),
    );
    // Every member as Python reads it: name, mode, owner ids, owner name (empty), link target.
    let listing: Vec<&str> = std::str::from_utf8(&python.stdout)
        .unwrap()
        .lines()
        .map(str::trim_end)
        .collect();
    insta::assert_snapshot!(listing.join("\n"), @"
    ./app 0o755 0 0 ''
    ./app/vendor 0o755 0 0 ''
    ./app/vendor/rt 0o755 0 0 ''
    ./app/vendor/rt/bin 0o755 0 0 ''
    ./app/vendor/rt/bin/link 0o777 0 0 '' ../lib/big.bin
    ./app/vendor/rt/bin/tool 0o755 0 0 ''
    ./app/vendor/rt/lib 0o755 0 0 ''
    ./app/vendor/rt/lib/big.bin 0o644 0 0 ''
    ./app/.slugignore 0o644 0 0 ''
    ./app/bin 0o755 0 0 ''
    ./app/bin/start 0o755 0 0 ''
    ./app/empty 0o755 0 0 ''
    ./app/hard 0o644 0 0 ''
    ./app/lib 0o755 0 0 ''
    ./app/lib/a.js 0o644 0 0 ''
    ./app/lib.js 0o644 0 0 ''
    ./app/long-directory-name-long-directory-name-long-directory-name 0o755 0 0 ''
    ./app/long-directory-name-long-directory-name-long-directory-name/a-file-with-a-rather-long-name-to-pass-100.js 0o644 0 0 ''
    ./app/longlink 0o777 0 0 '' long-directory-name-long-directory-name-long-directory-name/a-file-with-a-rather-long-name-to-pass-100.js
    ./app/vendor/own.rb 0o644 0 0 ''
    ./app/web.js 0o644 0 0 ''
    ");
}

#[test]
fn app_only_slug_is_byte_identical_to_gnu_tar_sort_name() {
    let ctx = TestContext::new();
    write_tree(ctx.path(), false);
    let root = ctx.path();
    // Only the app's own files; GNU tar archives a copy holding exactly what the slug holds.
    std::fs::write(root.join("slug.toml"), "[slugs.web]\nsource = \"app\"\n").unwrap();
    let app = root.join("app");
    run_ok(Command::new("cp").arg("-a").arg(root.join("src")).arg(&app));
    for gone in ["tmp", "debug.log", ".git", ".slugplan"] {
        run_ok(Command::new("rm").arg("-rf").arg(app.join(gone)));
    }
    // A hard link is a link to GNU tar but a file to slugplan; make it a plain file here.
    std::fs::remove_file(app.join("hard")).unwrap();
    std::fs::copy(app.join("web.js"), app.join("hard")).unwrap();
    let (_, slug) = build(&ctx, root, &[]);

    let gnu = run_ok(
        Command::new("tar")
            .args([
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
            ])
            .args(["--format=gnu", "-cf", "-", "./app"])
            .current_dir(root),
    )
    .stdout;
    let ours = run_ok(Command::new("gzip").arg("-dc").arg(&slug)).stdout;
    assert!(ours.len() > 1_100_000);
    // GNU tar pads its last record to 10 KiB with zeros; slugplan stops after the end marker.
    assert_eq!(gnu[..ours.len()], ours[..]);
    assert!(gnu[ours.len()..].iter().all(|&b| b == 0));
}

#[test]
fn checksum_ignores_time_zone_umask_order_mtimes_copies_and_threads() {
    let ctx = fixture();
    let root = ctx.path();
    let (golden, _) = build(&ctx, root, &[]);

    let mut seen = Vec::new();
    for threads in ["1", "2", "8"] {
        seen.push((
            format!("-j {threads}"),
            build(&ctx, root, &["-j", threads]).0,
        ));
    }

    // Created in reverse order, with other mtimes, built in another time zone.
    let reversed = root.join("reversed");
    write_tree(&reversed, true);
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg("find . -exec touch -h -d '2001-02-03 04:05:06' {} +")
            .current_dir(&reversed),
    );
    let (tokyo, _) = built_web(
        ctx.command().current_dir(&reversed).env("TZ", "Asia/Tokyo"),
        &[],
    );
    seen.push(("reversed, Tokyo".into(), tokyo));

    // Copies made under umask 077 and 022 (new inodes, mtimes and, for 077, modes 0600/0700).
    for umask in ["077", "022"] {
        let copy = root.join(format!("copy{umask}"));
        std::fs::create_dir(&copy).unwrap();
        run_ok(
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "umask {umask} && cp -r src rt slug.toml {}",
                    copy.display()
                ))
                .current_dir(root),
        );
        let mode = std::fs::metadata(copy.join("src/web.js"))
            .unwrap()
            .permissions()
            .mode();
        let expected = if umask == "077" { 0o600 } else { 0o644 };
        assert_eq!(mode & 0o777, expected, "umask {umask} took effect");
        seen.push((format!("cp -r, umask {umask}"), build(&ctx, &copy, &[]).0));
    }

    for (what, checksum) in &seen {
        assert_eq!(checksum, &golden, "{what}");
    }
    assert_eq!(
        golden, GOLDEN,
        "the encoding changed: bump FORMAT_VERSION if this is intended"
    );
}

#[test]
fn unchanged_component_chunks_are_reused_byte_for_byte() {
    use slugplan::build::{BuildOptions, build_slug, slug_components};
    use slugplan::slug::{ComponentInput, PackOptions, write_to_cache};

    let ctx = fixture();
    let loaded = ctx.load_manifest();
    let cache = slugplan::cache::Cache::new(&ctx.cache);
    let before = build_slug(&loaded, "web", &cache, &BuildOptions::default()).unwrap();

    std::fs::write(ctx.path().join("src/web.js"), "console.log('changed')\n").unwrap();
    let after = build_slug(&loaded, "web", &cache, &BuildOptions::default()).unwrap();
    assert_ne!(before.archive.checksum, after.archive.checksum);

    let names: Vec<&str> = after.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["layout", "runtime.rt", "app"]);
    let chunks = |slug: &slugplan::build::BuiltSlug, i: usize| {
        let bytes = std::fs::read(&slug.archive.path).unwrap();
        let c = &slug.components[i];
        bytes[c.deflate_offset as usize..(c.deflate_offset + c.deflate_len) as usize].to_vec()
    };
    // The runtime holds a 2.5 MiB file: several chunks, all identical across the two slugs.
    assert!(after.components[1].tar_len > 2 * (1 << 20));
    assert_eq!(chunks(&before, 1), chunks(&after, 1));
    assert_eq!(before.components[1], after.components[1]);
    assert_ne!(chunks(&before, 2), chunks(&after, 2));

    // Splicing the old runtime chunks with a fresh app gives the from-scratch bytes.
    let components = slug_components(&loaded, "web", &cache, &slugplan::own_files::NONE).unwrap();
    let span = before.components[1].span(&before.archive.path);
    let inputs = [
        ComponentInput::Fresh(&components[0]),
        ComponentInput::Reused {
            name: "runtime.rt",
            span: &span,
        },
        ComponentInput::Fresh(&components[2]),
    ];
    std::fs::remove_file(&after.archive.path).unwrap();
    let spliced = write_to_cache(&inputs, &cache, PackOptions::default()).unwrap();
    assert_eq!(spliced.packed.checksum, after.archive.checksum);
    assert_eq!(spliced.packed.components, after.components);
}

#[test]
fn content_hash_ignores_mtimes_but_not_contents() {
    use slugplan::build::slug_components;

    let ctx = fixture();
    let loaded = ctx.load_manifest();
    let cache = slugplan::cache::Cache::new(&ctx.cache);
    let hash = || {
        let components =
            slug_components(&loaded, "web", &cache, &slugplan::own_files::NONE).unwrap();
        components.last().unwrap().content_hash().unwrap()
    };
    let first = hash();
    run_ok(
        Command::new("touch")
            .args(["-d", "2010-01-01"])
            .arg(ctx.path().join("src/web.js")),
    );
    assert_eq!(hash(), first);
    std::fs::write(
        ctx.path().join("src/web.js"),
        "console.log('Hello World!')\n",
    )
    .unwrap();
    assert_ne!(hash(), first);
}
