//! Any text, as any client's config: connecting then disconnecting never panics, every edit
//! passes the "only the entry changed" check, and the text comes back (whitespace aside).
//! Run: `cargo +nightly fuzz run round_trip` in crates/keygate-clients.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keygate_clients::fuzz::round_trip_input(data));
