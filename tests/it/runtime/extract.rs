//! Hostile archives, crafted with Python's `tarfile` (which writes whatever it is told), fetched
//! through file:// so the whole path is exercised: refused with the entry named, nothing written
//! outside the destination, no temp directory left in the cache.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use slugplan::cache::Bucket;
use slugplan::runtime::{self, ExtractLimits, RuntimeError};

use super::{bucket_entries, sha256_of};
use crate::common::{TestContext, figures, run_ok, slugplan_snapshot, stderr};

/// Python that builds `out` (gzip) from a list of entries:
/// `(name, kind, data_or_target, mode)` with kind `file|dir|sym|hard|chr|fifo`.
const MAKE_TAR: &str = r#"
import io, json, sys, tarfile
out, entries = sys.argv[1], json.loads(sys.argv[2])
with tarfile.open(out, "w:gz", format=tarfile.GNU_FORMAT) as tar:
    for name, kind, data, mode in entries:
        info = tarfile.TarInfo(name)
        info.mode = mode
        body = None
        if kind == "file":
            body = data.encode() if isinstance(data, str) else bytes(data)
            info.size = len(body)
        elif kind == "zeros":
            body = bytes(data)
            info.size = data
        elif kind == "dir":
            info.type = tarfile.DIRTYPE
        elif kind == "sym":
            info.type, info.linkname = tarfile.SYMTYPE, data
        elif kind == "hard":
            info.type, info.linkname = tarfile.LNKTYPE, data
        elif kind == "chr":
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        tar.addfile(info, io.BytesIO(body) if body is not None else None)
"#;

type Entry = (&'static str, &'static str, serde_json::Value, u32);

fn make_tar(path: &Path, entries: &[Entry]) {
    let json = serde_json::to_string(
        &entries
            .iter()
            .map(|(n, k, d, m)| serde_json::json!([n, k, d, m]))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    run_ok(
        Command::new("python3")
            .args(["-c", MAKE_TAR])
            .arg(path)
            .arg(json),
    );
}

/// Fetches the archive through file:// into a fresh cache inside `ctx`.
fn fetch_archive(
    ctx: &TestContext,
    entries: &[Entry],
    strip: u32,
) -> Result<std::path::PathBuf, RuntimeError> {
    let archive = ctx.temp.path().join("archives/hostile.tgz");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    make_tar(&archive, entries);
    let url = url::Url::from_file_path(&archive).unwrap();
    let loaded = ctx.manifest(&format!(
        "[runtimes.x]\nurl = \"{url}\"\nsha256 = \"{}\"\nstrip_components = {strip}\n",
        sha256_of(&archive)
    ));
    super::fetch(ctx, &loaded, "x").map(|f| f.tree)
}

/// Every file or link under `root` whose name starts with `evil`.
fn evil_files(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("evil"))
        .map(|e| e.path().display().to_string())
        .collect()
}

fn file(name: &'static str, data: &str) -> Entry {
    (name, "file", data.into(), 0o644)
}

/// Fetches `entries` as an archive, which must be refused naming `entry` and `reason`, with
/// nothing written outside the destination and no temp directory left; returns the bytes found
/// outside (always 0 once the checks pass).
fn assert_refused(entries: &[Entry], entry: &str, reason: &str) -> u64 {
    let ctx = TestContext::new();
    let err = fetch_archive(&ctx, entries, 0).expect_err("hostile archive refused");
    let RuntimeError::Extract { source, .. } = &err else {
        panic!("{err:?}")
    };
    let message = source.to_string();
    assert!(message.contains(&format!("entry `{entry}`")), "{message}");
    assert!(message.contains(reason), "{message}");
    let outside = evil_files(ctx.temp.path());
    assert_eq!(outside, Vec::<String>::new(), "{message}");
    assert!(!Path::new("/tmp/evil-slugplan-abs").exists());
    assert!(
        bucket_entries(&ctx, Bucket::RuntimeTrees).is_empty(),
        "temp dir left: {message}"
    );
    outside
        .iter()
        .filter_map(|path| std::fs::symlink_metadata(path).ok())
        .map(|meta| meta.len())
        .sum()
}

