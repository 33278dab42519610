//! What reaches the server before rmcp (first byte: bearer header, Host/Origin, tool name,
//! agent socket line, OAuth forms, registration).
//! Run: `cargo +nightly fuzz run server_front` in crates/keygate-mcp.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_mcp::fuzzing::server_front(data));
