//! Authenticated OAuth rows: a bit flipped in any column of the authorization server's rows
//! that decides (client, consent request, code, sign-in, refresh token, a sign-in's access
//! token) makes the row refused by name where it is read, and a `keygate doctor` finding;
//! forged rows are refused; a vault from before OAuth MACs is authenticated once.

use keygate_vault::{OAuthTokens, Vault, VaultError};
use rusqlite::types::Value;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::common::Fixture;
use crate::oauth::{code_for, consent, exchange, refresh, register, signed_in};

fn is_tampered<T: std::fmt::Debug>(result: Result<T, VaultError>, row_prefix: &str, what: &str) {
    match result {
        Err(VaultError::Tampered { row }) => assert!(row.starts_with(row_prefix), "{what}: named {row:?}"),
        other => panic!("{what}: expected {row_prefix}... refused as tampered, got {other:?}"),
    }
}

/// One column of one row changed by a single bit (a NULL becomes a value), as an attacker
/// with write access to vault.db but without the master key could; `undo` puts it back.
struct Flip {
    table: &'static str,
    column: &'static str,
    rowid: i64,
    original: Value,
}

impl Flip {
    fn apply(fx: &Fixture, table: &'static str, column: &'static str, filter: &str) -> Self {
        let raw = fx.raw();
        let (rowid, original): (i64, Value) = raw
            .query_row(&format!("SELECT rowid, {column} FROM {table} {filter}"), [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or_else(|e| panic!("{table}.{column}: {e}"));
        let changed = match &original {
            Value::Integer(i) => Value::Integer(i ^ 1),
            Value::Text(t) => {
                let mut bytes = t.clone().into_bytes();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                Value::Text(String::from_utf8(bytes).expect("ASCII stays text"))
            }
            Value::Blob(b) => {
                let mut b = b.clone();
                b[0] ^= 1;
                Value::Blob(b)
            }
            Value::Null => Value::Integer(1),
            Value::Real(_) => panic!("{table}.{column} holds no real numbers"),
        };
        let flip = Self { table, column, rowid, original };
        flip.set(fx, &changed);
        flip
    }

    fn set(&self, fx: &Fixture, value: &Value) {
        let raw = fx.raw();
        // Whoever edits the file chooses whether SQLite checks its foreign keys.
        raw.pragma_update(None, "foreign_keys", "OFF").expect("foreign keys off");
        let sql = format!("UPDATE {} SET {} = ?1 WHERE rowid = ?2", self.table, self.column);
        raw.execute(&sql, rusqlite::params![value, self.rowid]).expect("write the column");
    }

    fn undo(self, fx: &Fixture) {
        self.set(fx, &self.original);
    }

    fn what(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// `keygate doctor`'s row check names a row of `table`.
fn found(vault: &Vault, table: &str, what: &str) {
    let findings = vault.verify_rows().expect("verify rows");
    assert!(findings.iter().any(|f| f.table == table), "{what}: no finding in {findings:?}");
}

fn no_findings(vault: &Vault, what: &str) {
    let findings = vault.verify_rows().expect("verify rows");
    assert!(findings.is_empty(), "{what}: {findings:?}");
}

#[test]
fn a_changed_client_is_refused_where_it_is_read() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let client = register(&mut vault);
    let filter = format!("WHERE id = '{client}'");
    for column in ["name", "redirect_uris", "created_at"] {
        let flip = Flip::apply(&fx, "oauth_client", column, &filter);
        is_tampered(vault.oauth_client(&client), &format!("OAuth client {client}"), &flip.what());
        found(&vault, "oauth_client", &flip.what());
        flip.undo(&fx);
        assert!(vault.oauth_client(&client).expect("read").is_some());
    }
    // Its id moved onto another registration's place: the row under the new id is refused.
    let flip = Flip::apply(&fx, "oauth_client", "id", &filter);
    let moved: String =
        fx.raw().query_row("SELECT id FROM oauth_client WHERE rowid = ?1", [flip.rowid], |r| r.get(0)).expect("id");
    is_tampered(vault.oauth_client(&moved), "OAuth client", "oauth_client.id");
    found(&vault, "oauth_client", "oauth_client.id");
    flip.undo(&fx);
    no_findings(&vault, "after undoing");
}

#[test]
fn a_changed_consent_request_is_refused_on_the_page_its_answer_and_the_tray() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let client = register(&mut vault);
    let request = consent(&mut vault, &client);
    let filter = format!("WHERE id = '{}'", request.id);
    let row = format!("OAuth consent request {}", request.id);
    let columns = ["client_id", "redirect_uri", "code_challenge", "state", "resource", "created_at", "expires_at"];
    for column in columns {
        let flip = Flip::apply(&fx, "oauth_consent", column, &filter);
        is_tampered(vault.consent_request(&request.id), &row, &flip.what());
        is_tampered(vault.take_consent_request(&request.id), &row, &flip.what());
        is_tampered(vault.list_pending_consents(), &row, &flip.what());
        found(&vault, "oauth_consent", &flip.what());
        flip.undo(&fx);
        assert_eq!(vault.consent_request(&request.id).expect("intact again"), request, "{column}");
    }
    // The client it names changed: the page would show someone else's words.
    let flip = Flip::apply(&fx, "oauth_client", "name", &format!("WHERE id = '{client}'"));
    is_tampered(vault.consent_request(&request.id), &format!("OAuth client {client}"), "the request's client");
    is_tampered(vault.list_pending_consents(), &format!("OAuth client {client}"), "the request's client");
    flip.undo(&fx);
    assert_eq!(vault.take_consent_request(&request.id).expect("take"), request);
}

#[test]
fn a_changed_code_is_refused_and_not_used_up() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.create_grant(&keygate_vault::GrantRequest::new("cursor", vec!["web_search".into()])).expect("grant");
    vault.create_grant(&keygate_vault::GrantRequest::new("cursos", vec!["web_search".into()])).expect("grant");
    let client = register(&mut vault);
    let code = code_for(&mut vault, &client, "cursor");
    let hash: [u8; 32] = Sha256::digest(code.as_bytes()).into();
    let filter = format!("WHERE hex(hash) = '{}'", hex::encode_upper(hash));
    let row = format!("OAuth authorization code {}", hex::encode(&hash[..8]));
    let columns =
        ["client_id", "redirect_uri", "code_challenge", "resource", "grant_name", "expires_at", "used_at", "family_id"];
    for column in columns {
        let flip = Flip::apply(&fx, "oauth_code", column, &filter);
        is_tampered(vault.exchange_authorization_code(&exchange(&code, &client)), &row, &flip.what());
        found(&vault, "oauth_code", &flip.what());
        flip.undo(&fx);
    }
    // Its client's redirect URIs changed: no tokens for that registration.
    let flip = Flip::apply(&fx, "oauth_client", "redirect_uris", &format!("WHERE id = '{client}'"));
    is_tampered(vault.exchange_authorization_code(&exchange(&code, &client)), "OAuth client", "the code's client");
    flip.undo(&fx);
    let tokens = vault.exchange_authorization_code(&exchange(&code, &client)).expect("the refusals did not use it up");
    assert_eq!(tokens.grant, "cursor");
    no_findings(&vault, "after the exchange");
}

#[test]
fn a_changed_sign_in_or_refresh_token_is_refused_at_refresh() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, tokens) = signed_in(&mut vault);
    let token = tokens.refresh_token.expose_secret().to_string();
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let refresh_filter = format!("WHERE hex(hash) = '{}'", hex::encode_upper(hash));
    for column in ["family_id", "created_at", "expires_at", "used_at"] {
        let flip = Flip::apply(&fx, "oauth_refresh", column, &refresh_filter);
        is_tampered(refresh(&mut vault, &client, &token), "OAuth refresh token", &flip.what());
        found(&vault, "oauth_refresh", &flip.what());
        flip.undo(&fx);
    }
    let family: String = fx.raw().query_row("SELECT id FROM oauth_family", [], |r| r.get(0)).expect("family");
    let family_filter = format!("WHERE id = '{family}'");
    for column in ["client_id", "grant_name", "grant_id", "resource", "created_at", "revoked_at"] {
        let flip = Flip::apply(&fx, "oauth_family", column, &family_filter);
        is_tampered(refresh(&mut vault, &client, &token), &format!("OAuth sign-in {family}"), &flip.what());
        found(&vault, "oauth_family", &flip.what());
        flip.undo(&fx);
    }
    // A link between the sign-in and its access token, moved: revoking the sign-in would miss
    // the token. Doctor names it.
    let access_filter = format!("WHERE token_id = '{}'", tokens.access.id);
    for column in ["family_id", "token_id"] {
        let flip = Flip::apply(&fx, "oauth_family_token", column, &access_filter);
        found(&vault, "oauth_family_token", &flip.what());
        flip.undo(&fx);
    }
    no_findings(&vault, "after undoing");
    let next: OAuthTokens = refresh(&mut vault, &client, &token).expect("the refusals did not use it up");
    assert_eq!(next.grant, "cursor");
    no_findings(&vault, "after a rotation");
}

