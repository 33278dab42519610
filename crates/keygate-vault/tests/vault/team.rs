//! Team credentials' local copies: added, updated to newer team versions, never taking over a
//! local credential with another value, forgotten only when they are copies, and a copy's
//! `team_credential` row changed without the master key refused by name.

use keygate_vault::{TeamChange, VaultError};
use secrecy::ExposeSecret;

use crate::common::{Fixture, secret};

#[test]
fn a_team_copy_is_added_updated_and_forgotten() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    assert_eq!(vault.store_team_version("search", &secret("sk-1"), 1, Some(30)).expect("add"), TeamChange::Added);
    assert_eq!(vault.credential_info("search").expect("info").max_age_days, 30);
    assert_eq!(vault.store_team_version("search", &secret("sk-1"), 1, None).expect("same"), TeamChange::Unchanged);
    assert_eq!(vault.store_team_version("search", &secret("sk-2"), 3, None).expect("newer"), TeamChange::Updated);
    assert_eq!(vault.open_credential("search").expect("open").value.expose_secret(), "sk-2");
    assert_eq!(vault.team_versions().expect("versions").get("search"), Some(&3));
    // A version that only moved on the team (same value) is recorded without a new local one.
    let local = vault.current_version("search").expect("version");
    assert_eq!(vault.store_team_version("search", &secret("sk-2"), 4, None).expect("moved"), TeamChange::Updated);
    assert_eq!(vault.current_version("search").expect("version"), local);
    assert!(vault.forget_team_credential("search").expect("forget"));
    assert!(vault.current_version("search").expect("gone").is_none());
    assert!(vault.team_versions().expect("versions").is_empty());
}

#[test]
fn a_local_credential_is_never_overwritten_by_a_team_secret() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("mine", &secret("sk-local"), None).expect("add");
    match vault.store_team_version("mine", &secret("sk-team"), 1, None) {
        Err(e @ VaultError::TeamNameTaken { .. }) => assert!(e.to_string().contains("keygate cred remove mine"), "{e}"),
        other => panic!("expected the name refused, got {other:?}"),
    }
    assert_eq!(vault.open_credential("mine").expect("open").value.expose_secret(), "sk-local");
    assert!(!vault.forget_team_credential("mine").expect("not a copy"), "a local credential is not forgotten");
    // The same value (a sync cut short between its two writes) is taken over.
    assert_eq!(vault.store_team_version("mine", &secret("sk-local"), 2, None).expect("adopt"), TeamChange::Adopted);
    assert_eq!(vault.team_versions().expect("versions").get("mine"), Some(&2));
}

#[test]
fn a_team_row_changed_without_the_master_key_is_refused() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.store_team_version("search", &secret("sk-1"), 5, None).expect("add");
    // Pretending the copy is older would make the next sync replace it; claiming a local
    // credential as a copy would let sync delete it.
    fx.raw().execute("UPDATE team_credential SET team_version = 1", []).expect("tamper");
    match vault.team_versions() {
        Err(VaultError::Tampered { row }) => assert_eq!(row, "team credential search"),
        other => panic!("expected the row refused, got {other:?}"),
    }
    let findings = vault.verify_rows().expect("verify");
    assert!(findings.iter().any(|f| f.table == "team_credential"), "{findings:?}");
}
