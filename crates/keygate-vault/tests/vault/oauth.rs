//! OAuth: registration bounds, consent requests (expiry, single answer, listing for the tray),
//! codes (single use, binding, PKCE, reuse revoking the sign-in), refresh rotation, reuse
//! revoking the family and its access tokens, grant revocation, and only hashes on disk.

use std::time::Duration;

use keygate_vault::{
    CodeBinding, CodeExchange, ConsentRequest, Denial, GrantRequest, MAX_CLIENTS, NewConsent, NewOAuthClient,
    OAuthRefusal, OAuthTokens, RefreshExchange, TokenDecision, Vault, VaultError,
};
use secrecy::ExposeSecret;

use crate::common::{Fixture, contains};

pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub(crate) const RESOURCE: &str = "http://127.0.0.1:7447/mcp";

/// A change made to an otherwise right code exchange.
type Tamper = fn(CodeExchange<'_>) -> CodeExchange<'_>;

pub(crate) fn register(vault: &mut Vault) -> String {
    let client = NewOAuthClient { name: "Cursor".into(), redirect_uris: vec![REDIRECT.into()] };
    vault.register_oauth_client(&client).expect("register").id
}

pub(crate) fn consent(vault: &mut Vault, client_id: &str) -> ConsentRequest {
    let request = NewConsent {
        client_id: client_id.into(),
        redirect_uri: REDIRECT.into(),
        code_challenge: CHALLENGE.into(),
        state: Some("xyz".into()),
        resource: RESOURCE.into(),
    };
    vault.create_consent_request(&request).expect("consent request")
}

pub(crate) fn code_for(vault: &mut Vault, client_id: &str, grant: &str) -> String {
    let binding = CodeBinding {
        client_id: client_id.into(),
        redirect_uri: REDIRECT.into(),
        code_challenge: CHALLENGE.into(),
        resource: RESOURCE.into(),
        grant: grant.into(),
    };
    vault.issue_authorization_code(&binding).expect("code").expose_secret().to_string()
}

pub(crate) fn exchange<'a>(code: &'a str, client_id: &'a str) -> CodeExchange<'a> {
    CodeExchange { code, client_id, redirect_uri: REDIRECT, code_verifier: VERIFIER, resource: Some(RESOURCE) }
}

fn refused(result: Result<OAuthTokens, VaultError>) -> OAuthRefusal {
    match result {
        Err(VaultError::OAuth(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub(crate) fn signed_in(vault: &mut Vault) -> (String, OAuthTokens) {
    vault.create_grant(&GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    let client = register(vault);
    let code = code_for(vault, &client, "cursor");
    let tokens = vault.exchange_authorization_code(&exchange(&code, &client)).expect("exchange");
    (client, tokens)
}

pub(crate) fn refresh(vault: &mut Vault, client: &str, token: &str) -> Result<OAuthTokens, VaultError> {
    vault.refresh_oauth_tokens(&RefreshExchange { refresh_token: token, client_id: client, resource: Some(RESOURCE) })
}

fn is_denied(vault: &Vault, token: &str, reason: Denial) -> bool {
    matches!(vault.check_token(token, None).expect("check"), TokenDecision::Denied { reason: r, .. } if r == reason)
}

#[test]
fn consent_requests_wait_a_few_minutes_are_answered_once_and_are_listed() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let client = register(&mut vault);
    let first = consent(&mut vault, &client);
    assert_eq!((first.client_name.as_str(), first.state.as_deref()), ("Cursor", Some("xyz")));
    let listed = vault.list_pending_consents().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].client_name.as_str()), (first.id.as_str(), "Cursor"));
    assert_eq!(vault.take_consent_request(&first.id).expect("take"), first);
    assert!(matches!(vault.take_consent_request(&first.id), Err(VaultError::OAuth(OAuthRefusal::ConsentGone))));

    let second = consent(&mut vault, &client);
    fx.clock.advance(Duration::from_secs(5 * 60));
    assert!(matches!(vault.consent_request(&second.id), Err(VaultError::OAuth(OAuthRefusal::ConsentGone))));
    assert!(vault.list_pending_consents().expect("list").is_empty());
    let unknown = NewConsent { client_id: "kgclient_nope".into(), ..Default::default() };
    assert!(matches!(vault.create_consent_request(&unknown), Err(VaultError::OAuth(OAuthRefusal::UnknownClient))));
}

#[test]
fn a_code_is_single_use_and_bound_to_client_redirect_verifier_and_resource() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    let client = register(&mut vault);
    let other = register(&mut vault);
    let cases: [(&str, Tamper, OAuthRefusal); 4] = [
        ("wrong verifier", |e| CodeExchange { code_verifier: "a".repeat(43).leak(), ..e }, OAuthRefusal::BadVerifier),
        ("wrong redirect", |e| CodeExchange { redirect_uri: "http://127.0.0.1:1/cb", ..e }, OAuthRefusal::CodeMismatch),
        (
            "wrong resource",
            |e| CodeExchange { resource: Some("http://localhost:1/mcp"), ..e },
            OAuthRefusal::ResourceMismatch,
        ),
        ("unknown code", |e| CodeExchange { code: "kgcode_00", ..e }, OAuthRefusal::BadCode),
    ];
    for (what, change, expected) in cases {
        let code = code_for(&mut vault, &client, "cursor");
        assert_eq!(refused(vault.exchange_authorization_code(&change(exchange(&code, &client)))), expected, "{what}");
        // A failed presentation uses the code up: no second guess.
        let second = vault.exchange_authorization_code(&exchange(&code, &client));
        if expected == OAuthRefusal::BadCode {
            second.expect("an unknown code does not touch the real one");
        } else {
            assert_eq!(refused(second), OAuthRefusal::BadCode, "{what}");
        }
    }
    let code = code_for(&mut vault, &client, "cursor");
    assert_eq!(refused(vault.exchange_authorization_code(&exchange(&code, &other))), OAuthRefusal::CodeMismatch);

    let code = code_for(&mut vault, &client, "cursor");
    fx.clock.advance(Duration::from_secs(61));
    assert_eq!(refused(vault.exchange_authorization_code(&exchange(&code, &client))), OAuthRefusal::BadCode, "expired");
}

#[test]
fn a_reused_code_revokes_the_sign_in_it_started() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    let client = register(&mut vault);
    let code = code_for(&mut vault, &client, "cursor");
    let tokens = vault.exchange_authorization_code(&exchange(&code, &client)).expect("exchange");
    let access = tokens.access.token.expose_secret().to_string();
    assert!(matches!(vault.check_token(&access, Some("web_search")).expect("check"), TokenDecision::Allowed(_)));
    assert_eq!(refused(vault.exchange_authorization_code(&exchange(&code, &client))), OAuthRefusal::BadCode);
    assert!(is_denied(&vault, &access, Denial::Revoked), "the access token of the sign-in is revoked");
    let refresh_token = tokens.refresh_token.expose_secret().to_string();
    assert_eq!(refused(refresh(&mut vault, &client, &refresh_token)), OAuthRefusal::FamilyRevoked);
}

