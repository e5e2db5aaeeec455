//! Fuzz target: a Procfile, parsed ([`slugplan::fuzzing::procfile`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slugplan::fuzzing::procfile(data));
