//! Credentials: adding, rotating, removing, validation, sealed values bound to their row, and
//! rotation due dates.

use std::time::Duration;

use keygate_vault::{CredentialInfo, LogEntry, MAX_VALUE_LEN, Vault, VaultError};
use secrecy::ExposeSecret;

use crate::common::{DAY, Fixture, HOUR, T0, secret};

fn version_rows(fx: &Fixture, name: &str) -> Vec<i64> {
    let conn = fx.raw();
    let mut stmt =
        conn.prepare("SELECT version FROM credential_version WHERE name = ?1 ORDER BY version").expect("prepare");
    let rows = stmt.query_map([name], |row| row.get(0)).expect("query");
    rows.collect::<rusqlite::Result<_>>().expect("rows")
}

#[test]
fn add_rotate_remove_keep_the_right_versions_and_log() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();

    let info = vault.add_credential("openai", &secret("sk-one"), None).expect("add");
    assert_eq!(info.version, 1);
    assert_eq!(info.created_at, T0);
    assert_eq!(info.rotated_at, None);
    let opened = vault.open_credential("openai").expect("open v1");
    assert_eq!((opened.version, opened.value.expose_secret()), (1, "sk-one"));
    assert_eq!(version_rows(&fx, "openai"), [1]);

    fx.clock.advance(HOUR);
    let t1 = fx.now();
    let info = vault.rotate_credential("openai", &secret("sk-two")).expect("rotate");
    assert_eq!(info.version, 2);
    assert_eq!(info.created_at, T0, "created_at is the first version's");
    assert_eq!(info.rotated_at, Some(t1));
    let opened = vault.open_credential("openai").expect("open v2");
    assert_eq!((opened.version, opened.value.expose_secret()), (2, "sk-two"));
    assert_eq!(version_rows(&fx, "openai"), [1, 2], "the previous version is kept");

    fx.clock.advance(HOUR);
    let t2 = fx.now();
    let info = vault.rotate_credential("openai", &secret("sk-three")).expect("rotate again");
    assert_eq!(info.version, 3);
    assert_eq!(vault.open_credential("openai").expect("open v3").value.expose_secret(), "sk-three");
    assert_eq!(version_rows(&fx, "openai"), [2, 3], "only the previous version is kept");

    fx.clock.advance(HOUR);
    let t3 = fx.now();
    vault.remove_credential("openai").expect("remove");
    assert_eq!(version_rows(&fx, "openai"), Vec::<i64>::new(), "remove erases every version");
    assert!(vault.list_credentials().expect("list").is_empty());
    let err = vault.open_credential("openai").expect_err("removed");
    assert!(matches!(err, VaultError::CredentialNotFound { ref name } if name == "openai"), "{err:?}");

    let entry = |at, action: &str, from_version, to_version| LogEntry {
        at,
        credential: "openai".into(),
        action: action.into(),
        from_version,
        to_version,
        actor: "cli".into(),
    };
    assert_eq!(
        vault.rotation_log().expect("log"),
        [
            entry(T0, "created", None, Some(1)),
            entry(t1, "rotated", Some(1), Some(2)),
            entry(t2, "rotated", Some(2), Some(3)),
            entry(t3, "removed", Some(3), None),
        ]
    );
}

#[test]
fn a_removed_name_can_be_added_again_from_version_one() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("old"), None).expect("add");
    vault.rotate_credential("a", &secret("older")).expect("rotate");
    vault.remove_credential("a").expect("remove");
    let info = vault.add_credential("a", &secret("new"), None).expect("add again");
    assert_eq!(info.version, 1);
    let opened = vault.open_credential("a").expect("open");
    assert_eq!((opened.version, opened.value.expose_secret()), (1, "new"));
    assert_eq!(version_rows(&fx, "a"), [1]);
}

#[test]
fn credentials_are_listed_by_name_without_values() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    for (name, value) in [("zeta", "value-zeta-9f3c"), ("alpha", "value-alpha-9f3c"), ("m.id_1-x", "value-m-9f3c")] {
        vault.add_credential(name, &secret(value), Some(7)).expect("add");
    }
    let list = vault.list_credentials().expect("list");
    let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["alpha", "m.id_1-x", "zeta"]);
    assert!(list.iter().all(|c| c.max_age_days == 7 && c.version == 1));
    let shown = format!("{list:?} {}", serde_json::to_string(&list).expect("json"));
    assert!(!shown.contains("9f3c"), "a value leaked into the listing: {shown}");
}

struct Snapshot {
    credentials: Vec<CredentialInfo>,
    log: Vec<LogEntry>,
    value: String,
}

fn snapshot(vault: &Vault) -> Snapshot {
    Snapshot {
        credentials: vault.list_credentials().expect("list"),
        log: vault.rotation_log().expect("log"),
        value: vault.open_credential("existing").expect("open").value.expose_secret().to_string(),
    }
}

