//! Any text as a bearer token (then scope patterns, one a line), checked against a real vault.
//! Run: `cargo +nightly fuzz run token` in crates/keygate-vault.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_vault::fuzzing::token(data));
