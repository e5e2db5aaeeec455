//! Fuzz target: a `Range` header, parsed and paged through ([`slugplan::fuzzing::range`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| slugplan::fuzzing::range(data));
