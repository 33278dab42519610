//! Grants: creating, listing, minting, expiry, revocation (of the grant and so of every
//! token it minted), reuse of a revoked name, the audit by grant, and the schema upgrade.

use std::time::Duration;

use keygate_vault::{
    AuditStart, Decision, Denial, GrantRequest, GrantStatus, TokenDecision, TokenStatus, Vault, VaultError,
};
use secrecy::ExposeSecret;

use crate::common::{DAY, Fixture, HOUR, T0, request};

const MINUTE: Duration = Duration::from_secs(60);

fn grant_request(name: &str, tools: &[&str]) -> GrantRequest {
    GrantRequest::new(name, tools.iter().map(|t| (*t).to_string()).collect())
}

fn check(vault: &Vault, token: &str, tool: &str) -> TokenDecision {
    vault.check_token(token, Some(tool)).expect("check")
}

fn is_denied(decision: &TokenDecision, reason: Denial) -> bool {
    matches!(decision, TokenDecision::Denied { reason: r, token_id: Some(_) } if *r == reason)
}

#[test]
fn a_grant_is_created_listed_and_found_by_name() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let info = vault.create_grant(&grant_request("cursor", &["web_search", "github_*", "web_search"])).expect("create");
    assert_eq!(info.name, "cursor");
    assert_eq!(info.tools, ["github_*", "web_search"], "sorted and deduplicated");
    assert_eq!(info.token_ttl_secs, 15 * 60, "default token ttl is 15 minutes");
    assert_eq!((info.created_at, info.expires_at, info.revoked_at), (T0.unix_millis(), None, None));
    assert_eq!((info.last_used_at, info.tokens_minted, info.status), (None, 0, GrantStatus::Active));
    assert_eq!(vault.grant("cursor").expect("get"), Some(info.clone()));
    assert_eq!(vault.grant("nope").expect("get"), None);

    let mut second = grant_request("claude-desktop", &["web_search"]);
    second.token_ttl = Duration::from_secs(2);
    second.expires_in = Some(90 * DAY);
    fx.clock.advance(Duration::from_millis(5));
    let second = vault.create_grant(&second).expect("create second");
    assert_eq!(second.token_ttl_secs, 2);
    assert_eq!(second.expires_at, Some(T0.plus(Duration::from_millis(5)).plus(90 * DAY).unix_millis()));
    let names: Vec<String> = vault.list_grants().expect("list").into_iter().map(|g| g.name).collect();
    assert_eq!(names, ["claude-desktop", "cursor"], "newest first");

    let json = serde_json::to_value(&info).expect("serialize");
    assert_eq!(json["status"], "active");
    assert_eq!(json["created_at"], T0.unix_millis());
}

#[test]
fn bad_grant_requests_are_refused_by_name() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&grant_request("cursor", &["web_search"])).expect("create");
    let err = vault.create_grant(&grant_request("cursor", &["other"])).expect_err("duplicate");
    assert!(matches!(&err, VaultError::GrantExists { name } if name == "cursor"), "{err}");
    assert!(err.to_string().contains("keygate grant revoke cursor"), "{err}");

    for (name, tools) in [("Cursor", &["a"][..]), ("", &["a"]), ("a_b", &["a"]), ("ok", &[]), ("ok", &["bad tool"])] {
        let err = vault.create_grant(&grant_request(name, tools)).expect_err(name);
        assert_eq!(err.code(), "invalid_grant", "{name} {tools:?}: {err}");
    }
    let mut short = grant_request("short", &["a"]);
    short.token_ttl = Duration::from_millis(500);
    assert_eq!(vault.create_grant(&short).expect_err("sub-second ttl").code(), "invalid_grant");
    short.token_ttl = 365 * DAY;
    let err = vault.create_grant(&short).expect_err("ttl over max");
    assert!(err.to_string().contains("max_ttl"), "{err}");
    assert_eq!(vault.list_grants().expect("list").len(), 1, "nothing half-written");
}

