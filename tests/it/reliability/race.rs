//! A file edited during a build (issue 16.1): the chunks cached under a component's key must be
//! those of the bytes that key was computed from, or later clean builds splice another
//! version's file into the slug and deploy it, exit 0.
//!
//! [`an_edit_between_hashing_and_packing_caches_nothing`] edits `web.js` (same size, in place
//! and by an editor's write-then-rename) exactly between the key's read and the pack's, as
//! `ensure_slug` does them; [`builds_racing_a_writer_never_poison_the_cache`] lets a writer
//! rewrite it every millisecond while builds of a slug with a large file run. In both, every
//! clean build afterwards holds exactly the `web.js` on disk.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slugplan::build::key::{KnownKey, slug_key};
use slugplan::build::{BuildOptions, ensure_slug, pack_slug, slug_components};
use slugplan::cache::Cache;

use crate::common::{TestContext, figures, render, run_ok};

const MANIFEST: &str = r#"
[slugs.web]
source = "app"
process_types = { web = "node web.js" }
"#;

/// Version `n` of `web.js`: every version has the same size, so no size check can tell them
/// apart.
fn version(n: u32) -> String {
    format!("console.log('version {n:04}');\n")
}

/// A project whose app holds `web.js` (version 0) after a `big.bin` of `big` bytes, which is
/// packed first and so widens the window between reading the app for its key and for the
/// archive.
fn project(big: usize) -> TestContext {
    let ctx = TestContext::new();
    ctx.write("slug.toml", MANIFEST);
    let noise: Vec<u8> = (0..big as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    ctx.write("app/big.bin", noise);
    ctx.write("app/web.js", version(0));
    ctx
}

/// How a file is edited.
#[derive(Debug, Clone, Copy)]
enum Edit {
    /// Overwritten in place, same size, without truncating (as `dd conv=notrunc`).
    InPlace,
    /// Written to a temp file beside it, then renamed over it (as editors save).
    Rename,
}

impl Edit {
    fn apply(self, path: &Path, text: &str) {
        match self {
            Edit::InPlace => {
                let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                file.rewind().unwrap();
                file.write_all(text.as_bytes()).unwrap();
            }
            Edit::Rename => {
                // Beside the app, not in it: a temp file in the tree would be listed and then
                // vanish, failing the build for another reason than the one tried here.
                let project = path.parent().and_then(Path::parent).unwrap();
                let temp = project.join(".web.js.swp");
                std::fs::write(&temp, text).unwrap();
                std::fs::rename(&temp, path).unwrap();
            }
        }
    }
}

/// `./app/web.js` as GNU tar reads it from `slug`.
fn web_js(slug: &Path) -> String {
    let out = run_ok(
        Command::new("tar")
            .arg("-xzOf")
            .arg(slug)
            .arg("./app/web.js"),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Builds slug `web` as plan and apply do (index, chunks and memos of `cache` used).
fn clean_build(ctx: &TestContext) -> PathBuf {
    ensure_slug(
        &ctx.load_manifest(),
        "web",
        &Cache::new(&ctx.cache),
        &BuildOptions::default(),
    )
    .expect("a clean build")
    .archive
    .path
}

/// Writes each version in turn, from a quiet tree, and checks that the slug holds it.
fn every_clean_build_holds_the_file_on_disk(ctx: &TestContext, versions: u32) -> u64 {
    let web = ctx.path().join("app/web.js");
    for n in 0..versions {
        Edit::Rename.apply(&web, &version(n));
        let slug = clean_build(ctx);
        assert_eq!(
            web_js(&slug),
            version(n),
            "a clean build of version {n} deployed another version's web.js"
        );
    }
    u64::from(versions)
}

#[test]
fn an_edit_between_hashing_and_packing_caches_nothing() {
    for edit in [Edit::InPlace, Edit::Rename] {
        let ctx = project(64 << 10);
        let loaded = ctx.load_manifest();
        let cache = Cache::new(&ctx.cache);
        let web = ctx.path().join("app/web.js");
        // ensure_slug's two reads, with an edit in between.
        let components =
            slug_components(&loaded, "web", &cache, &slugplan::own_files::NONE).unwrap();
        let key = slug_key(&loaded, &components, &cache).unwrap();
        edit.apply(&web, &version(1));
        let keys = components
            .iter()
            .map(|c| KnownKey::Known(key.parts[&c.name].clone()))
            .collect();
        let err = pack_slug(
            &loaded,
            "web",
            &components,
            keys,
            Some(key),
            &cache,
            &BuildOptions::default(),
        )
        .expect_err("a slug whose app changed after it was hashed");
        let shown = render(&err);
        assert!(
            shown.contains("the files of `app` changed while the slug was being written"),
            "{edit:?}: {shown}"
        );
        // Back to the bytes the key was computed from: nothing of version 1 may be spliced in.
        edit.apply(&web, &version(0));
        assert_eq!(web_js(&clean_build(&ctx)), version(0), "{edit:?}");
        every_clean_build_holds_the_file_on_disk(&ctx, 3);
    }
}

#[test]
fn builds_racing_a_writer_never_poison_the_cache() {
    const ROUNDS: u64 = 12;
    let ctx = project(8 << 20);
    let web = ctx.path().join("app/web.js");
    let stop = AtomicBool::new(false);
    let (mut built, mut refused) = (0u64, 0u64);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let edit = if n.is_multiple_of(2) {
                    Edit::InPlace
                } else {
                    Edit::Rename
                };
                edit.apply(&web, &version(n % 4));
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        // Stops the writer however this ends (a failed assertion too, else the scope waits
        // for the writer forever).
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let stopper = StopOnDrop(&stop);
        let loaded = ctx.load_manifest();
        let cache = Cache::new(&ctx.cache);
        for _ in 0..ROUNDS {
            match ensure_slug(&loaded, "web", &cache, &BuildOptions::default()) {
                Ok(_) => built += 1,
                Err(err) => {
                    let shown = render(&err);
                    assert!(shown.contains("changed while the slug"), "{shown}");
                    refused += 1;
                }
            }
        }
        drop(stopper);
        writer.join().unwrap();
    });
    let clean = every_clean_build_holds_the_file_on_disk(&ctx, 4);
    figures::print(
        "a build racing a writer (in place and by rename, every ms)",
        &[
            ("builds", ROUNDS),
            ("finished", built),
            ("refused", refused),
            ("clean builds", clean),
            ("wrong slugs", 0),
        ],
    );
}
