//! Secrets stay secret: never on disk in the clear, only a hash of a token, never in Debug.

use keygate_vault::{KeySource, MasterKey};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::common::{Fixture, contains, request, secret, token_secret};

#[test]
fn the_value_is_never_on_disk_in_the_clear() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let value = "sk-live-DISTINCTIVE-7c1e5d0a9b";
    let rotated = "sk-live-ROTATED-VALUE-41aa09";
    vault.add_credential("openai", &secret(value), None).expect("add");
    assert!(!contains(&fx.disk_bytes(), value.as_bytes()), "value in vault.db or its WAL");
    vault.rotate_credential("openai", &secret(rotated)).expect("rotate");
    assert!(!contains(&fx.disk_bytes(), rotated.as_bytes()), "rotated value in vault.db or its WAL");
    drop(vault);

    let bytes = fx.disk_bytes();
    assert!(contains(&bytes, b"openai"), "the test reads the wrong file: the name should be there");
    assert!(!contains(&bytes, value.as_bytes()), "value in vault.db after close");
    assert!(!contains(&bytes, rotated.as_bytes()), "rotated value in vault.db after close");
}

#[test]
fn only_a_hash_of_the_token_is_stored() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let token = issued.token.expose_secret().to_string();
    let secret_part = token_secret(&token).to_string();

    let check_disk = |when: &str| {
        let bytes = fx.disk_bytes();
        assert!(contains(&bytes, issued.id.as_bytes()), "{when}: the id should be stored (test reads the right file)");
        assert!(!contains(&bytes, token.as_bytes()), "{when}: the whole token is on disk");
        assert!(!contains(&bytes, secret_part.as_bytes()), "{when}: the secret is on disk");
        let raw = hex::decode(&secret_part).expect("secret is hex");
        assert!(!contains(&bytes, &raw), "{when}: the secret's raw bytes are on disk");
    };
    check_disk("open");
    drop(vault);
    check_disk("closed");

    let (hash, tools): (Vec<u8>, String) = fx
        .raw()
        .query_row("SELECT secret_hash, tools FROM token WHERE id = ?1", [&issued.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("token row");
    assert_eq!(hash.len(), 32);
    let raw = hex::decode(secret_part).expect("hex secret");
    assert_eq!(hash, Sha256::digest(&raw).as_slice());
    assert_eq!(tools, "web_search");
}

#[test]
fn debug_output_hides_secrets() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let value = "sk-debug-VALUE-5e8f1a";
    vault.add_credential("dbg", &secret(value), None).expect("add");
    let opened = vault.open_credential("dbg").expect("open");
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let token = issued.token.expose_secret();

    let shown = format!("{opened:?}");
    assert!(shown.contains("version: 1") && !shown.contains(value), "{shown}");
    let shown = format!("{issued:?}");
    assert!(shown.contains(&issued.id), "{shown}");
    assert!(!shown.contains(token) && !shown.contains(token_secret(token)), "{shown}");

    // A key whose bytes are easy to spot in every encoding Debug might use.
    let bytes: Vec<u8> = (0xA0..0xC0).collect();
    let encodings = [
        hex::encode(&bytes),
        hex::encode_upper(&bytes),
        format!("{:?}", &bytes[..6]).trim_end_matches(']').to_string(),
        format!("{:x?}", &bytes[..6]).trim_end_matches(']').to_string(),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes),
    ];
    let key = MasterKey::from_bytes(&bytes).expect("key");
    let source = KeySource::Given(MasterKey::from_bytes(&bytes).expect("key"));
    for shown in [format!("{key:?}"), format!("{source:?}")] {
        for encoded in &encodings {
            assert!(!shown.contains(encoded.as_str()), "{encoded} in {shown}");
        }
    }

    // The vault itself: its key, the values and tokens it handled.
    let mut fx2 = Fixture::new();
    fx2.key_bytes.copy_from_slice(&bytes);
    fx2.init().expect("init");
    let mut vault2 = fx2.open();
    vault2.add_credential("dbg", &secret(value), None).expect("add");
    let _ = vault2.open_credential("dbg").expect("open");
    let issued2 = vault2.issue_token(&request(&["t"], None)).expect("issue");
    let shown = format!("{vault2:?} {vault:?}");
    assert!(shown.contains(vault2.id()), "the vault id is fine to show: {shown}");
    for encoded in &encodings {
        assert!(!shown.contains(encoded.as_str()), "{encoded} in {shown}");
    }
    for secret_text in [value, token, token_secret(token), issued2.token.expose_secret()] {
        assert!(!shown.contains(secret_text), "{secret_text} in {shown}");
    }
}
