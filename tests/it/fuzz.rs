//! The fuzz targets' short run, on stable and in every `cargo test` (issue 16): each entry point
//! of [`slugplan::fuzzing`] is given every committed input of `fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/`, then a fixed number of mutations of them.
//!
//! libFuzzer (`cargo +nightly fuzz run <target>`, see the README's Fuzzing section) searches far
//! longer and guided by coverage; this run makes sure that an input which once failed keeps
//! being tried, and that the targets themselves still work, without a nightly toolchain. The
//! mutations are seeded, so a failure here reproduces: the panic message names the input's
//! seed file and mutation number and where the failing bytes were written (under the
//! target directory); copied into `fuzz/regressions/<target>/`, they are tried for good.

use std::path::{Path, PathBuf};

use crate::common::figures;

/// Mutations tried per committed input (archives cost a temp dir each, so fewer).
const MUTATIONS: u32 = 300;
const ARCHIVE_MUTATIONS: u32 = 40;

/// The committed inputs of `target`: seeds, then regressions, sorted by name.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut found = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = read
            .map(|e| e.expect("list the corpus").path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).expect("read a corpus input");
            found.push((path, bytes));
        }
    }
    found
}

/// A small deterministic generator (xorshift64*), so that every run tries the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that parsers treat specially: delimiters, quotes, escapes, NUL, high bytes.
const INTERESTING: &[u8] = b"\0\n\r\t =:\"'\\[]{}#.,-/*\xff\x7f0189";

/// One to four edits of `input`: a flipped bit, a byte replaced or inserted, a run deleted or
/// repeated, a cut.
fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                let run = out[at.min(end)..end].to_vec();
                out.splice(at..at, run);
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Runs `target` over its committed inputs and `mutations` mutations of each; a panic names
/// the input it came from.
fn campaign(target: &str, mutations: u32, run: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(
        !inputs.is_empty(),
        "fuzz/seeds/{target}/ holds no input: the target would test nothing"
    );
    let mut tried = 0u64;
    for (index, (path, bytes)) in inputs.iter().enumerate() {
        let attempt = |data: &[u8], what: &str| {
            let outcome = std::panic::catch_unwind(|| run(data));
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(not a string)");
                let kept = Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join(format!("fuzz-{target}-failure-{}", std::process::id()));
                std::fs::write(&kept, data).expect("keep the failing input");
                panic!(
                    "fuzz target `{target}` failed on {what} of {}: {message}\n\
                     the input ({} bytes) is in {}: once fixed, copy it into fuzz/regressions/{target}/",
                    path.display(),
                    data.len(),
                    kept.display()
                );
            }
        };
        attempt(bytes, "the input itself");
        tried += 1;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1));
        for n in 0..mutations {
            attempt(&mutate(bytes, &mut rng), &format!("mutation {n}"));
            tried += 1;
        }
    }
    figures::print(
        &format!("fuzz target {target} (stable short run)"),
        &[
            ("committed inputs", inputs.len() as u64),
            ("inputs tried", tried),
            ("failures", 0),
        ],
    );
}

#[test]
fn manifest_target_holds_on_its_corpus() {
    campaign("manifest", MUTATIONS, slugplan::fuzzing::manifest);
}

#[test]
fn procfile_target_holds_on_its_corpus() {
    campaign("procfile", MUTATIONS, slugplan::fuzzing::procfile);
}

#[test]
fn archive_target_holds_on_its_corpus() {
    campaign("archive", ARCHIVE_MUTATIONS, slugplan::fuzzing::archive);
}

#[test]
fn range_target_holds_on_its_corpus() {
    campaign("range", MUTATIONS, slugplan::fuzzing::range);
}

#[test]
fn mutations_are_the_same_on_every_run() {
    let once = |seed| {
        let mut rng = Rng(seed);
        (0..20)
            .map(|_| mutate(b"web: node web.js", &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(once(7), once(7));
    assert_ne!(once(7), once(8));
}