#[test]
fn forged_oauth_rows_are_refused() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, _) = signed_in(&mut vault);
    let raw = fx.raw();
    // A code of the attacker's own, bound to the person's grant.
    let code = format!("kgcode_{}", "ab".repeat(32));
    let hash: [u8; 32] = Sha256::digest(code.as_bytes()).into();
    raw.execute(
        "INSERT INTO oauth_code (hash, client_id, redirect_uri, code_challenge, resource, grant_name, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'cursor', 4102444800000)",
        rusqlite::params![hash, client, crate::oauth::REDIRECT, crate::oauth::CHALLENGE, crate::oauth::RESOURCE],
    )
    .expect("forge a code");
    is_tampered(
        vault.exchange_authorization_code(&exchange(&code, &client)),
        "OAuth authorization code",
        "forged code",
    );
    // A refresh token of the attacker's own in the person's sign-in.
    let token = format!("kgrefresh_{}", "cd".repeat(32));
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    raw.execute(
        "INSERT INTO oauth_refresh (hash, family_id, created_at, expires_at)
         SELECT ?1, id, 0, 4102444800000 FROM oauth_family",
        [hash],
    )
    .expect("forge a refresh token");
    is_tampered(refresh(&mut vault, &client, &token), "OAuth refresh token", "forged refresh token");
    // A client with the attacker's redirect URI.
    raw.execute(
        "INSERT INTO oauth_client (id, name, redirect_uris, created_at, last_used_at)
         VALUES ('kgclient_forged', 'Cursor', '[\"http://127.0.0.1:9/steal\"]', 0, 0)",
        [],
    )
    .expect("forge a client");
    is_tampered(vault.oauth_client("kgclient_forged"), "OAuth client kgclient_forged", "forged client");
    let findings = vault.verify_rows().expect("verify");
    for table in ["oauth_code", "oauth_refresh", "oauth_client"] {
        assert!(findings.iter().any(|f| f.table == table), "{table} not found in {findings:?}");
    }
}

