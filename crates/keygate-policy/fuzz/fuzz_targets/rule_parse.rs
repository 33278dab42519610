//! Any text as argument rules (one a line): parsed, checked against sample arguments, and
//! round-tripped through the stored form without a panic.
//! Run: `cargo +nightly fuzz run rule_parse` in crates/keygate-policy.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_policy::fuzzing::rule_parse(data));
