//! Any bytes as `vault.db`, opened with the fuzz key: a clear error or a working vault.
//! Run: `cargo +nightly fuzz run vault_open` in crates/keygate-vault.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    keygate_vault::fuzzing::vault_open(data);
});
