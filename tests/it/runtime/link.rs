//! Unpacking that links a file to an identical one instead of writing it
//! (`runtime::extract_linking`, what the local platform does with a slug's runtime files): the
//! archive made by GNU tar, the candidates real files on the same filesystem. A file is linked
//! only when every byte and the executable bit match; anything else gets its own copy with the
//! archive's bytes, and the candidate is never written to.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use slugplan::runtime::{ExtractLimits, extract_linking};

use crate::common::run_ok;

/// `len` bytes that do not compress (xorshift from `seed`), so the archive is no bomb.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn write(path: &Path, data: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn same_file(a: &Path, b: &Path) -> bool {
    let (a, b) = (a.metadata().unwrap(), b.metadata().unwrap());
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[test]
fn only_files_whose_every_byte_and_executable_bit_match_are_linked() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    let big = bytes(3 << 20, 1);
    // Differs from `big` past the first compared block, and only in its last byte.
    let mut big_changed = big.clone();
    big_changed[(3 << 20) - 700_000] ^= 0xff;
    let mut big_last = big.clone();
    *big_last.last_mut().unwrap() ^= 0xff;
    let files: [(&str, Vec<u8>, u32); 7] = [
        ("same.txt", b"the same bytes\n".to_vec(), 0o644),
        ("bin/same", bytes(300_000, 2), 0o755),
        ("big-same", big.clone(), 0o644),
        ("changed.txt", b"archive bytes\n".to_vec(), 0o644),
        ("big-changed", big.clone(), 0o644),
        ("big-last", big.clone(), 0o644),
        ("mode", b"#!/bin/sh\n".to_vec(), 0o755),
    ];
    let tree = root.join("tree/app");
    for (name, data, mode) in &files {
        write(&tree.join(name), data, *mode);
    }
    write(&tree.join("no-candidate"), b"nothing to link to\n", 0o644);
    let archive = root.join("slug.tgz");
    run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(root.join("tree"))
            .arg("./app"),
    );
    // The candidates, read-only as the cache keeps them; some differ from the archive.
    let cache = root.join("cache");
    let candidates: [(&str, Vec<u8>, u32); 7] = [
        ("same.txt", b"the same bytes\n".to_vec(), 0o444),
        ("bin/same", bytes(300_000, 2), 0o555),
        ("big-same", big, 0o444),
        ("changed.txt", b"cached bytes!\n".to_vec(), 0o444),
        ("big-changed", big_changed, 0o444),
        ("big-last", big_last, 0o444),
        ("mode", b"#!/bin/sh\n".to_vec(), 0o444),
    ];
    let mut sources = HashMap::new();
    for (name, data, mode) in &candidates {
        write(&cache.join(name), data, *mode);
        sources.insert(format!("app/{name}").into_bytes(), cache.join(name));
    }
    sources.insert(b"app/no-candidate".to_vec(), cache.join("missing"));
    let before: HashMap<PathBuf, Vec<u8>> = candidates
        .iter()
        .map(|(name, ..)| (cache.join(name), std::fs::read(cache.join(name)).unwrap()))
        .collect();

    let dest = root.join("dest");
    std::fs::create_dir(&dest).unwrap();
    let limits = ExtractLimits::default();
    let source_of = |path: &[u8]| sources.get(path).cloned();
    let linked = extract_linking(&archive, &dest, 0, limits, &source_of).unwrap();

    assert_eq!(linked, 3, "same.txt, bin/same and big-same");
    for (name, data, mode) in &files {
        let path = dest.join("app").join(name);
        assert_eq!(
            &std::fs::read(&path).unwrap(),
            data,
            "{name} has the archive's bytes"
        );
        let is_linked = same_file(&path, &cache.join(name));
        let expect_linked = ["same.txt", "bin/same", "big-same"].contains(name);
        assert_eq!(is_linked, expect_linked, "{name} linked?");
        if !expect_linked {
            let got = path.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(got, *mode, "{name}: its own copy has the archive's mode");
        }
    }
    let own = dest.join("app/no-candidate");
    assert_eq!(std::fs::read(own).unwrap(), b"nothing to link to\n");
    for (path, data) in before {
        assert_eq!(
            std::fs::read(&path).unwrap(),
            data,
            "{} untouched",
            path.display()
        );
    }
    // What GNU tar unpacks from the same archive, byte for byte.
    let gnu = root.join("gnu");
    std::fs::create_dir(&gnu).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&gnu),
    );
    run_ok(
        Command::new("diff")
            .arg("-r")
            .arg(gnu.join("app"))
            .arg(dest.join("app")),
    );
}
