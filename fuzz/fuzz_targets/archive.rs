//! Fuzz target: a runtime archive, extracted into a fresh directory ([`slugplan::fuzzing::archive`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slugplan::fuzzing::archive(data));
