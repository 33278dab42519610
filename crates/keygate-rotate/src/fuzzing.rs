//! Fuzz entry points: what a person's config.toml and a rotator command's stdout can hold.
//! Each cargo-fuzz target under `fuzz/` is one call here; `tests/fuzz_corpus.rs` replays the
//! committed corpus through the same functions on stable.

/// Any text as config.toml's `[rotator.NAME]` tables: parsed or refused, never a panic; an
/// accepted rotator is one the engine can run (a command has a program, a built-in an admin
/// credential that is not itself).
pub fn rotator_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(set) = crate::RotatorSet::parse(text) else { return };
    for rotator in set.iter() {
        match &rotator.kind {
            crate::Kind::Command { command, .. } => assert!(!command.is_empty(), "an empty command was accepted"),
            crate::Kind::Manual => {}
            _ => assert!(
                rotator.admin_credential.as_deref().is_some_and(|a| a != rotator.credential),
                "a built-in without a usable admin credential was accepted"
            ),
        }
        assert!(rotator.timeout.as_secs() >= 1, "a zero timeout was accepted");
    }
}

/// Any bytes as a mint command's stdout: a key, or a refusal that never repeats the key (the
/// `value` it printed) and, for output that is not JSON, never depends on it at all.
pub fn command_answer(data: &[u8]) {
    match crate::command::parse_minted(data, "fuzz-mint") {
        Ok(minted) => {
            use secrecy::ExposeSecret;
            assert!(!minted.value.expose_secret().is_empty(), "an empty value was accepted");
        }
        Err(why) => match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(mut json) => {
                // The refusal of a non-empty value is the same whatever the value: it cannot show it.
                let non_empty = json.get("value").and_then(|v| v.as_str()).is_some_and(|v| !v.is_empty());
                // (Compared after a round trip through serde_json, which drops duplicate keys.)
                let refusal = |json: &serde_json::Value| {
                    crate::command::parse_minted(json.to_string().as_bytes(), "fuzz-mint").err()
                };
                let before = refusal(&json);
                if non_empty
                    && before.is_some()
                    && let Some(object) = json.as_object_mut()
                {
                    object.insert("value".into(), serde_json::Value::from("another-value"));
                    assert_eq!(before, refusal(&json), "the refusal depends on the printed value: {why}");
                }
            }
            Err(_) => {
                let fixed = crate::command::parse_minted(b"", "fuzz-mint").err();
                assert_eq!(Some(&why), fixed.as_ref(), "the refusal of output that is not JSON depends on it");
            }
        },
    }
}
