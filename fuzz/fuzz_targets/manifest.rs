//! Fuzz target: slug.toml, loaded, validated and turned into a step graph; every error rendered ([`slugplan::fuzzing::manifest`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slugplan::fuzzing::manifest(data));
