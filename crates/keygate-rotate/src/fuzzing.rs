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

/// Any bytes as a mint command's stdout: a key, or a refusal that never repeats the output
/// (it may hold a key).
pub fn command_answer(data: &[u8]) {
    match crate::command::parse_minted(data, "fuzz-mint") {
        Ok(minted) => {
            use secrecy::ExposeSecret;
            assert!(!minted.value.expose_secret().is_empty(), "an empty value was accepted");
        }
        Err(why) => {
            if let Ok(text) = std::str::from_utf8(data) {
                let text = text.trim();
                assert!(text.len() < 24 || !why.contains(text), "the refusal repeats the command's output: {why}");
            }
        }
    }
}
