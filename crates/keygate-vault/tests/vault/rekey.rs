//! `rekey`: every sealed value, row MAC and chain moved to a new master key in one
//! transaction; refused (nothing changed) when something does not verify under the old key.

use std::sync::Arc;
use std::time::Duration;

use keygate_vault::{
    Actor, AuditStart, CallOutcome, ClientConfigWrite, Clock, Decision, KeySource, MasterKey, Retention, TokenDecision,
    Vault, VaultError,
};
use secrecy::{ExposeSecret, SecretString};

use crate::common::{DAY, Fixture, HOUR, request, secret};

fn open_with(fx: &Fixture, key: &[u8; 32]) -> Result<Vault, VaultError> {
    let clock: Arc<dyn Clock> = fx.clock.clone();
    Vault::open(&fx.home, KeySource::Given(MasterKey::from_bytes(key).expect("key")), clock, Actor::Cli)
}

/// A vault with something of every kind the master key protects, and an audit pruned behind
/// a checkpoint. Returns the token.
fn full_vault(fx: &Fixture) -> String {
    let mut vault = fx.open();
    vault.add_credential("a", &secret("sk-a-one"), None).expect("add");
    vault.rotate_credential("a", &secret("sk-a-two")).expect("rotate");
    vault.set_credential_policy("a", None, Some(HOUR)).expect("grace");
    let original = SecretString::from("{\"secret\": \"in a client config\"}");
    let write =
        ClientConfigWrite { client: "cursor", path: "/p", action: "connect", record: "{}", original: Some(&original) };
    vault.keep_client_config(&write).expect("keep");
    let issued = vault.issue_token(&request(&["web_search"], Some(30 * DAY))).expect("issue");
    for i in 0..6 {
        let start = AuditStart {
            token_id: Some(&issued.id),
            server: None,
            tool: "web_search",
            credential: Some("a"),
            credential_version: Some(2),
            // Some rows name a team version: rekey re-chains them with it.
            team_version: (i % 2 == 1).then_some(7),
            decision: Decision::Allowed,
            status: None,
        };
        let audit = vault.begin_audit(&start).expect("begin");
        let outcome = CallOutcome {
            audit,
            token_id: issued.id.clone(),
            status: "200".into(),
            duration: Duration::from_millis(i),
        };
        vault.finish_calls(&[outcome]).expect("finish");
        fx.clock.advance(HOUR * 6);
    }
    let path = fx.home.config_path();
    let config = std::fs::read_to_string(&path).expect("config").replace("# keep_days = 365", "keep_days = 1");
    std::fs::write(&path, config).expect("write config");
    let mut vault = fx.open(); // the audit policy is read at open
    assert!(matches!(vault.apply_retention().expect("prune"), Retention::Pruned { .. }), "a checkpoint row first");
    issued.token.expose_secret().to_string()
}

#[test]
fn rekey_moves_everything_to_the_new_key_and_the_old_one_stops_opening() {
    let fx = Fixture::with_vault();
    let token = full_vault(&fx);
    let mut vault = fx.open();
    let rows_before = vault.verify_audit().expect("audit").rows;
    let mut new = [0u8; 32];
    getrandom::fill(&mut new).expect("random");
    let report = vault.rekey(&MasterKey::from_bytes(&new).expect("key")).expect("rekey");
    assert_eq!((report.versions, report.client_configs), (2, 1));
    assert_eq!(vault.open_credential("a").expect("same handle").value.expose_secret(), "sk-a-two");
    drop(vault);

    assert!(matches!(fx.try_open(), Err(VaultError::WrongMasterKey { .. })), "the old key no longer opens it");
    let mut vault = open_with(&fx, &new).expect("the new key opens it");
    assert_eq!(vault.open_credential("a").expect("open").value.expose_secret(), "sk-a-two");
    assert_eq!(vault.open_version("a", 1).expect("previous").value.expose_secret(), "sk-a-one");
    let id = vault.client_config_history().expect("history")[0].id.clone();
    assert!(vault.open_client_config(&id).expect("open").is_some_and(|t| t.expose_secret().contains("in a client")));
    assert!(matches!(vault.check_token(&token, Some("web_search")).expect("check"), TokenDecision::Allowed(_)));
    assert_eq!(vault.verify_rows().expect("rows"), []);
    let audit = vault.verify_audit().expect("audit");
    assert!(audit.is_intact() && audit.rows == rows_before, "{audit}");
    let mut team_rows = 0;
    vault
        .export_audit(None, |r| {
            team_rows += usize::from(r.team_version == Some(7));
            Ok(())
        })
        .expect("export");
    assert!(team_rows > 0, "rows with a team version survived retention and rekey");
    assert!(vault.verify_rotation_log().expect("log").is_intact());
    let last = vault.rotation_log().expect("log").pop().expect("a row");
    assert_eq!((last.credential.as_str(), last.action.as_str()), ("(master key)", "rekeyed"));
    vault.rollback_credential("a").expect("the rotation state verifies under the new key");
}

#[test]
fn rekey_refuses_a_vault_with_an_edited_row_and_changes_nothing() {
    let fx = Fixture::with_vault();
    full_vault(&fx);
    fx.raw().execute("UPDATE credential SET max_age_days = 3650", []).expect("edit behind Keygate's back");
    let mut vault = fx.open();
    let err = vault.rekey(&MasterKey::generate().expect("key")).expect_err("refused");
    assert!(matches!(err, VaultError::RekeyRefused { .. }), "{err}");
    assert!(err.to_string().contains("credential a"), "{err}");
    drop(vault);
    fx.open(); // the old key still opens it
}
