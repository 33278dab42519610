//! Authenticated rows: a decisive row changed or inserted without the master key is refused
//! by name, and a vault from before row MACs is authenticated once, at its first open.

use keygate_vault::{Denial, GrantRequest, ListedTool, PinState, TokenDecision, Vault, VaultError};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::common::{DAY, Fixture, request, secret};

fn is_tampered(result: Result<impl std::fmt::Debug, VaultError>, row: &str) {
    match result {
        Err(VaultError::Tampered { row: named }) => assert_eq!(named, row),
        other => panic!("expected {row} refused as tampered, got {other:?}"),
    }
}

fn check(vault: &Vault, token: &str) -> TokenDecision {
    vault.check_token(token, Some("web_search")).expect("check")
}

fn listed(tool: &str, definition: &str) -> ListedTool {
    ListedTool { tool: tool.into(), sha256: Sha256::digest(definition).into(), definition: definition.into() }
}

#[test]
fn a_forged_token_row_is_refused_and_named() {
    let fx = Fixture::with_vault();
    let vault = fx.open();
    let (id, secret_hex) = ("0123456789abcdef", "ab".repeat(32));
    let hash: [u8; 32] = Sha256::digest(hex::decode(&secret_hex).expect("hex")).into();
    fx.raw()
        .execute(
            "INSERT INTO token (id, secret_hash, tools, created_at, expires_at) VALUES (?1, ?2, 'web_search github_*', 0, ?3)",
            rusqlite::params![id, hash, 4_102_444_800_000i64], // 2100-01-01
        )
        .expect("forge");
    let token = format!("kg_{id}_{secret_hex}");
    assert_eq!(check(&vault, &token), TokenDecision::Denied { token_id: Some(id.into()), reason: Denial::Tampered });
    is_tampered(vault.list_tokens(), &format!("token {id}"));
    let findings = vault.verify_rows().expect("verify");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((findings[0].table.as_str(), findings[0].row.as_str()), ("token", "token 0123456789abcdef"));
    // A real token with a MAC copied onto a widened scope is refused too.
    let mut vault = fx.open();
    let real = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    assert!(matches!(check(&vault, real.token.expose_secret()), TokenDecision::Allowed(_)), "remembered as verified");
    fx.raw().execute("UPDATE token SET tools = 'web_search github_*' WHERE id = ?1", [&real.id]).expect("widen");
    assert!(matches!(
        check(&vault, real.token.expose_secret()),
        TokenDecision::Denied { reason: Denial::Tampered, .. }
    ));
    // Revoking it still works, and it stays refused.
    assert!(vault.revoke_token(&real.id).expect("revoke"));
    assert!(matches!(
        check(&vault, real.token.expose_secret()),
        TokenDecision::Denied { reason: Denial::Tampered, .. }
    ));
}

#[test]
fn a_credential_rolled_back_or_with_a_moved_due_date_is_refused() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("openai", &secret("v1"), Some(30)).expect("add");
    vault.rotate_credential("openai", &secret("v2")).expect("rotate");
    let v2_row: (i64, Option<i64>, Vec<u8>) = fx
        .raw()
        .query_row("SELECT current_version, rotated_at, mac FROM credential", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("row");
    fx.clock.advance(DAY);
    vault.rotate_credential("openai", &secret("v3")).expect("rotate");

    fx.raw().execute("UPDATE credential SET current_version = 2", []).expect("roll back");
    let row = "credential openai";
    is_tampered(vault.open_credential("openai"), row);
    is_tampered(vault.current_version("openai"), row);
    is_tampered(vault.list_credentials(), row);
    is_tampered(vault.rotate_credential("openai", &secret("v4")), row);
    let err = vault.open_credential("openai").expect_err("refused").to_string();
    assert!(err.contains("credential openai") && err.contains("keygate doctor"), "{err}");

    // The whole old row put back, MAC and all, verifies as a row, but not against the log.
    fx.raw()
        .execute(
            "UPDATE credential SET current_version = ?1, rotated_at = ?2, mac = ?3",
            rusqlite::params![v2_row.0, v2_row.1, v2_row.2],
        )
        .expect("replay");
    let findings = vault.verify_rows().expect("verify");
    assert!(findings.iter().any(|f| f.row == row && f.problem.contains("rolled back")), "{findings:?}");

    // The due date: the current version's age and the policy are covered.
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("openai", &secret("v1"), Some(30)).expect("add");
    fx.raw().execute("UPDATE credential_version SET created_at = created_at + 86400000 * 300", []).expect("move");
    is_tampered(vault.credential_info("openai"), row);
    fx.raw().execute("UPDATE credential_version SET created_at = created_at - 86400000 * 300", []).expect("back");
    assert!(vault.credential_info("openai").is_ok());
    fx.raw().execute("UPDATE credential SET max_age_days = 3650", []).expect("policy");
    is_tampered(vault.credential_info("openai"), row);
    // Removed behind Keygate's back: the rotation log says it should be there.
    fx.raw().execute("DELETE FROM credential", []).expect("vanish");
    let findings = vault.verify_rows().expect("verify");
    assert!(findings.iter().any(|f| f.row == row && f.problem.contains("missing")), "{findings:?}");
}

