//! Argument rules and approval stored per grant and per token: checked at creation (rule and
//! column named), shown, read with the token on every check, and covered by the row's MAC
//! (added, changed or erased behind Keygate's back: refused).

use keygate_vault::{Denial, GrantRequest, StoredPolicy, TokenDecision, TokenGrant, Vault, VaultError};
use secrecy::ExposeSecret;

use crate::common::{Fixture, request};

fn policy(rules: &[&str], approve: bool) -> StoredPolicy {
    StoredPolicy { allow: rules.iter().map(|r| (*r).to_string()).collect(), approve }
}

fn grant_with(name: &str, tools: &[&str], rules: &[&str], approve: bool) -> GrantRequest {
    let mut request = GrantRequest::new(name, tools.iter().map(|t| (*t).to_string()).collect());
    request.policy = policy(rules, approve);
    request
}

fn allowed(vault: &Vault, token: &str, tool: &str) -> TokenGrant {
    match vault.check_token(token, Some(tool)).expect("check") {
        TokenDecision::Allowed(grant) => grant,
        denied => panic!("expected allowed, got {denied:?}"),
    }
}

fn denied_as(vault: &Vault, token: &str, reason: Denial) {
    let decision = vault.check_token(token, Some("web_search")).expect("check");
    assert!(matches!(decision, TokenDecision::Denied { reason: r, .. } if r == reason), "{decision:?}");
}

#[test]
fn a_grants_rules_are_kept_shown_and_carried_by_its_tokens() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let rules = ["web_search: num_results <= 10", "github_create_issue: repo in [\"me/app\", \"me/lib\"]"];
    let info = vault
        .create_grant(&grant_with("ci-bot", &["web_search", "github_*"], &rules, true))
        .expect("create with rules");
    assert_eq!((info.allow.as_slice(), info.approve), (&rules.map(String::from)[..], true));
    assert_eq!(vault.grant("ci-bot").expect("get").expect("found"), info);
    assert_eq!(vault.list_grants().expect("list")[0].allow.len(), 2);
    let json = serde_json::to_value(&info).expect("json");
    assert_eq!(json["allow"][0], rules[0]);
    assert_eq!(json["approve"], true);

    let token = vault.mint_grant_token("ci-bot").expect("mint");
    let grant = allowed(&vault, token.token.expose_secret(), "web_search");
    let stored = StoredPolicy::from_stored(grant.policy.as_deref().expect("the grant's policy")).expect("reads");
    assert_eq!(stored, policy(&rules, true));

    // A grant with neither keeps no policy at all (its rows are as before the column came).
    vault.create_grant(&grant_with("plain", &["web_search"], &[], false)).expect("create");
    let plain = vault.mint_grant_token("plain").expect("mint");
    assert_eq!(allowed(&vault, plain.token.expose_secret(), "web_search").policy, None);
    let stored: Option<String> =
        fx.raw().query_row("SELECT policy FROM agent_grant WHERE name = 'plain'", [], |r| r.get(0)).expect("row");
    assert_eq!(stored, None);
    let json = serde_json::to_value(vault.grant("plain").expect("get")).expect("json");
    assert!(json.get("allow").is_none() && json.get("approve").is_none(), "{json}");
}

#[test]
fn a_malformed_rule_is_refused_at_creation_with_its_position() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let err = vault
        .create_grant(&grant_with("ci-bot", &["web_search"], &["web_search: n <= 10", "web_search: repo in ]"], false))
        .expect_err("malformed");
    assert!(matches!(err, VaultError::InvalidGrant { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("rule 2, column 21: expected `[` after `in`"), "{message}");
    let err = vault
        .create_grant(&grant_with("ci-bot", &["web_search"], &["github_create_issue: has repo"], false))
        .expect_err("a rule for a tool outside the scope");
    assert!(err.to_string().contains("rule 1 is for tool github_create_issue"), "{err}");
    assert!(vault.list_grants().expect("list").is_empty(), "nothing was written");
}

#[test]
fn a_plain_token_carries_its_own_rules() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault
        .issue_token_with_policy(&request(&["web_search"], None), &policy(&["web_search: has query"], false))
        .expect("issue");
    let grant = allowed(&vault, issued.token.expose_secret(), "web_search");
    assert_eq!(StoredPolicy::from_stored(grant.policy.as_deref().expect("policy")).expect("reads").allow.len(), 1);
    let listed = vault.list_tokens().expect("list");
    assert_eq!(listed[0].allow, ["web_search: has query"]);
    let err = vault
        .issue_token_with_policy(&request(&["web_search"], None), &policy(&["web_search num"], false))
        .expect_err("malformed");
    assert!(matches!(err, VaultError::InvalidTokenRequest { .. }) && err.to_string().contains("column 1"), "{err}");
    assert!(vault.verify_rows().expect("verify").is_empty());
}

#[test]
fn rules_changed_or_erased_behind_keygates_back_stop_the_tokens() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&grant_with("ci-bot", &["web_search"], &["web_search: num_results <= 10"], false)).expect("c");
    let token = vault.mint_grant_token("ci-bot").expect("mint");
    let secret = token.token.expose_secret().to_string();
    allowed(&vault, &secret, "web_search");
    fx.raw().execute("UPDATE agent_grant SET policy = NULL", []).expect("erase the rules");
    denied_as(&vault, &secret, Denial::Tampered);
    fx.raw()
        .execute("UPDATE agent_grant SET policy = '{\"allow\":[\"web_search: num_results <= 1000\"]}'", [])
        .expect("loosen");
    denied_as(&vault, &secret, Denial::Tampered);
    assert!(!vault.verify_rows().expect("verify").is_empty());

    // Rules added to a grant that had none are refused too.
    vault.create_grant(&grant_with("other", &["web_search"], &[], false)).expect("create");
    let other = vault.mint_grant_token("other").expect("mint");
    fx.raw().execute("UPDATE agent_grant SET policy = '{\"approve\":true}' WHERE name = 'other'", []).expect("add");
    denied_as(&vault, other.token.expose_secret(), Denial::Tampered);

    // A plain token's own rules, erased: refused.
    let plain = vault
        .issue_token_with_policy(&request(&["web_search"], None), &policy(&["web_search: has query"], true))
        .expect("issue");
    fx.raw().execute("UPDATE token SET policy = NULL WHERE id = ?1", [&plain.id]).expect("erase");
    denied_as(&vault, plain.token.expose_secret(), Denial::Tampered);
}

#[test]
fn tokens_and_grants_from_before_rules_still_verify_after_the_upgrade() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    let minted = vault.mint_grant_token("cursor").expect("mint");
    let plain = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    drop(vault);
    // The same rows as a vault at schema 9 had them: no policy column (nor rotation state).
    fx.raw()
        .execute_batch(
            "ALTER TABLE agent_grant DROP COLUMN policy; ALTER TABLE token DROP COLUMN policy;
             PRAGMA user_version = 9;",
        )
        .and_then(|()| fx.raw().execute_batch(crate::common::UNDO_ROTATION_SCHEMA))
        .expect("back to schema 9");
    let vault = fx.open();
    allowed(&vault, minted.token.expose_secret(), "web_search");
    allowed(&vault, plain.token.expose_secret(), "web_search");
    assert!(vault.verify_rows().expect("verify").is_empty());
}