#[test]
fn refresh_rotates_and_a_reused_refresh_token_revokes_the_family() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, first) = signed_in(&mut vault);
    assert_eq!(
        (first.grant.as_str(), first.access.tools.as_slice()),
        ("cursor", ["web_search".to_string()].as_slice())
    );
    let first_refresh = first.refresh_token.expose_secret().to_string();
    let second = refresh(&mut vault, &client, &first_refresh).expect("rotate");
    let second_refresh = second.refresh_token.expose_secret().to_string();
    assert_ne!(first_refresh, second_refresh);
    let third = refresh(&mut vault, &client, &second_refresh).expect("rotate again");
    let live = third.access.token.expose_secret().to_string();
    assert!(matches!(vault.check_token(&live, Some("web_search")).expect("check"), TokenDecision::Allowed(_)));

    // The first refresh token again: a replay. Everything of the family dies.
    assert_eq!(refused(refresh(&mut vault, &client, &first_refresh)), OAuthRefusal::RefreshReused);
    for token in [&first.access.token, &second.access.token, &third.access.token] {
        assert!(is_denied(&vault, token.expose_secret(), Denial::Revoked));
    }
    let newest = third.refresh_token.expose_secret().to_string();
    assert_eq!(refused(refresh(&mut vault, &client, &newest)), OAuthRefusal::FamilyRevoked);
}

#[test]
fn refresh_is_refused_to_another_client_an_unknown_token_and_another_resource() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, tokens) = signed_in(&mut vault);
    let other = register(&mut vault);
    let token = tokens.refresh_token.expose_secret().to_string();
    assert_eq!(refused(refresh(&mut vault, &other, &token)), OAuthRefusal::BadRefresh);
    assert_eq!(refused(refresh(&mut vault, &client, "kgrefresh_00")), OAuthRefusal::BadRefresh);
    let elsewhere =
        RefreshExchange { refresh_token: &token, client_id: &client, resource: Some("http://127.0.0.1:1/mcp") };
    assert_eq!(refused(vault.refresh_oauth_tokens(&elsewhere)), OAuthRefusal::ResourceMismatch);
    refresh(&mut vault, &client, &token).expect("the refusals did not use it up");
}

