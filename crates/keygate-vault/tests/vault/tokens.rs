//! Tokens: issuing, scope, expiry, revocation, malformed input, listing and use counts.

use std::time::Duration;

use keygate_vault::{Denial, TokenDecision, TokenRequest, TokenStatus, Vault, VaultError};
use secrecy::ExposeSecret;

use crate::common::{DAY, Fixture, HOUR, T0, request, token_secret};

fn allowed(decision: &TokenDecision) -> &keygate_vault::TokenGrant {
    match decision {
        TokenDecision::Allowed(grant) => grant,
        TokenDecision::Denied { token_id, reason } => panic!("denied ({reason:?}, {token_id:?})"),
    }
}

fn denied(token_id: Option<&str>, reason: Denial) -> TokenDecision {
    TokenDecision::Denied { token_id: token_id.map(String::from), reason }
}

#[test]
fn a_token_is_checked_for_scope_and_expiry() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], Some(HOUR))).expect("issue");
    let token = issued.token.expose_secret().to_string();
    assert_eq!(issued.tools, ["web_search"]);
    assert_eq!(issued.expires_at, T0.plus(HOUR));
    assert!(keygate_vault::is_token_id(&issued.id), "id {:?}", issued.id);
    assert!(token.starts_with(&format!("kg_{}_", issued.id)), "token shape");
    assert_eq!(token_secret(&token).len(), 64);

    let grant = vault.check_token(&token, Some("web_search")).expect("check");
    let grant = allowed(&grant);
    assert_eq!(grant.token_id, issued.id);
    assert_eq!(grant.tools, ["web_search"]);
    assert_eq!(grant.expires_at, T0.plus(HOUR));
    assert!(grant.allows("web_search") && !grant.allows("other"));

    assert_eq!(vault.check_token(&token, Some("other")).expect("check"), denied(Some(&issued.id), Denial::OutOfScope));
    assert_eq!(
        vault.check_token(&token, Some("web_searc")).expect("check"),
        denied(Some(&issued.id), Denial::OutOfScope),
        "a prefix of an allowed tool is not allowed"
    );
    allowed(&vault.check_token(&token, None).expect("check without a tool"));

    // One millisecond before expiry it still works; at expiry it does not.
    let status = |vault: &Vault| vault.list_tokens().expect("list")[0].status;
    fx.clock.advance(HOUR - Duration::from_millis(1));
    allowed(&vault.check_token(&token, Some("web_search")).expect("check"));
    assert_eq!(status(&vault), TokenStatus::Active);
    fx.clock.advance(Duration::from_millis(1));
    assert_eq!(status(&vault), TokenStatus::Expired, "listed as expired from the expiry instant on");
    assert_eq!(
        vault.check_token(&token, Some("web_search")).expect("check"),
        denied(Some(&issued.id), Denial::Expired)
    );
    assert_eq!(vault.check_token(&token, None).expect("check"), denied(Some(&issued.id), Denial::Expired));
}

#[test]
fn a_token_with_several_tools_allows_each_of_them() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search", "Fetch.v2", "web_search", "a-b_c"], None)).expect("issue");
    assert_eq!(issued.tools, ["Fetch.v2", "a-b_c", "web_search"], "sorted and deduplicated");
    let token = issued.token.expose_secret();
    for tool in ["web_search", "Fetch.v2", "a-b_c"] {
        allowed(&vault.check_token(token, Some(tool)).expect("check"));
    }
    assert_eq!(
        vault.check_token(token, Some("fetch.v2")).expect("check"),
        denied(Some(&issued.id), Denial::OutOfScope)
    );
    assert_eq!(vault.check_token(token, Some("")).expect("check"), denied(Some(&issued.id), Denial::OutOfScope));
}

#[test]
fn a_revoked_token_is_refused_and_revoking_twice_says_so() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], Some(DAY))).expect("issue");
    let other = vault.issue_token(&request(&["web_search"], Some(DAY))).expect("issue another");
    let token = issued.token.expose_secret();

    assert!(vault.revoke_token(&issued.id).expect("revoke"));
    assert_eq!(vault.check_token(token, Some("web_search")).expect("check"), denied(Some(&issued.id), Denial::Revoked));
    assert_eq!(vault.check_token(token, None).expect("check"), denied(Some(&issued.id), Denial::Revoked));
    assert!(!vault.revoke_token(&issued.id).expect("revoke again"), "second revoke returns false");
    allowed(&vault.check_token(other.token.expose_secret(), Some("web_search")).expect("other token unaffected"));

    // Revocation outlives expiry in the answer.
    fx.clock.advance(2 * DAY);
    assert_eq!(vault.check_token(token, None).expect("check"), denied(Some(&issued.id), Denial::Revoked));

    let err = vault.revoke_token("0123456789abcdef").expect_err("unknown id");
    assert!(matches!(&err, VaultError::TokenNotFound { id } if id == "0123456789abcdef"), "{err:?}");
    let err = vault.revoke_token(token).expect_err("a whole token is not an id");
    assert!(matches!(err, VaultError::InvalidTokenId), "{err:?}");
    assert!(!err.to_string().contains(token_secret(token)), "error echoes the token: {err}");
    for bad in ["", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "zzzzzzzzzzzzzzzz"] {
        let err = vault.revoke_token(bad).expect_err(bad);
        assert!(matches!(err, VaultError::InvalidTokenId), "{bad:?}: {err:?}");
    }
}

