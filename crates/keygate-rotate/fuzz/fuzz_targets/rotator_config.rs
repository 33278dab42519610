//! Any text as config.toml's `[rotator.NAME]` tables.
//! Run: `cargo +nightly fuzz run rotator_config` in crates/keygate-rotate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_rotate::fuzzing::rotator_config(data));