#[test]
fn a_vault_from_before_oauth_macs_is_authenticated_once_at_its_first_open() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let (client, tokens) = signed_in(&mut vault);
    let waiting = consent(&mut vault, &client);
    drop(vault);
    fx.make_pre_oauth_mac();

    let mut vault = fx.open();
    no_findings(&vault, "after the upgrade");
    assert_eq!(vault.consent_request(&waiting.id).expect("waiting"), waiting);
    let token = tokens.refresh_token.expose_secret().to_string();
    let next = refresh(&mut vault, &client, &token).expect("refresh after the upgrade");
    drop(vault);

    // Once upgraded, an erased MAC, or the OAuth MAC columns dropped and the schema rolled
    // back, is never filled in again: the key check says the OAuth rows are authenticated.
    fx.raw().execute("UPDATE oauth_consent SET mac = NULL", []).expect("erase");
    let vault = fx.open();
    is_tampered(vault.consent_request(&waiting.id), "OAuth consent request", "an erased MAC");
    drop(vault);
    let raw = fx.raw();
    fx.make_pre_oauth_mac_schema(&raw);
    raw.pragma_update(None, "user_version", 7).expect("schema 7");
    drop(raw);
    let mut vault = fx.open();
    let token = next.refresh_token.expose_secret().to_string();
    is_tampered(refresh(&mut vault, &client, &token), "OAuth refresh token", "MACs dropped after the upgrade");
}