#[test]
fn revocation_is_seen_by_another_open_vault_at_once() {
    let fx = Fixture::with_vault();
    let mut server = fx.open();
    let mut cli = fx.open();
    let issued = cli.issue_token(&request(&["web_search"], None)).expect("issue");
    let token = issued.token.expose_secret();
    allowed(&server.check_token(token, Some("web_search")).expect("check"));
    assert!(cli.revoke_token(&issued.id).expect("revoke"));
    assert_eq!(
        server.check_token(token, Some("web_search")).expect("check"),
        denied(Some(&issued.id), Denial::Revoked)
    );
    server.record_token_use(&issued.id).expect("record");
    assert_eq!(cli.list_tokens().expect("list")[0].uses, 1);
}

#[test]
fn unknown_ids_and_wrong_secrets_are_unknown() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let token = issued.token.expose_secret();
    let secret_part = token_secret(token);

    let unknown_id = format!(
        "kg_{}_{secret_part}",
        if issued.id == "0123456789abcdef" { "fedcba9876543210" } else { "0123456789abcdef" }
    );
    assert_eq!(vault.check_token(&unknown_id, Some("web_search")).expect("check"), denied(None, Denial::Unknown));

    // Same id, secret altered in its first, middle and last character.
    for i in [0, 31, 63] {
        let mut altered: Vec<u8> = secret_part.bytes().collect();
        altered[i] = if altered[i] == b'0' { b'1' } else { b'0' };
        let altered = format!("kg_{}_{}", issued.id, String::from_utf8(altered).expect("ascii"));
        assert_ne!(altered, token);
        assert_eq!(vault.check_token(&altered, Some("web_search")).expect("check"), denied(None, Denial::Unknown));
        assert_eq!(vault.check_token(&altered, None).expect("check"), denied(None, Denial::Unknown));
    }
    // A wrong secret stays unknown even after the real token expired or was revoked.
    let wrong = format!("kg_{}_{}", issued.id, "0".repeat(64));
    vault.revoke_token(&issued.id).expect("revoke");
    assert_eq!(vault.check_token(&wrong, None).expect("check"), denied(None, Denial::Unknown));
}

#[test]
fn garbage_tokens_are_malformed() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], None)).expect("issue");
    let token = issued.token.expose_secret();
    let long = "kg_".repeat(100_000);
    let garbage = [
        String::new(),
        "kg_".to_string(),
        "kg__".to_string(),
        "hello, I am definitely a token".to_string(),
        long,
        "kg_ünïcødé_ß".to_string(),
        format!("kg_{}_{}é", issued.id, &token_secret(token)[..62]),
        token.to_uppercase(),
        format!("{token}\n"),
        format!(" {token}"),
        format!("Bearer {token}"),
        format!("{token}0"),
        token[..token.len() - 1].to_string(),
        token.replacen("kg_", "kx_", 1),
        format!("kg_{}", issued.id),
        format!("kg_{}-{}", issued.id, token_secret(token)),
    ];
    for bad in &garbage {
        let shown: String = bad.chars().take(40).collect();
        assert_eq!(
            vault.check_token(bad, Some("web_search")).expect("check"),
            denied(None, Denial::Malformed),
            "{shown:?}"
        );
        assert_eq!(vault.check_token(bad, None).expect("check"), denied(None, Denial::Malformed), "{shown:?}");
    }
    allowed(&vault.check_token(token, Some("web_search")).expect("the real one still works"));
}

#[test]
fn token_lifetimes_follow_the_policy() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let policy = vault.token_policy();
    assert_eq!(policy.default_ttl, HOUR);
    assert_eq!(policy.max_ttl, 30 * DAY);

    let default = vault.issue_token(&request(&["t"], None)).expect("default ttl");
    assert_eq!(default.expires_at, fx.now().plus(HOUR));
    let longest = vault.issue_token(&request(&["t"], Some(30 * DAY))).expect("max ttl");
    assert_eq!(longest.expires_at, fx.now().plus(30 * DAY));
    let before = vault.list_tokens().expect("list");
    assert_eq!(before.len(), 2);

    let long_tool = "a".repeat(200);
    let label_too_long = TokenRequest { label: Some("x".repeat(65)), ..request(&["t"], None) };
    let label_control = TokenRequest { label: Some("a\nb".into()), ..request(&["t"], None) };
    let bad_requests = [
        ("ttl over max", request(&["t"], Some(30 * DAY + Duration::from_secs(1)))),
        ("ttl far over max", request(&["t"], Some(Duration::from_secs(u64::MAX)))),
        ("no tools", request(&[], None)),
        ("space in tool", request(&["a b"], None)),
        ("empty tool", request(&[""], None)),
        ("one good one empty", request(&["t", ""], None)),
        ("200-char tool", request(&[long_tool.as_str()], None)),
        ("slash in tool", request(&["a/b"], None)),
        ("non-ascii tool", request(&["wéb"], None)),
        ("label too long", label_too_long),
        ("label with newline", label_control),
    ];
    for (what, bad) in &bad_requests {
        let err = vault.issue_token(bad).expect_err(what);
        assert!(matches!(err, VaultError::InvalidTokenRequest { .. }), "{what}: {err:?}");
    }
    assert_eq!(vault.list_tokens().expect("list"), before, "a refused request changed the tokens");
    vault.issue_token(&request(&[&"a".repeat(128)], None)).expect("a 128-char tool is allowed");
}

