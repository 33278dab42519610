//! Rows kept between reads (a token with its grant, a credential sealed): answered without
//! the file only while nothing was committed but this handle's own audit writes; anyone
//! else's commit is read on the next check.

use std::time::Duration;

use keygate_vault::{CallOutcome, Denial, TokenDecision, Vault, VaultError};
use secrecy::ExposeSecret;

use crate::common::{Fixture, HOUR, allowed_call, request, secret};

fn is_allowed(vault: &Vault, token: &str) -> bool {
    matches!(vault.check_token(token, Some("web_search")).expect("check"), TokenDecision::Allowed(_))
}

fn denial(vault: &Vault, token: &str) -> Option<Denial> {
    match vault.check_token(token, Some("web_search")).expect("check") {
        TokenDecision::Allowed(_) => None,
        TokenDecision::Denied { reason, .. } => Some(reason),
    }
}

/// What the server writes around one call: its audit row, then the outcome and use count.
fn audit_one_call(vault: &mut Vault, token_id: &str) {
    let audit = vault.begin_audits(&[allowed_call(token_id)]).expect("begin")[0];
    let outcome =
        CallOutcome { audit, token_id: token_id.into(), status: "200".into(), duration: Duration::from_millis(3) };
    vault.finish_calls(&[outcome]).expect("finish");
}

#[test]
fn a_kept_row_answers_across_the_servers_own_audit_writes() {
    let fx = Fixture::with_vault();
    let mut server = fx.open();
    let issued = server.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let token = issued.token.expose_secret();

    assert!(is_allowed(&server, token));
    let reads = server.kept_row_reads();
    for _ in 0..5 {
        audit_one_call(&mut server, &issued.id);
        assert!(is_allowed(&server, token));
    }
    assert_eq!(server.kept_row_reads(), reads, "the audit writes left the kept row in place");

    // The kept row still meets the clock on every check.
    fx.clock.advance(HOUR);
    assert_eq!(denial(&server, token), Some(Denial::Expired));
    assert_eq!(server.kept_row_reads(), reads);
}

#[test]
fn any_other_commit_is_read_on_the_very_next_check() {
    let fx = Fixture::with_vault();
    let mut server = fx.open();
    let mut cli = fx.open();
    let issued = server.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let other = server.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let (token, other_token) = (issued.token.expose_secret(), other.token.expose_secret());
    assert!(is_allowed(&server, token) && is_allowed(&server, other_token));
    let mut reads = server.kept_row_reads();
    let mut read_again = |server: &Vault| {
        let now = server.kept_row_reads();
        let read = now > reads;
        reads = now;
        read
    };

    // A commit elsewhere that touches no token still makes the next check read the file.
    fx.raw().execute("INSERT INTO meta (key, value) VALUES ('unrelated', x'00')", []).expect("commit");
    assert!(is_allowed(&server, token));
    assert!(read_again(&server), "read after another connection's commit");

    // Another handle (the CLI) revokes: refused on the next check, the other token unharmed.
    assert!(is_allowed(&server, token));
    assert!(!read_again(&server), "kept while nothing changed");
    assert!(cli.revoke_token(&issued.id).expect("revoke"));
    assert_eq!(denial(&server, token), Some(Denial::Revoked));
    assert!(read_again(&server));
    assert!(is_allowed(&server, other_token));

    // A row changed without the master key, after it was kept, is refused as changed.
    assert!(is_allowed(&server, other_token));
    fx.raw().execute("UPDATE token SET tools = 'web_search github_*' WHERE id = ?1", [&other.id]).expect("widen");
    assert_eq!(denial(&server, other_token), Some(Denial::Tampered));

    // So is a change the server itself makes outside its audit writes.
    let third = server.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    assert!(is_allowed(&server, third.token.expose_secret()));
    assert!(server.revoke_token(&third.id).expect("revoke"));
    assert_eq!(denial(&server, third.token.expose_secret()), Some(Denial::Revoked));
}

#[test]
fn a_kept_credential_is_still_decrypted_per_call_and_a_rotation_elsewhere_is_opened_at_once() {
    let fx = Fixture::with_vault();
    let mut server = fx.open();
    let mut cli = fx.open();
    server.add_credential("search_key", &secret("sk-one"), None).expect("add");
    let token = server.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let opened = |vault: &Vault| {
        let opened = vault.open_credential("search_key").expect("open");
        (opened.version, opened.value.expose_secret().to_string())
    };
    assert_eq!(opened(&server), (1, "sk-one".into()));
    let reads = server.kept_row_reads();
    audit_one_call(&mut server, &token.id);
    assert_eq!(opened(&server), (1, "sk-one".into()));
    assert_eq!(server.kept_row_reads(), reads, "kept across the server's own audit writes");

    // Rotated by another handle (the CLI, a rotation): the next open is the new version.
    cli.rotate_credential("search_key", &secret("sk-two")).expect("rotate");
    assert_eq!(opened(&server), (2, "sk-two".into()));
    cli.rollback_credential("search_key").expect("roll back");
    assert_eq!(opened(&server), (1, "sk-one".into()));
    cli.remove_credential("search_key").expect("remove");
    assert!(matches!(server.open_credential("search_key"), Err(VaultError::CredentialNotFound { .. })));
}

#[test]
fn a_vault_reached_through_a_symbolic_link_reads_the_header_sqlite_writes() {
    let fx = Fixture::with_vault();
    let mut cli = fx.open();
    let issued = cli.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let token = issued.token.expose_secret();
    // Another home whose vault.db is a link to the fixture's, beside a leftover `-shm` that
    // SQLite does not use: SQLite resolves the link and keeps its index next to the target.
    let linked = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(fx.vault_path(), linked.path().join("vault.db")).expect("link");
    let leftover = std::fs::read(format!("{}-shm", fx.vault_path().display())).expect("read -shm");
    std::fs::write(linked.path().join("vault.db-shm"), leftover).expect("leftover -shm");
    let clock: std::sync::Arc<dyn keygate_vault::Clock> = fx.clock.clone();
    let home = keygate_vault::Home::at(linked.path());
    let server = Vault::open(&home, fx.key(), clock, keygate_vault::Actor::Server).expect("open through the link");

    assert!(is_allowed(&server, token));
    assert!(cli.revoke_token(&issued.id).expect("revoke"));
    assert_eq!(denial(&server, token), Some(Denial::Revoked), "the leftover header passed for the live one");
}

#[test]
fn rows_read_inside_a_read_transaction_are_not_kept_past_it() {
    let fx = Fixture::with_vault();
    let server = fx.open();
    let mut cli = fx.open();
    let issued = cli.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let token = issued.token.expose_secret();
    // The transaction's snapshot is taken before the revoke; its second check reads that
    // snapshot under the header the revoke left.
    let inside = server
        .reading(|server| {
            let first = is_allowed(server, token);
            assert!(cli.revoke_token(&issued.id).expect("revoke"));
            (first, is_allowed(server, token))
        })
        .expect("read");
    assert_eq!(inside, (true, true), "one snapshot throughout the transaction");
    assert_eq!(denial(&server, token), Some(Denial::Revoked), "a row of the old snapshot answered after it");
}