#[test]
fn revoking_the_grant_stops_access_and_refresh_even_after_the_name_is_reused() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, tokens) = signed_in(&mut vault);
    vault.revoke_grant("cursor").expect("revoke");
    assert!(is_denied(&vault, tokens.access.token.expose_secret(), Denial::Revoked));
    let token = tokens.refresh_token.expose_secret().to_string();
    assert_eq!(refused(refresh(&mut vault, &client, &token)), OAuthRefusal::GrantGone);
    assert_eq!(refused(refresh(&mut vault, &client, &token)), OAuthRefusal::FamilyRevoked);

    // A new grant taking the old name is not what the person consented to.
    let (client, tokens) = {
        vault.create_grant(&GrantRequest::new("editor", vec!["web_search".into()])).expect("grant");
        let code = code_for(&mut vault, &client, "editor");
        (client.clone(), vault.exchange_authorization_code(&exchange(&code, &client)).expect("exchange"))
    };
    vault.revoke_grant("editor").expect("revoke");
    vault.create_grant(&GrantRequest::new("editor", vec!["web_search".into()])).expect("same name again");
    let token = tokens.refresh_token.expose_secret().to_string();
    assert_eq!(refused(refresh(&mut vault, &client, &token)), OAuthRefusal::GrantGone);
}

#[test]
fn registration_is_bounded_and_the_least_recently_used_idle_client_makes_room() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let bad = NewOAuthClient { name: "x".into(), redirect_uris: vec![] };
    assert!(matches!(vault.register_oauth_client(&bad), Err(VaultError::InvalidOAuthClient { .. })));
    let bad = NewOAuthClient { name: "a\u{1b}[31m".into(), redirect_uris: vec![REDIRECT.into()] };
    assert!(matches!(vault.register_oauth_client(&bad), Err(VaultError::InvalidOAuthClient { .. })));
    let (signed, _) = signed_in(&mut vault);
    let first_idle = register(&mut vault);
    for _ in 2..MAX_CLIENTS {
        register(&mut vault);
    }
    register(&mut vault);
    assert!(vault.oauth_client(&first_idle).expect("get").is_none(), "the oldest idle client made room");
    assert!(vault.oauth_client(&signed).expect("get").is_some(), "a client with a live sign-in stays");
}

#[test]
fn codes_and_refresh_tokens_are_stored_only_as_hashes() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (_, tokens) = signed_in(&mut vault);
    let client = register(&mut vault);
    let code = code_for(&mut vault, &client, "cursor");
    drop(vault);
    let disk = fx.disk_bytes();
    assert!(!contains(&disk, code.as_bytes()), "code on disk");
    assert!(!contains(&disk, tokens.refresh_token.expose_secret().as_bytes()), "refresh token on disk");
    let debug = format!("{tokens:?} {:?}", exchange(&code, &client));
    assert!(
        !debug.contains(tokens.refresh_token.expose_secret()) && !debug.contains(&code) && !debug.contains(VERIFIER)
    );
}

#[test]
fn used_codes_and_expired_refresh_tokens_do_not_pile_up() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, tokens) = signed_in(&mut vault);
    let count = |table: &str| -> i64 {
        fx.raw().query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
    };
    assert_eq!((count("oauth_code"), count("oauth_refresh")), (1, 1));
    fx.clock.advance(Duration::from_secs(3600));
    code_for(&mut vault, &client, "cursor");
    assert_eq!(count("oauth_code"), 2, "a used code is remembered for a while, to catch a replay");
    fx.clock.advance(Duration::from_secs(25 * 3600));
    code_for(&mut vault, &client, "cursor");
    assert_eq!(count("oauth_code"), 1, "expired codes are gone");
    fx.clock.advance(Duration::from_secs(31 * 24 * 3600));
    vault.create_grant(&GrantRequest::new("later", vec!["web_search".into()])).expect("grant");
    let code = code_for(&mut vault, &client, "later");
    vault.exchange_authorization_code(&exchange(&code, &client)).expect("exchange");
    assert_eq!(count("oauth_refresh"), 1, "the expired refresh token is gone");
    let old = tokens.refresh_token.expose_secret().to_string();
    assert_eq!(refused(refresh(&mut vault, &client, &old)), OAuthRefusal::BadRefresh);
}