fn assert_unchanged(vault: &Vault, before: &Snapshot, what: &str) {
    let after = snapshot(vault);
    assert_eq!(after.credentials, before.credentials, "{what}: credentials changed");
    assert_eq!(after.log, before.log, "{what}: rotation log changed");
    assert_eq!(after.value, before.value, "{what}: value changed");
}

#[test]
fn invalid_input_is_refused_and_changes_nothing() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("existing", &secret("the-value"), None).expect("add");
    vault.rotate_credential("existing", &secret("the-value-2")).expect("rotate");
    let before = snapshot(&vault);
    let ok = secret("fine-value");

    let long_name = "a".repeat(65);
    for bad in ["Upper", "", long_name.as_str(), "-leading", "a/b", "a b", " a", "é", "a\n", "_x", ".x"] {
        let err = vault.add_credential(bad, &ok, None).expect_err(bad);
        assert!(matches!(&err, VaultError::InvalidName { name } if name == bad), "add {bad:?}: {err:?}");
        let err = vault.rotate_credential(bad, &ok).expect_err(bad);
        assert!(matches!(err, VaultError::InvalidName { .. }), "rotate {bad:?}: {err:?}");
        let err = vault.remove_credential(bad).expect_err(bad);
        assert!(matches!(err, VaultError::InvalidName { .. }), "remove {bad:?}: {err:?}");
        assert_unchanged(&vault, &before, &format!("name {bad:?}"));
    }

    let too_long = "x".repeat(MAX_VALUE_LEN + 1);
    for (what, bad) in [
        ("empty", String::new()),
        ("newline", "abc\ndef".to_string()),
        ("trailing newline", "abcdef\n".to_string()),
        ("tab", "abc\tdef".to_string()),
        ("nul", "abc\0def".to_string()),
        ("too long", too_long),
    ] {
        let err = vault.add_credential("fresh", &secret(&bad), None).expect_err(what);
        assert!(matches!(err, VaultError::InvalidValue { .. }), "add {what}: {err:?}");
        let err = vault.rotate_credential("existing", &secret(&bad)).expect_err(what);
        assert!(matches!(&err, VaultError::InvalidValue { .. }), "rotate {what}: {err:?}");
        if bad.len() > 3 {
            assert!(!err.to_string().contains(&bad[..4]), "the error shows the value: {err}");
        }
        assert_unchanged(&vault, &before, what);
    }

    let err = vault.add_credential("existing", &secret("another"), None).expect_err("duplicate");
    assert!(matches!(&err, VaultError::CredentialExists { name } if name == "existing"), "{err:?}");
    assert!(!err.to_string().contains("another"), "{err}");
    assert_unchanged(&vault, &before, "duplicate add");

    let err = vault.rotate_credential("missing", &ok).expect_err("rotate unknown");
    assert!(matches!(&err, VaultError::CredentialNotFound { name } if name == "missing"), "{err:?}");
    let err = vault.remove_credential("missing").expect_err("remove unknown");
    assert!(matches!(&err, VaultError::CredentialNotFound { name } if name == "missing"), "{err:?}");
    let err = vault.open_credential("missing").expect_err("open unknown");
    assert!(matches!(&err, VaultError::CredentialNotFound { name } if name == "missing"), "{err:?}");
    let err = vault.credential_info("missing").expect_err("info unknown");
    assert!(matches!(&err, VaultError::CredentialNotFound { name } if name == "missing"), "{err:?}");
    assert_unchanged(&vault, &before, "unknown names");

    for days in [0, -1, 3651, 5000] {
        let err = vault.add_credential("fresh", &ok, Some(days)).expect_err("max age");
        assert!(matches!(err, VaultError::InvalidMaxAge { days: d } if d == days), "{days}: {err:?}");
        assert_unchanged(&vault, &before, &format!("max age {days}"));
    }
    assert_eq!(version_rows(&fx, "existing"), [1, 2]);
    assert_eq!(version_rows(&fx, "fresh"), Vec::<i64>::new());

    // The edges that are allowed.
    let name_64 = "a".repeat(64);
    vault.add_credential(&name_64, &secret(&"v".repeat(MAX_VALUE_LEN)), Some(3650)).expect("longest name and value");
    vault.add_credential("0.x_y-z", &ok, Some(1)).expect("digits and punctuation");
    assert_eq!(vault.open_credential(&name_64).expect("open").value.expose_secret().len(), MAX_VALUE_LEN);
}

fn sealed(conn: &rusqlite::Connection, name: &str, version: i64) -> Vec<u8> {
    conn.query_row("SELECT sealed FROM credential_version WHERE name = ?1 AND version = ?2", (name, version), |r| {
        r.get(0)
    })
    .expect("read sealed blob")
}

fn set_sealed(conn: &rusqlite::Connection, name: &str, version: i64, blob: &[u8]) {
    let n = conn
        .execute("UPDATE credential_version SET sealed = ?3 WHERE name = ?1 AND version = ?2", (name, version, blob))
        .expect("write sealed blob");
    assert_eq!(n, 1, "no row {name} v{version}");
}

