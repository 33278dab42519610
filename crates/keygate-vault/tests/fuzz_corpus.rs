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

/// Found by `vault_open`: text that is not UTF-8 in a chained or MAC'd row made rusqlite's
/// `Value` conversion panic. Now the row is reported as broken, by the verifier's usual words.
#[test]
fn invalid_utf8_text_in_chained_rows_is_reported_not_a_panic() {
    use std::sync::Arc;

    use keygate_vault::{Actor, Home, KeySource, ManualClock, MasterKey, Timestamp, Vault};

    let dir = tempfile::tempdir().expect("temp dir");
    let home = Home::at(dir.path());
    std::fs::write(home.vault_path(), fuzzing::seed_vault(512)).expect("write the seed vault");
    let conn = rusqlite::Connection::open(home.vault_path()).expect("open with SQLite");
    conn.execute_batch(
        "UPDATE rotation_log SET credential = CAST(x'66ff' AS TEXT) WHERE id = 1;
         UPDATE audit SET tool = CAST(x'ff' AS TEXT);
         UPDATE token SET id = CAST(x'ff' AS TEXT) WHERE grant_id IS NULL;",
    )
    .expect("damage three rows");
    drop(conn);
    let key = KeySource::Given(MasterKey::from_bytes(&fuzzing::FUZZ_MASTER_KEY).expect("key"));
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(1_760_000_000_000)));
    let vault = Vault::open(&home, key, clock, Actor::Cli).expect("the vault still opens");
    let rotation = vault.verify_rotation_log().expect("the rotation log is checked");
    assert!(!rotation.is_intact(), "a damaged rotation row passed: {rotation:?}");
    let audit = vault.verify_audit().expect("the audit is checked");
    assert!(!audit.is_intact(), "a damaged audit row passed: {audit:?}");
    // A token id that is not text cannot even be named: a finding, or an error saying so.
    match vault.verify_rows() {
        Ok(findings) => assert!(!findings.is_empty(), "a damaged token row passed"),
        Err(error) => assert!(error.to_string().contains("utf-8"), "{error}"),
    }
}