/// Hostile archives: the entries, the entry the refusal must name, and the reason it must give.
fn hostile_archives() -> Vec<(Vec<Entry>, &'static str, &'static str)> {
    vec![
        // Climbing out with `..`, or starting at the root.
        (
            vec![file("ok.txt", "fine"), file("a/../../evil", "x")],
            "a/../../evil",
            "`..`",
        ),
        (
            vec![file("/tmp/evil-slugplan-abs", "x")],
            "/tmp/evil-slugplan-abs",
            "absolute path",
        ),
        // Symlinks resolving outside.
        (
            vec![("evil-link", "sym", "../..".into(), 0o777)],
            "evil-link",
            "outside",
        ),
        (
            vec![("evil-abs", "sym", "/etc/passwd".into(), 0o777)],
            "evil-abs",
            "absolute path",
        ),
        // `sub/up` is inside (the root), but `sub/up/..` is not: resolution follows the archive's
        // links.
        (
            vec![
                ("sub", "dir", "".into(), 0o755),
                ("sub/up", "sym", "..".into(), 0o777),
                ("sub/evil", "sym", "up/..".into(), 0o777),
            ],
            "sub/evil",
            "outside",
        ),
        // A later link turning an earlier one into an escape is caught by the final check.
        (
            vec![
                ("evil-late", "sym", "a/..".into(), 0o777),
                ("a", "sym", ".".into(), 0o777),
            ],
            "evil-late",
            "outside",
        ),
        // A file written through a symlink.
        (
            vec![
                ("sub", "dir", "".into(), 0o755),
                ("link", "sym", "sub".into(), 0o777),
                file("link/evil", "x"),
            ],
            "link/evil",
            "through a symlink",
        ),
        // Hard links outside, or to nothing.
        (
            vec![("evil-hard", "hard", "../outside".into(), 0o644)],
            "evil-hard",
            "`..`",
        ),
        (
            vec![("evil-hard", "hard", "/etc/passwd".into(), 0o644)],
            "evil-hard",
            "absolute path",
        ),
        (
            vec![("evil-hard", "hard", "missing".into(), 0o644)],
            "evil-hard",
            "not a file extracted earlier",
        ),
        // Devices and fifos.
        (
            vec![("evil-null", "chr", "".into(), 0o666)],
            "evil-null",
            "device nodes and fifos",
        ),
        (
            vec![("evil-fifo", "fifo", "".into(), 0o666)],
            "evil-fifo",
            "device nodes and fifos",
        ),
        // Duplicate entries changing type.
        (
            vec![file("evil", "x"), ("evil", "dir", "".into(), 0o755)],
            "evil/",
            "changes a file into a directory",
        ),
        (
            vec![file("evil", "x"), ("evil", "sym", "other".into(), 0o777)],
            "evil",
            "changes a file into a symlink",
        ),
    ]
}

#[test]
fn every_hostile_archive_is_refused_naming_its_entry_and_writes_nothing_outside() {
    let archives = hostile_archives();
    let mut outside = 0;
    for (entries, entry, reason) in &archives {
        outside += assert_refused(entries, entry, reason);
    }
    figures::print(
        "hostile runtime archives",
        &[
            ("inputs tried", archives.len() as u64),
            ("refused", archives.len() as u64),
            ("bytes written outside", outside),
        ],
    );
}