fn assert_cannot_open(vault: &Vault, name: &str, version: i64) {
    let err = vault.open_credential(name).expect_err("tampered value opened");
    assert!(
        matches!(&err, VaultError::CannotOpen { name: n, version: v } if n == name && *v == version),
        "{name}: {err:?}"
    );
}

#[test]
fn ciphertexts_swapped_between_credentials_do_not_open() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("value-of-a"), None).expect("add a");
    vault.add_credential("b", &secret("value-of-b"), None).expect("add b");
    drop(vault);

    let conn = fx.raw();
    let (blob_a, blob_b) = (sealed(&conn, "a", 1), sealed(&conn, "b", 1));
    set_sealed(&conn, "a", 1, &blob_b);
    set_sealed(&conn, "b", 1, &blob_a);
    drop(conn);

    let vault = fx.open();
    assert_cannot_open(&vault, "a", 1);
    assert_cannot_open(&vault, "b", 1);
}

#[test]
fn an_older_version_moved_onto_the_current_row_does_not_open() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("first-value"), None).expect("add");
    vault.rotate_credential("a", &secret("second-value")).expect("rotate");
    drop(vault);

    let conn = fx.raw();
    let v1 = sealed(&conn, "a", 1);
    set_sealed(&conn, "a", 2, &v1);
    drop(conn);

    assert_cannot_open(&fx.open(), "a", 2);
}

#[test]
fn a_ciphertext_from_another_vault_does_not_open() {
    // Same key, same name and version, but another vault id.
    let one = Fixture::with_vault();
    let mut other = Fixture::new();
    other.key_bytes = one.key_bytes;
    other.init().expect("init second vault");
    one.open().add_credential("a", &secret("value-one"), None).expect("add one");
    other.open().add_credential("a", &secret("value-other"), None).expect("add other");

    let blob = sealed(&one.raw(), "a", 1);
    set_sealed(&other.raw(), "a", 1, &blob);
    assert_cannot_open(&other.open(), "a", 1);
}

#[test]
fn an_altered_ciphertext_does_not_open() {
    let fx = Fixture::with_vault();
    fx.open().add_credential("a", &secret("some-api-key"), None).expect("add");
    let original = sealed(&fx.raw(), "a", 1);

    // A flipped bit in the format byte, the nonce, the ciphertext and the tag; then cut and extended.
    let mut variants: Vec<Vec<u8>> = [0, 1, 13, original.len() / 2, original.len() - 1]
        .into_iter()
        .map(|i| {
            let mut bad = original.clone();
            bad[i] ^= 0x01;
            bad
        })
        .collect();
    variants.push(original[..original.len() - 1].to_vec());
    variants.push([original.as_slice(), &[0]].concat());
    variants.push(Vec::new());

    for bad in variants {
        set_sealed(&fx.raw(), "a", 1, &bad);
        assert_cannot_open(&fx.open(), "a", 1);
    }
    set_sealed(&fx.raw(), "a", 1, &original);
    assert_eq!(fx.open().open_credential("a").expect("restored").value.expose_secret(), "some-api-key");
}

#[test]
fn a_credential_becomes_due_after_its_max_age_and_rotation_resets_it() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    let info = vault.add_credential("a", &secret("v1"), Some(1)).expect("add");
    assert!(!info.due);
    assert_eq!(info.due_at, T0.plus(DAY));
    assert_eq!(info.due_at, keygate_vault::due_at(T0, 1));

    fx.clock.advance(DAY - Duration::from_millis(1));
    assert!(!vault.credential_info("a").expect("info").due, "a millisecond early");
    fx.clock.advance(Duration::from_millis(1));
    let info = vault.credential_info("a").expect("info");
    assert!(info.due, "due at exactly max age");
    assert!(vault.list_credentials().expect("list")[0].due, "the list agrees");

    fx.clock.advance(HOUR);
    let t1 = fx.now();
    let info = vault.rotate_credential("a", &secret("v2")).expect("rotate");
    assert!(!info.due);
    assert_eq!(info.due_at, t1.plus(DAY), "due_at moves to the new version's age");
    assert_eq!(info.max_age_days, 1, "policy kept");

    // The default policy is 30 days.
    let info = vault.add_credential("b", &secret("v"), None).expect("add b");
    assert_eq!(info.max_age_days, keygate_vault::DEFAULT_MAX_AGE_DAYS);
    assert_eq!(info.due_at, t1.plus(30 * DAY));
}

#[test]
fn reads_made_together_see_one_state_of_the_file() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("openai", &secret("sk-one"), None).expect("add");
    let mut other = fx.open();
    let (before, after_other_rotated) = vault
        .reading(|vault| {
            let before = vault.current_versions("openai").expect("read");
            other.rotate_credential("openai", &secret("sk-two")).expect("another connection rotates meanwhile");
            (before, vault.current_versions("openai").expect("read again"))
        })
        .expect("one read transaction");
    assert_eq!(before, Some((1, None)));
    assert_eq!(after_other_rotated, Some((1, None)), "the second read saw another state of the file");
    assert_eq!(vault.current_versions("openai").expect("read after"), Some((2, None)), "the next read is fresh");
}