#[test]
fn minted_tokens_carry_the_grant_and_live_the_grants_token_ttl() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&grant_request("cursor", &["web_search", "github_*"])).expect("create");
    let issued = vault.mint_grant_token("cursor").expect("mint");
    let token = issued.token.expose_secret();
    assert_eq!(issued.expires_at, T0.plus(15 * MINUTE));
    match check(&vault, token, "web_search") {
        TokenDecision::Allowed(checked) => assert_eq!(checked.grant.as_deref(), Some("cursor")),
        denied => panic!("{denied:?}"),
    }
    assert!(matches!(check(&vault, token, "github_create_issue"), TokenDecision::Allowed(_)));
    assert!(is_denied(&check(&vault, token, "other"), Denial::OutOfScope));

    let listed = vault.list_tokens().expect("list");
    assert_eq!(listed[0].grant.as_deref(), Some("cursor"));
    assert_eq!(listed[0].tools, ["github_*", "web_search"]);
    vault.mint_grant_token("cursor").expect("mint again");
    assert_eq!(vault.grant("cursor").expect("get").expect("some").tokens_minted, 2);

    fx.clock.advance(MINUTE);
    vault.record_token_use(&issued.id).expect("use");
    assert_eq!(vault.grant("cursor").expect("get").expect("some").last_used_at, Some(T0.plus(MINUTE).unix_millis()));
    let plain = vault.issue_token(&request(&["web_search"], Some(HOUR))).expect("plain token");
    let plain_info = vault.list_tokens().expect("list").into_iter().find(|t| t.id == plain.id).expect("listed");
    assert_eq!(plain_info.grant, None);
    match check(&vault, plain.token.expose_secret(), "web_search") {
        TokenDecision::Allowed(checked) => assert_eq!(checked.grant, None),
        denied => panic!("{denied:?}"),
    }

    fx.clock.advance(14 * MINUTE);
    assert!(is_denied(&check(&vault, token, "web_search"), Denial::Expired), "the token ttl ends it");
}

#[test]
fn a_token_never_outlives_its_grant() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let mut request = grant_request("ci", &["web_search"]);
    request.expires_in = Some(10 * MINUTE);
    vault.create_grant(&request).expect("create");
    let issued = vault.mint_grant_token("ci").expect("mint");
    assert_eq!(issued.expires_at, T0.plus(10 * MINUTE), "capped at the grant's expiry");

    // A token row stretched without the master key is refused outright; put back, it works
    // until the grant's expiry, which is read on every check.
    fx.raw().execute("UPDATE token SET expires_at = expires_at + 3600000", []).expect("stretch the token");
    assert!(is_denied(&check(&vault, issued.token.expose_secret(), "web_search"), Denial::Tampered));
    fx.raw().execute("UPDATE token SET expires_at = expires_at - 3600000", []).expect("put it back");
    assert!(matches!(check(&vault, issued.token.expose_secret(), "web_search"), TokenDecision::Allowed(_)));
    fx.clock.advance(10 * MINUTE);
    assert!(is_denied(&check(&vault, issued.token.expose_secret(), "web_search"), Denial::Expired));
    let err = vault.mint_grant_token("ci").expect_err("expired grant");
    assert!(matches!(&err, VaultError::GrantExpired { name } if name == "ci"), "{err}");
    assert_eq!(vault.grant("ci").expect("get").expect("some").status, GrantStatus::Expired);
}

#[test]
fn revoking_a_grant_stops_every_token_it_minted_on_the_next_check() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&grant_request("cursor", &["web_search"])).expect("create");
    let tokens: Vec<String> =
        (0..3).map(|_| vault.mint_grant_token("cursor").expect("mint").token.expose_secret().to_string()).collect();
    let other = vault.issue_token(&request(&["web_search"], None)).expect("unrelated token");

    // A second handle, like the server's, sees the revocation on its very next check.
    let server = fx.open();
    assert!(matches!(check(&server, &tokens[0], "web_search"), TokenDecision::Allowed(_)));
    assert!(vault.revoke_grant("cursor").expect("revoke"));
    for token in &tokens {
        assert!(is_denied(&check(&server, token, "web_search"), Denial::Revoked));
    }
    assert!(matches!(check(&server, other.token.expose_secret(), "web_search"), TokenDecision::Allowed(_)));
    assert!(
        vault
            .list_tokens()
            .expect("list")
            .iter()
            .filter(|t| t.grant.is_some())
            .all(|t| t.status == TokenStatus::Revoked)
    );

    // Clearing the tokens' mark without the master key makes their rows refused as changed.
    fx.raw().execute("UPDATE token SET revoked_at = NULL", []).expect("unrevoke the tokens");
    assert!(is_denied(&check(&server, &tokens[0], "web_search"), Denial::Tampered));

    assert!(!vault.revoke_grant("cursor").expect("revoke twice"), "already revoked");
    let err = vault.mint_grant_token("cursor").expect_err("revoked");
    assert!(matches!(&err, VaultError::GrantRevoked { name } if name == "cursor"), "{err}");
    assert!(matches!(vault.revoke_grant("nope"), Err(VaultError::GrantNotFound { .. })));
    assert!(matches!(vault.mint_grant_token("nope"), Err(VaultError::GrantNotFound { .. })));
    for hostile in ["\u{1b}[2J", "Nope", ""] {
        let err = vault.mint_grant_token(hostile).expect_err("not a name");
        assert_eq!(err.code(), "invalid_grant", "{err}");
        assert!(!err.to_string().contains('\u{1b}'), "a terminal escape echoed: {err:?}");
        assert_eq!(vault.revoke_grant(hostile).expect_err("not a name").code(), "invalid_grant");
    }
    assert_eq!(vault.grant("cursor").expect("get").expect("some").status, GrantStatus::Revoked);

    // The name may be given again; the old tokens stay dead.
    vault.create_grant(&grant_request("cursor", &["web_search"])).expect("recreate");
    let fresh = vault.mint_grant_token("cursor").expect("mint under the new grant");
    assert!(matches!(check(&server, fresh.token.expose_secret(), "web_search"), TokenDecision::Allowed(_)));
    // (Their rows were unrevoked by hand above, so they are refused as changed.)
    assert!(is_denied(&check(&server, &tokens[1], "web_search"), Denial::Tampered));
    let cursor = vault.grant("cursor").expect("get").expect("some");
    assert_eq!((cursor.status, cursor.tokens_minted), (GrantStatus::Active, 1), "the live one is shown");
    assert_eq!(vault.list_grants().expect("list").len(), 2, "the revoked one stays for the audit");
}