#[test]
fn a_stricter_config_limits_token_lifetimes() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.home.dir()).expect("mkdir");
    std::fs::write(fx.home.config_path(), "[tokens]\ndefault_ttl = \"10m\"\nmax_ttl = \"2h\"\n").expect("config");
    fx.init().expect("init");
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["t"], None)).expect("issue");
    assert_eq!(issued.expires_at, T0.plus(Duration::from_secs(600)));
    let err = vault.issue_token(&request(&["t"], Some(3 * HOUR))).expect_err("over max");
    assert!(matches!(err, VaultError::InvalidTokenRequest { .. }), "{err:?}");
}

#[test]
fn list_tokens_shows_status_and_never_the_secret() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let short = vault.issue_token(&request(&["web_search"], Some(HOUR))).expect("short");
    fx.clock.advance(Duration::from_secs(1));
    let revoked = vault
        .issue_token(&TokenRequest { label: Some("laptop".into()), ..request(&["b", "a"], Some(DAY)) })
        .expect("rev");
    fx.clock.advance(Duration::from_secs(1));
    let active =
        vault.issue_token(&TokenRequest { label: Some(String::new()), ..request(&["x"], Some(DAY)) }).expect("ok");
    vault.revoke_token(&revoked.id).expect("revoke");
    fx.clock.advance(HOUR);

    let list = vault.list_tokens().expect("list");
    let rows: Vec<(&str, TokenStatus, &str)> =
        list.iter().map(|t| (t.id.as_str(), t.status, t.status.as_str())).collect();
    assert_eq!(
        rows,
        [
            (active.id.as_str(), TokenStatus::Active, "active"),
            (revoked.id.as_str(), TokenStatus::Revoked, "revoked"),
            (short.id.as_str(), TokenStatus::Expired, "expired"),
        ],
        "newest first, each with its status"
    );
    assert_eq!(list[1].label.as_deref(), Some("laptop"));
    assert_eq!(list[1].tools, ["a", "b"]);
    assert_eq!(list[0].label, None, "an empty label is no label");
    assert_eq!(list[2].created_at, T0);
    assert_eq!(list[2].expires_at, T0.plus(HOUR));

    let shown = format!("{list:?} {}", serde_json::to_string(&list).expect("json"));
    for issued in [&short, &revoked, &active] {
        let token = issued.token.expose_secret();
        assert!(!shown.contains(token_secret(token)), "a token secret is listed: {shown}");
        assert!(shown.contains(&issued.id), "ids are shown");
    }
}

#[test]
fn record_token_use_counts_and_stamps() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let issued = vault.issue_token(&request(&["web_search"], Some(DAY))).expect("issue");
    let other = vault.issue_token(&request(&["web_search"], Some(DAY))).expect("issue other");
    let info = |vault: &Vault, id: &str| {
        vault.list_tokens().expect("list").into_iter().find(|t| t.id == id).expect("token listed")
    };
    assert_eq!((info(&vault, &issued.id).uses, info(&vault, &issued.id).last_used_at), (0, None));

    fx.clock.advance(Duration::from_secs(10));
    vault.record_token_use(&issued.id).expect("use");
    assert_eq!(info(&vault, &issued.id).uses, 1);
    assert_eq!(info(&vault, &issued.id).last_used_at, Some(T0.plus(Duration::from_secs(10))));

    fx.clock.advance(Duration::from_secs(5));
    vault.record_token_use(&issued.id).expect("use again");
    assert_eq!(info(&vault, &issued.id).uses, 2);
    assert_eq!(info(&vault, &issued.id).last_used_at, Some(T0.plus(Duration::from_secs(15))));
    assert_eq!((info(&vault, &other.id).uses, info(&vault, &other.id).last_used_at), (0, None), "other untouched");
}

#[test]
fn a_sub_second_ttl_and_use_of_an_unknown_token_are_refused() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    for ttl in [Duration::ZERO, Duration::from_millis(999)] {
        let err = vault.issue_token(&request(&["t"], Some(ttl))).expect_err("sub-second ttl");
        assert!(matches!(err, VaultError::InvalidTokenRequest { .. }), "{err}");
    }
    assert!(vault.list_tokens().expect("list").is_empty());
    let err = vault.record_token_use("0123456789abcdef").expect_err("unknown token");
    assert!(matches!(err, VaultError::TokenNotFound { .. }), "{err}");
}
