//! What a fronted server sends (first byte: tools/list result, legacy SSE stream, or a result
//! to redact). Run: `cargo +nightly fuzz run gateway_message` in crates/keygate-mcp.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_mcp::fuzzing::gateway_message(data));
