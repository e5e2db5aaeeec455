//! The entry points of the fuzz targets (`fuzz/`, run with `cargo fuzz`), one per parser that
//! reads what slugplan does not control: the manifest loader, the Procfile parser, the runtime
//! archive extractor and `slugplan server`'s `Range` parser.
//!
//! Each takes arbitrary bytes and panics only when slugplan is wrong: a panic inside the code
//! under test, or a broken invariant checked here (an extracted file outside its directory, a
//! problem's span outside its Procfile, a page larger than asked for, a list whose pages repeat
//! an item). The same functions run on stable, without libFuzzer, over every input of the
//! committed corpora and regressions (`tests/it/fuzz.rs`), so an input that once crashed keeps
//! being tried by `cargo test`.

use crate::manifest::procfile;
use crate::runtime::{ExtractLimits, extract};
use crate::server::range::{LIMIT_MAX, RangeSpec, paginate};

/// Loads `data` as a project's slug.toml (in a fresh directory holding nothing else), builds its
/// desired state and step graph when it is valid, and renders every error as the terminal shows
/// it (a diagnostic's span outside its text would panic there).
pub fn manifest(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("slug.toml");
    std::fs::write(&path, data).expect("write slug.toml");
    match crate::manifest::load(&path) {
        Ok(loaded) => {
            if let Err(err) = crate::workspace::Workspace::from_loaded(loaded) {
                crate::cli::diagnostics::render(&err, false);
            }
        }
        Err(err) => {
            crate::cli::diagnostics::render(&err, false);
        }
    }
}

/// Parses `data` (lossily decoded) as a Procfile: every process type it yields has a valid name
/// and a command, and every problem it reports has a line number in the file and a span on
/// character boundaries inside it.
pub fn procfile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match procfile::parse(&text) {
        Ok(types) => {
            for (name, command) in &types {
                assert!(
                    crate::manifest::names::is_process_type(name),
                    "process type {name:?} does not match its pattern"
                );
                assert!(!command.trim().is_empty(), "`{name}` has an empty command");
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "an error without a problem");
            let lines = text.split_inclusive('\n').count().max(1);
            for problem in &problems {
                let span = &problem.span;
                assert!(
                    (1..=lines).contains(&problem.line),
                    "line {} of {lines}",
                    problem.line
                );
                assert!(
                    span.start <= span.end && span.end <= text.len(),
                    "span {span:?} of {} bytes",
                    text.len()
                );
                assert!(
                    text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                    "span {span:?} cuts a character"
                );
            }
        }
    }
}

/// Extracts `data` as a runtime archive into a fresh directory, with caps small enough for a
/// fuzzer: whatever the archive holds and however extraction ends, nothing is written outside
/// the destination, no symlink in it leads out of it, and no file keeps a setuid, setgid or
/// sticky bit.
///
/// The first byte says how to read the rest: an even byte, as the archive itself (gzip, xz, or
/// anything else); an odd one, as a tar stream this function gzips first, so that mutations
/// reach the tar entries rather than break the compression. Its bits 1–2 are the strip count.
pub fn archive(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let archive = dir.path().join("archive");
    // Deep inside the temp dir, so that climbing out with `..` lands where the walk below looks.
    let dest = dir.path().join("a/b/c/dest");
    let bytes = if mode & 1 == 1 {
        gzip(rest)
    } else {
        rest.to_vec()
    };
    std::fs::write(&archive, bytes).expect("write the archive");
    std::fs::create_dir_all(&dest).expect("create the destination");
    let limits = ExtractLimits {
        max_unpacked_bytes: 64 << 20,
        ..ExtractLimits::default()
    };
    let strip = u32::from((mode >> 1) & 3);
    let _ = extract(&archive, &dest, strip, limits);
    let real_dest = std::fs::canonicalize(&dest).expect("the destination exists");
    for entry in walkdir::WalkDir::new(dir.path()).min_depth(1) {
        let entry = entry.expect("walk the temp dir");
        let path = entry.path();
        if path == archive || dest.starts_with(path) {
            continue;
        }
        assert!(path.starts_with(&dest), "{} is outside", path.display());
        let meta = entry.path().symlink_metadata().expect("stat");
        if meta.file_type().is_symlink() {
            // As the kernel follows it; a dangling link leads nowhere to read or write.
            if let Ok(real) = std::fs::canonicalize(path) {
                assert!(
                    real.starts_with(&real_dest),
                    "{} leads out, to {}",
                    path.display(),
                    real.display()
                );
            }
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            assert_eq!(mode & 0o7000, 0, "{} has mode {mode:o}", path.display());
        }
    }
}

/// Parses `data` (lossily decoded) as a `Range` header and pages through a list of 40 items with
/// it, following `Next-Range`: the page size stays within 1 and [`LIMIT_MAX`], no page is larger
/// than asked for, every `Next-Range` parses back to an exclusive range on a known field, and no
/// item comes twice.
pub fn range(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    let spec = RangeSpec::parse(Some(&header));
    assert!((1..=LIMIT_MAX).contains(&spec.max), "max {}", spec.max);
    let fields = ["version", "id", "name"];
    let items: Vec<serde_json::Value> = (1..=40u32)
        .map(|n| {
            serde_json::json!({
                "version": n,
                "id": format!("{:08x}-0000-4000-8000-{n:012}", n.wrapping_mul(2_654_435_761)),
                "name": format!("app-{:02}", (n * 7) % 41),
            })
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut spec = spec;
    for _ in 0..=items.len() {
        let page = paginate(items.clone(), &spec, &fields);
        assert!(page.items.len() <= spec.max, "a page over its max");
        for item in &page.items {
            assert!(
                seen.insert(item["version"].to_string()),
                "{item} came twice"
            );
        }
        let Some(next) = page.next_range else {
            return;
        };
        spec = RangeSpec::parse(Some(&next));
        assert!(spec.exclusive, "{next:?} is not exclusive");
        assert!(
            spec.field.as_deref().is_some_and(|f| fields.contains(&f)),
            "{next:?} names no known field"
        );
    }
    panic!("Next-Range never ended");
}

/// `data` gzipped, fast.
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