#[test]
fn audit_entries_name_the_grant_of_the_calling_token() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&grant_request("cursor", &["web_search"])).expect("create");
    let minted = vault.mint_grant_token("cursor").expect("mint");
    let plain = vault.issue_token(&request(&["web_search"], None)).expect("plain");
    for token_id in [Some(minted.id.as_str()), Some(plain.id.as_str()), None] {
        let start = AuditStart {
            token_id,
            server: None,
            tool: "web_search",
            credential: None,
            credential_version: None,
            team_version: None,
            decision: if token_id.is_some() { Decision::Allowed } else { Decision::Denied },
            status: None,
        };
        vault.begin_audit(&start).expect("audit");
    }
    let grants: Vec<Option<String>> = vault.audit_log().expect("log").into_iter().map(|e| e.grant).collect();
    assert_eq!(grants, [Some("cursor".to_string()), None, None]);
    let by_grant = vault.recent_grant_audit("cursor", 10).expect("by grant");
    assert_eq!(by_grant.len(), 1);
    assert_eq!(by_grant[0].token_id.as_deref(), Some(minted.id.as_str()));
    assert!(vault.recent_grant_audit("other", 10).expect("none").is_empty());
}

#[test]
fn a_vault_from_before_grants_is_upgraded_and_its_tokens_still_work() {
    let fx = Fixture::with_vault();
    let old = fx.open().issue_token(&request(&["web_search"], None)).expect("issue");
    // Take the file back to schema 2: no grant table, no grant column.
    fx.raw()
        .execute_batch(
            "DROP TABLE oauth_family_token; DROP TABLE oauth_refresh; DROP TABLE oauth_family;
             DROP TABLE oauth_code; DROP TABLE oauth_consent; DROP TABLE oauth_client;
             DROP INDEX token_grant; DROP TABLE agent_grant; DROP TABLE client_config;
             ALTER TABLE audit DROP COLUMN count;
             CREATE TABLE token2 AS SELECT id, secret_hash, label, tools, created_at, expires_at, revoked_at,
                                           last_used_at, uses FROM token;
             DROP TABLE token; ALTER TABLE token2 RENAME TO token;
             ALTER TABLE credential DROP COLUMN mac; ALTER TABLE tool_pin DROP COLUMN mac;
             ALTER TABLE audit DROP COLUMN mac; ALTER TABLE audit DROP COLUMN seal;
             ALTER TABLE rotation_log DROP COLUMN mac; DROP TABLE team_credential; PRAGMA user_version = 2;",
        )
        .and_then(|()| fx.raw().execute_batch(crate::common::UNDO_ROTATION_SCHEMA))
        .expect("downgrade");
    fx.write_first_key_check(&fx.raw());
    let mut vault = fx.open();
    assert!(matches!(check(&vault, old.token.expose_secret(), "web_search"), TokenDecision::Allowed(_)));
    vault.create_grant(&grant_request("cursor", &["web_search"])).expect("create after upgrade");
    let minted = vault.mint_grant_token("cursor").expect("mint");
    assert!(matches!(check(&vault, minted.token.expose_secret(), "web_search"), TokenDecision::Allowed(_)));
    let version: i64 = fx.raw().pragma_query_value(None, "user_version", |r| r.get(0)).expect("version");
    assert!(version >= 3, "upgraded to the latest schema, {version}");
}