#[test]
fn setuid_and_setgid_bits_are_stripped_and_files_kept() {
    let ctx = TestContext::new();
    let entries = [
        ("bin", "dir", "".into(), 0o755),
        ("bin/su", "file", "#!/bin/sh\n".into(), 0o6755),
        ("bin/data", "file", "x".into(), 0o2644),
        file("bin/data", "replaced"),
    ];
    let tree = fetch_archive(&ctx, &entries, 0).unwrap();
    let mode = |p: &str| {
        std::fs::metadata(tree.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!((mode("bin/su"), mode("bin/data")), (0o555, 0o444));
    assert_eq!(
        std::fs::read_to_string(tree.join("bin/data")).unwrap(),
        "replaced",
        "last entry wins"
    );
}

#[test]
fn decompression_bombs_are_refused_by_ratio_and_by_size() {
    let ctx = TestContext::new();
    let err = fetch_archive(&ctx, &[("zeros", "zeros", 16_000_000.into(), 0o644)], 0).unwrap_err();
    let RuntimeError::Extract { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        source.to_string().contains("compression ratio above 100:1"),
        "{source}"
    );
    assert!(bucket_entries(&ctx, Bucket::RuntimeTrees).is_empty());

    // The size cap, through the library with explicit limits.
    let dir = ctx.temp.path().join("direct");
    std::fs::create_dir_all(&dir).unwrap();
    let archive = ctx.temp.path().join("archives/hostile.tgz");
    let limits = ExtractLimits {
        max_unpacked_bytes: 1_000_000,
        max_ratio: 1_000_000,
    };
    let err = runtime::extract(&archive, &dir, 0, limits).unwrap_err();
    assert!(err.to_string().contains("more than 1000000 bytes"), "{err}");
}

#[test]
fn legitimate_links_inside_the_tree_are_kept() {
    let ctx = TestContext::new();
    let entries = [
        ("top/lib/real.so.1", "file", "elf".into(), 0o755),
        ("top/lib/real.so", "sym", "real.so.1".into(), 0o777),
        ("top/bin/tool", "hard", "top/lib/real.so.1".into(), 0o755),
        ("top/share", "sym", "lib".into(), 0o777),
        ("top/up", "sym", "bin/../lib/./real.so".into(), 0o777),
    ];
    let tree = fetch_archive(&ctx, &entries, 1).unwrap();
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| std::fs::metadata(tree.join(p)).unwrap().ino();
    assert_eq!(
        ino("bin/tool"),
        ino("lib/real.so.1"),
        "hard link kept as a link"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("share/real.so")).unwrap(),
        "elf"
    );
    assert_eq!(std::fs::read_to_string(tree.join("up")).unwrap(), "elf");
}

#[test]
fn the_bomb_caps_are_configurable_from_the_environment() {
    let mut ctx = TestContext::new();
    let archive = ctx.temp.path().join("zeros.tgz");
    make_tar(&archive, &[("zeros", "zeros", 4_000_000.into(), 0o644)]);
    ctx.add_filter(sha256_of(&archive), "[SHA256]");
    // Where the diagnostic wraps the archive's path depends on the digest's first character.
    ctx.add_filter(
        r"\[CACHE\]/runtimes-(\n *│ )?v1/(\n *│ )?\[SHA256\]",
        "[CACHE]/runtimes-v1/[SHA256]",
    );
    ctx.filter_sizes();
    let url = url::Url::from_file_path(&archive).unwrap();
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.z]\nurl = \"{url}\"\nsha256 = \"{}\"\n",
            sha256_of(&archive)
        ),
    );
    // The refusal names the variable that raises the cap.
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
     Downloading z from file://[TEMP]/zeros.tgz ([SIZE])
      × runtime `z`: refused to unpack its archive from file://[TEMP]/zeros.tgz
      ╰─▶   × [CACHE]/runtimes-v1/[SHA256]: compression ratio above 100:1 (the cap): a decompression bomb?
            help: raise SLUGPLAN_MAX_UNPACKED_BYTES or SLUGPLAN_MAX_COMPRESSION_RATIO if the archive is legitimate
    ");
    let allowed = ctx
        .command()
        .arg("fetch")
        .env("SLUGPLAN_MAX_COMPRESSION_RATIO", "100000")
        .output()
        .unwrap();
    assert!(allowed.status.success(), "{}", stderr(&allowed));
}

