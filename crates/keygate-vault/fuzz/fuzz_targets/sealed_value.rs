//! Any bytes as a sealed value (first byte: the binding): opens only what the key sealed.
//! Run: `cargo +nightly fuzz run sealed_value` in crates/keygate-vault.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_vault::fuzzing::sealed_value(data));
