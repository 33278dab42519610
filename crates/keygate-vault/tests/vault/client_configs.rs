//! Client config originals: sealed (never in the clear on disk), bound to their row, listed
//! without their text, the latest per file found again.

use std::time::Duration;

use keygate_vault::{ClientConfigWrite, VaultError};
use secrecy::{ExposeSecret, SecretString};

use crate::common::{Fixture, T0};

const ORIGINAL: &str =
    r#"{ "mcpServers": { "brave": { "env": { "BRAVE_API_KEY": "BSA-plaintext-in-a-client-config" } } } }"#;
const PATH: &str = "/home/u/.cursor/mcp.json";

fn write<'a>(action: &'a str, record: &'a str, original: Option<&'a SecretString>) -> ClientConfigWrite<'a> {
    ClientConfigWrite { client: "cursor", path: PATH, action, record, original }
}

#[test]
fn an_original_is_kept_sealed_and_opens_again() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let original = SecretString::from(ORIGINAL);
    let id =
        vault.keep_client_config(&write("connect", r#"{"command":"/bin/keygate"}"#, Some(&original))).expect("keep");
    let opened = vault.open_client_config(&id).expect("open").expect("there was a file");
    assert_eq!(opened.expose_secret(), ORIGINAL);
    drop(vault);
    let disk = fx.disk_bytes();
    assert!(!disk.windows(20).any(|w| w == &b"BSA-plaintext-in-a-c"[..]), "the original is on disk in the clear");
    assert!(disk.windows(PATH.len()).any(|w| w == PATH.as_bytes()), "the path is kept in the clear");
}

#[test]
fn the_latest_write_per_file_is_found_and_history_lists_no_text() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    assert_eq!(vault.last_client_config("cursor", PATH).expect("last"), None);
    let first = vault.keep_client_config(&write("connect", "{\"n\":1}", None)).expect("keep");
    fx.clock.advance(Duration::from_secs(1));
    let original = SecretString::from(ORIGINAL);
    let second = vault.keep_client_config(&write("disconnect", "{\"n\":2}", Some(&original))).expect("keep");
    let last = vault.last_client_config("cursor", PATH).expect("last").expect("some");
    assert_eq!(
        (last.id.as_str(), last.action.as_str(), last.record.as_str()),
        (second.as_str(), "disconnect", "{\"n\":2}")
    );
    assert!(last.had_original);
    assert_eq!(vault.last_client_config("zed", PATH).expect("other client"), None);
    let history = vault.client_config_history().expect("history");
    assert_eq!(history.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), [first.as_str(), second.as_str()]);
    assert_eq!(history[0].at, T0);
    assert!(!history[0].had_original);
    assert!(vault.open_client_config(&first).expect("open").is_none(), "no file before the first write");
    assert!(!format!("{history:?}").contains("plaintext"));
}

#[test]
fn a_sealed_original_moved_to_another_row_does_not_open() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let original = SecretString::from(ORIGINAL);
    let a = vault.keep_client_config(&write("connect", "{}", Some(&original))).expect("keep");
    let other = ClientConfigWrite {
        client: "zed",
        path: "/home/u/.config/zed/settings.json",
        ..write("connect", "{}", Some(&original))
    };
    let b = vault.keep_client_config(&other).expect("keep");
    fx.raw()
        .execute(
            "UPDATE client_config SET sealed = (SELECT sealed FROM client_config WHERE id = ?1) WHERE id = ?2",
            [&a, &b],
        )
        .expect("move the blob");
    assert!(matches!(vault.open_client_config(&b), Err(VaultError::CannotOpenClientConfig { .. })));
    assert!(vault.open_client_config(&a).expect("open").is_some());
    assert!(matches!(vault.open_client_config("0000"), Err(VaultError::ClientConfigNotFound { .. })));
}

#[test]
fn unknown_actions_are_refused() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    assert!(matches!(vault.keep_client_config(&write("restore", "{}", None)), Err(VaultError::InvalidValue { .. })));
    assert!(format!("{:?}", write("connect", "{}", Some(&SecretString::from(ORIGINAL)))).contains("[sealed]"));
}
