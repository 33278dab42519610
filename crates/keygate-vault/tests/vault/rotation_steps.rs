//! Rollback, grace, policy changes and a rotator's steps: each logged, each idempotent under
//! its attempt id, and the rotation state refused when edited without the master key.

use std::time::Duration;

use keygate_vault::{LogAction, MintedKey, VaultError, VersionState};
use secrecy::ExposeSecret;

use crate::common::{DAY, Fixture, HOUR, secret};

fn states(vault: &keygate_vault::Vault, name: &str) -> Vec<(i64, VersionState)> {
    vault.credential_detail(name).expect("detail").versions.iter().map(|v| (v.version, v.state)).collect()
}

fn actions(vault: &keygate_vault::Vault) -> Vec<String> {
    vault.rotation_log().expect("log").into_iter().map(|e| e.action).collect()
}

#[test]
fn rollback_restores_the_previous_value_and_can_itself_be_undone() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("openai", &secret("sk-one"), None).expect("add");
    let err = vault.rollback_credential("openai").expect_err("nothing to roll back to");
    assert!(matches!(err, VaultError::NoPreviousVersion { .. }), "{err}");

    fx.clock.advance(HOUR);
    vault.rotate_credential("openai", &secret("sk-two")).expect("rotate");
    assert_eq!(states(&vault, "openai"), [(2, VersionState::Current), (1, VersionState::Previous)]);

    let info = vault.rollback_credential("openai").expect("roll back");
    assert_eq!(info.version, 1);
    assert_eq!(vault.open_credential("openai").expect("open").value.expose_secret(), "sk-one");
    assert_eq!(states(&vault, "openai"), [(2, VersionState::Previous), (1, VersionState::Current)]);
    vault.rollback_credential("openai").expect("roll forward again");
    assert_eq!(vault.open_credential("openai").expect("open").value.expose_secret(), "sk-two");

    let log = vault.rotation_log().expect("log");
    let last = log.last().expect("a row");
    assert_eq!((last.action.as_str(), last.from_version, last.to_version), ("rolled_back", Some(1), Some(2)));
    assert!(vault.verify_rows().expect("verify").is_empty(), "rollback keeps the log and rows in agreement");
    assert!(vault.verify_rotation_log().expect("chain").broken.is_none());

    // A rotation after a rollback numbers past every version, and keeps only two.
    vault.rotate_credential("openai", &secret("sk-three")).expect("rotate");
    assert_eq!(states(&vault, "openai"), [(3, VersionState::Current), (2, VersionState::Previous)]);
    // Rolled back and the previous erased: the next number is still new, never a reused one
    // (the gateway restarts a child when the number changes).
    vault.rollback_credential("openai").expect("back to 2");
    vault.erase_previous("openai", 3, LogAction::Erased).expect("erase 3");
    vault.rotate_credential("openai", &secret("sk-four")).expect("rotate");
    assert_eq!(states(&vault, "openai"), [(4, VersionState::Current), (2, VersionState::Previous)]);
    let attempt = vault.begin_rotation("openai").expect("begin");
    let value = secret("sk-discarded");
    let key = MintedKey { value: &value, provider_id: None, expires_at: None };
    assert_eq!(vault.store_pending("openai", &attempt.id, &key).expect("pending"), 5);
    vault.abandon_rotation("openai", &attempt.id, LogAction::Discarded).expect("discard");
    let attempt = vault.begin_rotation("openai").expect("begin");
    assert_eq!(vault.store_pending("openai", &attempt.id, &key).expect("pending"), 6, "5 was used once");
}

#[test]
fn grace_ends_by_erasing_the_previous_version_and_logging_it() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("k", &secret("one"), None).expect("add");
    vault.set_credential_policy("k", Some(7), Some(Duration::from_secs(24 * 3600))).expect("set");
    let detail = vault.credential_detail("k").expect("detail");
    assert_eq!((detail.info.max_age_days, detail.grace_secs), (7, 86_400));

    vault.rotate_credential("k", &secret("two")).expect("rotate");
    let rotated = fx.now();
    assert_eq!(vault.credential_detail("k").expect("detail").previous_until, Some(rotated.plus(DAY)));
    assert_eq!(vault.retiring_version("k", false).expect("retiring"), None, "within the grace");
    fx.clock.advance(DAY);
    let retiring = vault.retiring_version("k", false).expect("retiring").expect("grace over");
    assert_eq!(retiring.version, 1);
    vault.erase_previous("k", 1, LogAction::Revoked).expect("erase");
    vault.erase_previous("k", 1, LogAction::Revoked).expect("erasing again is a no-op");
    assert_eq!(states(&vault, "k"), [(2, VersionState::Current)]);
    assert!(matches!(vault.rollback_credential("k"), Err(VaultError::NoPreviousVersion { .. })));
    assert_eq!(actions(&vault), ["created", "policy_changed", "rotated", "revoked"]);
    assert!(vault.verify_rows().expect("verify").is_empty());
}