/// The gzip trailer (CRC-32 and length) comes after tar's end-of-archive marker: it is read
/// and checked, as `gzip -t` checks it.
#[test]
fn an_archive_with_a_wrong_gzip_crc_is_refused() {
    let mut ctx = TestContext::new();
    let archive = ctx.temp.path().join("archives/bad-crc.tgz");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    make_tar(&archive, &[file("bin/node", "#!/bin/sh\n")]);
    let mut bytes = std::fs::read(&archive).unwrap();
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let gzip = Command::new("gzip")
        .arg("-t")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(!gzip.status.success(), "gzip -t refuses it too");
    ctx.add_filter(sha256_of(&archive), "[SHA256]");
    ctx.write(
        "slug.toml",
        format!(
            "[runtimes.node]\nurl = \"file:../archives/bad-crc.tgz\"\nsha256 = \"{}\"\n",
            sha256_of(&archive)
        ),
    );
    slugplan_snapshot!(ctx.filters(), ctx.slugplan(&["fetch"]), @"
    exit code: 1
    ----- stdout -----

    ----- stderr -----
     Downloading node from file://[TEMP]/archives/bad-crc.tgz (123 B)
      × runtime `node`: refused to unpack its archive from file:../archives/bad-crc.tgz
      ├─▶   × the archive is corrupt
      │     help: the archive is damaged (`gzip -t` or `xz -t` says so too); download it again

      ╰─▶ corrupt gzip stream does not have a matching checksum
    ");
    assert!(bucket_entries(&ctx, Bucket::RuntimeTrees).is_empty());
}

/// `strip_components` beyond the archive's depth: an error saying so, not an empty runtime.
#[test]
fn a_strip_that_leaves_nothing_is_an_error() {
    let ctx = TestContext::new();
    let err = fetch_archive(
        &ctx,
        &[
            ("package", "dir", "".into(), 0o755),
            file("package/bin/node", "x"),
        ],
        3,
    )
    .unwrap_err();
    insta::assert_snapshot!(
        ctx.redact(&crate::common::render(&err)),
        @"
    × runtime `x`: refused to unpack its archive from file://[TEMP]/archives/hostile.tgz
    ╰─▶   × strip_components = 3 leaves nothing of the archive: its deepest entry has 3 components
          help: strip_components drops leading folders: 1 for an archive with one top-level folder, 0 for none
    "
    );
    // One fewer leaves `node`.
    let other = TestContext::new();
    let tree = fetch_archive(&other, &[file("package/bin/node", "x")], 2).unwrap();
    assert!(tree.join("node").is_file());
}

#[test]
fn a_repeated_file_is_the_last_copy_even_with_many_files_being_written() {
    // Small files are written on worker threads: each repeated entry (right after the first
    // copy, here) must wait for that copy to be written before it replaces it, and a hard link
    // for its target.
    let ctx = TestContext::new();
    let names: Vec<&'static str> = (0..200)
        .map(|i| &*String::leak(format!("top/f{i}")))
        .collect();
    let mut entries: Vec<Entry> = names
        .iter()
        .flat_map(|n| [file(n, "first"), file(n, "last")])
        .collect();
    entries.push(file("top/target", "linked"));
    entries.push(("top/link", "hard", "top/target".into(), 0o644));
    let tree = fetch_archive(&ctx, &entries, 1).unwrap();
    for i in 0..200 {
        let got = std::fs::read_to_string(tree.join(format!("f{i}"))).unwrap();
        assert_eq!(got, "last", "f{i}");
    }
    assert_eq!(
        std::fs::read_to_string(tree.join("link")).unwrap(),
        "linked"
    );
    let files = std::fs::read_dir(&tree).unwrap().count();
    assert_eq!(files, 202, "200 files, the target and the link");
}
