//! Any text, as any client's config: connecting then disconnecting never panics, every edit
//! passes the "only the entry changed" check, and the text comes back (whitespace aside).
//! Run: `cargo +nightly fuzz run round_trip` in crates/keygate-clients.
#![no_main]

use keygate_clients::Client;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let client = Client::ALL[usize::from(selector) % Client::ALL.len()];
    if let Ok((back, comparable)) = keygate_clients::fuzz::round_trip(client, text)
        && comparable
    {
        let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(squeeze(&back), squeeze(text));
    }
});
