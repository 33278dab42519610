//! The fuzz targets' committed corpora and regression inputs, replayed on stable through the
//! same entry functions the targets call (`keygate_vault::fuzzing`), so every input the
//! fuzzer kept (and every crash it found, once fixed) is checked by `cargo test`.

use std::path::Path;

use keygate_vault::fuzzing;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn vault_open_corpus_replays() {
    let mut opened = 0;
    fuzzing::replay_corpus(crate_dir(), "vault_open", |data| opened += usize::from(fuzzing::vault_open(data)));
    // The seeds are working vaults: if none opens, the key or the format moved under them.
    assert!(opened > 0, "no input in the vault_open corpus opens with the fuzz key");
}

#[test]
fn a_fresh_seed_vault_opens_and_a_cut_one_fails_cleanly() {
    let seed = fuzzing::seed_vault(512);
    assert!(fuzzing::vault_open(&seed), "the seed vault does not open");
    assert!(!fuzzing::vault_open(&seed[..seed.len() / 2]), "half a vault opened");
    assert!(!fuzzing::vault_open(b""), "an empty file opened");
}

#[test]
fn sealed_value_corpus_replays() {
    fuzzing::replay_corpus(crate_dir(), "sealed_value", fuzzing::sealed_value);
}

#[test]
fn token_corpus_replays() {
    fuzzing::replay_corpus(crate_dir(), "token", fuzzing::token);
}
