//! Any bytes as a mint command's stdout.
//! Run: `cargo +nightly fuzz run command_answer` in crates/keygate-rotate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_rotate::fuzzing::command_answer(data));