#[test]
fn policy_changes_refuse_bad_values_and_change_nothing() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("k", &secret("one"), Some(30)).expect("add");
    let err = vault.set_credential_policy("k", Some(0), None).expect_err("0 days");
    assert!(matches!(err, VaultError::InvalidMaxAge { days: 0 }), "{err}");
    let err = vault.set_credential_policy("k", None, Some(Duration::from_secs(400 * 24 * 3600))).expect_err("grace");
    assert!(err.to_string().contains("invalid grace"), "{err}");
    let err = vault.set_credential_policy("nope", Some(3), None).expect_err("unknown");
    assert!(matches!(err, VaultError::CredentialNotFound { .. }), "{err}");
    assert_eq!(vault.credential_info("k").expect("info").max_age_days, 30);
    assert_eq!(actions(&vault), ["created"]);
}

#[test]
fn a_rotation_resumes_under_the_same_attempt_and_never_stores_two_keys() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("k", &secret("old"), None).expect("add");
    let attempt = vault.begin_rotation("k").expect("begin");
    assert!(!attempt.resumed);

    // The process "dies" here; the next run finds the same attempt.
    drop(vault);
    let mut vault = fx.open();
    let again = vault.begin_rotation("k").expect("begin again");
    assert_eq!((again.id.as_str(), again.resumed, again.pending), (attempt.id.as_str(), true, None));

    let value = secret("new");
    let minted = MintedKey { value: &value, provider_id: Some("key_1"), expires_at: None };
    let v = vault.store_pending("k", &attempt.id, &minted).expect("pending");
    let other = secret("another");
    let twice = MintedKey { value: &other, provider_id: Some("key_2"), expires_at: None };
    assert_eq!(vault.store_pending("k", &attempt.id, &twice).expect("pending again"), v, "the first key stays");
    assert_eq!(vault.open_version("k", v).expect("open pending").value.expose_secret(), "new");
    assert_eq!(states(&vault, "k"), [(2, VersionState::Pending), (1, VersionState::Current)]);
    assert_eq!(vault.open_credential("k").expect("current").value.expose_secret(), "old", "pending is not used");

    let resumed = vault.begin_rotation("k").expect("resume");
    assert_eq!((resumed.pending, resumed.tested), (Some(2), false));
    vault.mark_tested("k", &attempt.id, v).expect("tested");
    assert!(vault.begin_rotation("k").expect("resume").tested);
    let err = vault.promote_pending("k", "0000").expect_err("another attempt");
    assert!(matches!(err, VaultError::AttemptMismatch { .. }), "{err}");
    let info = vault.promote_pending("k", &attempt.id).expect("promote");
    assert_eq!(info.version, 2);
    vault.promote_pending("k", &attempt.id).expect("promoting again is a no-op");
    assert_eq!(vault.open_credential("k").expect("current").value.expose_secret(), "new");
    let detail = vault.credential_detail("k").expect("detail");
    assert_eq!(detail.attempt, None);
    assert_eq!(detail.versions[0].provider_id.as_deref(), Some("key_1"));
    assert_eq!(actions(&vault), ["created", "started", "pending", "tested", "rotated"]);
    assert!(vault.verify_rows().expect("verify").is_empty());
}

#[test]
fn an_abandoned_rotation_erases_its_pending_key_and_leaves_current() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("k", &secret("old"), None).expect("add");
    let attempt = vault.begin_rotation("k").expect("begin");
    let value = secret("bad");
    vault
        .store_pending("k", &attempt.id, &MintedKey { value: &value, provider_id: None, expires_at: None })
        .expect("p");
    vault.abandon_rotation("k", &attempt.id, LogAction::TestFailed).expect("abandon");
    vault.abandon_rotation("k", &attempt.id, LogAction::TestFailed).expect("again: no-op");
    assert_eq!(states(&vault, "k"), [(1, VersionState::Current)]);
    assert_eq!(vault.open_credential("k").expect("current").value.expose_secret(), "old");
    let err = vault.store_pending("k", &attempt.id, &MintedKey { value: &value, provider_id: None, expires_at: None });
    assert!(matches!(err, Err(VaultError::AttemptMismatch { .. })), "an ended attempt stores nothing");
    assert_eq!(actions(&vault), ["created", "started", "pending", "test_failed"]);
    let next = vault.begin_rotation("k").expect("a new attempt");
    assert_ne!(next.id, attempt.id);
}

#[test]
fn an_edited_rotation_state_is_refused_by_name() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("k", &secret("one"), None).expect("add");
    vault.rotate_credential("k", &secret("two")).expect("rotate");
    drop(vault);
    fx.raw().execute("UPDATE credential_rotation SET grace_secs = 999999", []).expect("edit");
    let mut vault = fx.open();
    let err = vault.rollback_credential("k").expect_err("refused");
    assert!(matches!(err, VaultError::Tampered { .. }), "{err}");
    assert!(err.to_string().contains("credential rotation state k"), "{err}");
    let findings = vault.verify_rows().expect("verify");
    assert!(findings.iter().any(|f| f.table == "credential_rotation"), "{findings:?}");
}