#[test]
fn a_changed_grant_stops_its_tokens_and_minting() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    let token = vault.mint_grant_token("cursor").expect("mint");
    // Checked once before the edit, so both rows' MACs are remembered as verified.
    assert!(matches!(check(&vault, token.token.expose_secret()), TokenDecision::Allowed(_)));
    fx.raw().execute("UPDATE agent_grant SET tools = 'web_search github_*'", []).expect("widen");
    assert!(matches!(
        check(&vault, token.token.expose_secret()),
        TokenDecision::Denied { reason: Denial::Tampered, .. }
    ));
    is_tampered(vault.mint_grant_token("cursor"), "grant 1");
    is_tampered(vault.list_grants(), "grant 1");
    // A grant's token whose grant row is gone is refused, not treated as a plain token.
    fx.raw().execute_batch("PRAGMA foreign_keys = OFF; DELETE FROM agent_grant;").expect("delete");
    assert!(matches!(
        check(&vault, token.token.expose_secret()),
        TokenDecision::Denied { reason: Denial::Tampered, .. }
    ));
}

#[test]
fn a_changed_pin_is_refused_and_relisting_quarantines_it() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.record_tool_listing("github", &[listed("create_issue", "{\"a\":1}"), listed("search", "{}")]).expect("list");
    assert_eq!(vault.tool_pin_state("github", "create_issue").expect("state"), Some(PinState::Approved));
    // Approve a changed definition by hand: refused, never served.
    vault.record_tool_listing("github", &[listed("create_issue", "{\"a\":2}"), listed("search", "{}")]).expect("list");
    fx.raw()
        .execute("UPDATE tool_pin SET approved_sha256 = seen_sha256 WHERE tool = 'create_issue'", [])
        .expect("edit");
    is_tampered(vault.tool_pin_state("github", "create_issue"), "tool pin github/create_issue");
    is_tampered(vault.tool_pins("github"), "tool pin github/create_issue");
    // The next listing trusts nothing of the changed row: the tool waits for a person.
    let report = vault
        .record_tool_listing("github", &[listed("create_issue", "{\"a\":2}"), listed("search", "{}")])
        .expect("list");
    assert_eq!(report.new_pending, vec!["create_issue".to_string()]);
    assert_eq!(vault.tool_pin_state("github", "create_issue").expect("state"), Some(PinState::Pending));
    assert_eq!(vault.approve_tools("github", None).expect("approve"), vec!["create_issue".to_string()]);
    assert_eq!(vault.tool_pin_state("github", "search").expect("state"), Some(PinState::Approved));
    assert!(vault.verify_rows().expect("verify").is_empty());
}

#[test]
fn a_vault_from_before_row_macs_is_authenticated_once_at_its_first_open() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("openai", &secret("v1"), None).expect("add");
    vault.rotate_credential("openai", &secret("v2")).expect("rotate");
    let plain = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    vault.create_grant(&GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    let minted = vault.mint_grant_token("cursor").expect("mint");
    vault.record_tool_listing("github", &[listed("search", "{}")]).expect("list");
    drop(vault);
    fx.make_pre_mac();

    let mut vault = fx.open();
    assert!(matches!(check(&vault, plain.token.expose_secret()), TokenDecision::Allowed(_)));
    assert!(matches!(check(&vault, minted.token.expose_secret()), TokenDecision::Allowed(_)));
    assert_eq!(vault.open_credential("openai").expect("open").version, 2);
    assert_eq!(vault.tool_pin_state("github", "search").expect("pin"), Some(PinState::Approved));
    assert_eq!(vault.verify_rotation_log().expect("verify").to_string(), "ok, 2 rows");
    assert!(vault.verify_rows().expect("verify").is_empty());
    vault.rotate_credential("openai", &secret("v3")).expect("rotate after the upgrade");
    assert_eq!(vault.verify_rotation_log().expect("verify").to_string(), "ok, 3 rows");

    // Once upgraded, a MAC erased (or every MAC column dropped and the schema rolled back)
    // is never filled in again: the key check says the rows are authenticated.
    fx.raw().execute("UPDATE token SET mac = NULL WHERE id = ?1", [&plain.id]).expect("erase");
    drop(vault);
    let vault = fx.open();
    assert!(matches!(
        check(&vault, plain.token.expose_secret()),
        TokenDecision::Denied { reason: Denial::Tampered, .. }
    ));
    drop(vault);
    fx.raw()
        .execute_batch(
            "ALTER TABLE token DROP COLUMN mac; ALTER TABLE agent_grant DROP COLUMN mac;
             ALTER TABLE credential DROP COLUMN mac; ALTER TABLE tool_pin DROP COLUMN mac;
             ALTER TABLE audit DROP COLUMN mac; ALTER TABLE audit DROP COLUMN seal;
             ALTER TABLE rotation_log DROP COLUMN mac; ALTER TABLE oauth_client DROP COLUMN mac;
             ALTER TABLE oauth_consent DROP COLUMN mac; ALTER TABLE oauth_code DROP COLUMN mac;
             ALTER TABLE oauth_family DROP COLUMN mac; ALTER TABLE oauth_refresh DROP COLUMN mac;
             ALTER TABLE oauth_family_token DROP COLUMN mac; ALTER TABLE agent_grant DROP COLUMN policy;
             ALTER TABLE token DROP COLUMN policy; DROP TABLE team_credential; PRAGMA user_version = 6;",
        )
        .and_then(|()| fx.raw().execute_batch(crate::common::UNDO_ROTATION_SCHEMA))
        .expect("roll back the schema");
    let vault = fx.open();
    assert!(matches!(
        check(&vault, minted.token.expose_secret()),
        TokenDecision::Denied { reason: Denial::Tampered, .. }
    ));
    assert!(!vault.verify_rotation_log().expect("verify").is_intact());
}
