//! What the `tools/call` fast path reads: header lines, an empty line, then the body.
//! Run: `cargo +nightly fuzz run fast_call` in crates/keygate-mcp.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_mcp::fuzzing::fast_call(data));
