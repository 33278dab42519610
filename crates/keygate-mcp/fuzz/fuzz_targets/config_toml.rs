//! Any text as `config.toml`: parsed by the server and the vault, edited by `server add/remove`.
//! Run: `cargo +nightly fuzz run config_toml` in crates/keygate-mcp.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_mcp::fuzzing::config_toml(data));
