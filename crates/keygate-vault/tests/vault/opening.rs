//! Creating and opening vaults: init, the master key check, damaged and newer files, and
//! opening while another process writes.

use std::collections::BTreeSet;

use keygate_vault::{AuditStart, Decision, KeySource, MasterKey, TokenRequest, Vault, VaultError};
use secrecy::ExposeSecret;

use crate::common::{DAY, Fixture, HOUR, request, secret};

#[test]
fn init_then_open_round_trip() {
    let fx = Fixture::new();
    let report = fx.init().expect("init");
    assert_eq!(report.vault_path, fx.vault_path());
    assert_eq!(report.config_path, fx.home.config_path());
    assert!(report.config_written, "a fresh home gets a default config");
    assert_eq!(report.keychain_account, None, "a given key is not put in the keychain");
    assert_eq!(report.vault_id.len(), 16, "vault id {:?}", report.vault_id);

    let vault = fx.open();
    assert_eq!(vault.id(), report.vault_id);
    assert!(vault.list_credentials().expect("list").is_empty());
    assert!(vault.list_tokens().expect("tokens").is_empty());
    assert!(vault.rotation_log().expect("log").is_empty());
    assert!(vault.audit_log().expect("audit").is_empty());
    drop(vault);

    // A second open sees what the first wrote.
    let mut vault = fx.open();
    vault.add_credential("kept", &secret("value-1"), None).expect("add");
    drop(vault);
    let vault = fx.open();
    assert_eq!(vault.open_credential("kept").expect("open").value.expose_secret(), "value-1");
}

#[test]
fn init_leaves_only_the_vault_and_config_behind() {
    let fx = Fixture::new();
    fx.init().expect("init");
    let names: BTreeSet<String> = std::fs::read_dir(fx.home.dir())
        .expect("read home")
        .map(|entry| entry.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, BTreeSet::from(["config.toml".to_string(), "vault.db".to_string()]));
}

#[test]
fn init_refuses_an_existing_vault_and_leaves_it_unchanged() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("value-a"), None).expect("add");
    drop(vault);
    let before = fx.vault_bytes();
    let config_before = std::fs::read(fx.home.config_path()).expect("read config");

    // Same key or another key: either way, no overwrite.
    let err = fx.init().expect_err("second init");
    assert!(matches!(&err, VaultError::VaultExists { path } if *path == fx.vault_path()), "{err:?}");
    let other = KeySource::Given(MasterKey::generate().expect("key"));
    let err = Vault::init(&fx.home, other, fx.clock.as_ref()).expect_err("init with another key");
    assert!(matches!(err, VaultError::VaultExists { .. }), "{err:?}");

    assert_eq!(fx.vault_bytes(), before, "vault.db changed");
    assert_eq!(std::fs::read(fx.home.config_path()).expect("read config"), config_before);
    let vault = fx.open();
    assert_eq!(vault.open_credential("a").expect("open").value.expose_secret(), "value-a");
}

#[test]
fn init_keeps_an_existing_config() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.home.dir()).expect("mkdir");
    let mine = "[tokens]\ndefault_ttl = \"2h\"\nmax_ttl = \"1d\"\n";
    std::fs::write(fx.home.config_path(), mine).expect("write config");
    let report = fx.init().expect("init");
    assert!(!report.config_written);
    assert_eq!(std::fs::read_to_string(fx.home.config_path()).expect("read config"), mine);
    let policy = fx.open().token_policy();
    assert_eq!(policy.default_ttl, 2 * HOUR);
    assert_eq!(policy.max_ttl, DAY);
}

#[cfg(unix)]
#[test]
fn init_makes_owner_only_files() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    fx.init().expect("init");
    let mode = |path: &std::path::Path| std::fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(fx.home.dir()), 0o700, "home dir");
    assert_eq!(mode(&fx.vault_path()), 0o600, "vault.db");
    assert_eq!(mode(&fx.home.config_path()), 0o600, "config.toml");
}

#[test]
fn wrong_master_key_is_refused_and_the_file_is_untouched() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("value-a"), None).expect("add");
    let vault_id = vault.id().to_string();
    drop(vault);
    let before = fx.vault_bytes();

    let wrong = KeySource::Given(MasterKey::generate().expect("key"));
    let err = Vault::open(&fx.home, wrong, fx.clock.clone(), keygate_vault::Actor::Cli).expect_err("wrong key");
    assert!(matches!(&err, VaultError::WrongMasterKey { vault_id: id } if *id == vault_id), "{err:?}");
    assert_eq!(fx.vault_bytes(), before, "vault.db changed by a refused open");
    assert!(!fx.wal_path().exists() || std::fs::read(fx.wal_path()).expect("wal").is_empty());

    // The right key still works.
    assert_eq!(fx.open().open_credential("a").expect("open").value.expose_secret(), "value-a");
}

#[test]
fn open_without_a_vault_is_no_vault_and_creates_nothing() {
    let fx = Fixture::new();
    let err = fx.try_open().expect_err("no vault yet");
    assert!(matches!(&err, VaultError::NoVault { path } if *path == fx.vault_path()), "{err:?}");
    assert!(!fx.vault_path().exists(), "open created vault.db");
}

fn assert_corrupt_and_untouched(fx: &Fixture, what: &str) {
    let before = fx.vault_bytes();
    let err = fx.try_open().expect_err(what);
    assert!(matches!(&err, VaultError::Corrupt { path, .. } if *path == fx.vault_path()), "{what}: {err:?}");
    assert_eq!(fx.vault_bytes(), before, "{what}: vault.db changed by a refused open");
}

#[test]
fn garbage_bytes_are_corrupt() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.home.dir()).expect("mkdir");
    std::fs::write(fx.vault_path(), [0x42u8; 4096]).expect("write garbage");
    assert_corrupt_and_untouched(&fx, "4096 bytes of 0x42");
    std::fs::write(fx.vault_path(), b"SQLite format 3\0").expect("write a bare header");
    assert_corrupt_and_untouched(&fx, "just the magic");
    std::fs::write(fx.vault_path(), b"").expect("write an empty file");
    assert_corrupt_and_untouched(&fx, "empty file");
}

#[test]
fn a_truncated_vault_is_corrupt_and_left_as_it_is() {
    let fx = Fixture::with_vault();
    let mut vault = fx.open();
    vault.add_credential("a", &secret("value-a"), None).expect("add");
    for i in 0..200 {
        let label = TokenRequest { label: Some(format!("token number {i}")), ..request(&["web_search"], None) };
        vault.issue_token(&label).expect("issue");
    }
    drop(vault);
    assert!(!fx.wal_path().exists(), "closing the vault should checkpoint and remove the WAL");
    let full = fx.vault_bytes();
    assert!(full.len() >= 8 * 4096, "the vault should span many pages, it is {} bytes", full.len());

    let page_size = usize::from(u16::from_be_bytes([full[16], full[17]]));
    // Half the file; then only the last page missing (rows SQLite would not read on open).
    for (what, len) in [("truncated to half", full.len() / 2), ("last page missing", full.len() - page_size)] {
        std::fs::write(fx.vault_path(), &full[..len]).expect("write the truncated copy");
        assert_corrupt_and_untouched(&fx, what);
        assert_eq!(fx.vault_bytes(), full[..len], "{what}");
        assert!(!fx.wal_path().exists(), "{what}: a refused open left a WAL behind");
    }
}

#[test]
fn an_sqlite_file_without_the_schema_is_corrupt() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.home.dir()).expect("mkdir");
    let conn = rusqlite::Connection::open(fx.vault_path()).expect("create db");
    conn.execute_batch("CREATE TABLE unrelated (x INTEGER); INSERT INTO unrelated VALUES (1);").expect("schema");
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("user_version");
    assert_eq!(version, 0);
    drop(conn);
    assert_corrupt_and_untouched(&fx, "an unrelated SQLite db");

    // Not even a table: SQLite leaves the file empty.
    std::fs::remove_file(fx.vault_path()).expect("rm");
    drop(rusqlite::Connection::open(fx.vault_path()).expect("create empty db"));
    assert_corrupt_and_untouched(&fx, "an empty SQLite db");
}

#[test]
fn a_vault_with_a_damaged_page_is_corrupt() {
    for (what, start, end) in
        [("the schema page", 100, 4096), ("page 2", 4096, 8192), ("every page after the first", 4096, usize::MAX)]
    {
        let fx = Fixture::with_vault();
        fx.open().add_credential("a", &secret("value-a"), None).expect("add");
        let mut bytes = fx.vault_bytes();
        let end = end.min(bytes.len());
        assert!(end > start, "the vault is too small for this test");
        bytes[start..end].fill(0x42);
        std::fs::write(fx.vault_path(), &bytes).expect("damage the file");
        assert_corrupt_and_untouched(&fx, what);
    }
}

/// The last copy of page 1 in a WAL file, and the database size in pages the WAL's last commit
/// gives. The WAL must be fresh (every frame from this session).
fn page_one_from_wal(wal: &[u8], page_size: usize) -> (Vec<u8>, u32) {
    const WAL_HEADER: usize = 32;
    const FRAME_HEADER: usize = 24;
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    assert_eq!(be32(&wal[8..12]) as usize, page_size, "WAL page size");
    let salt = &wal[16..24];
    let (mut page_one, mut db_pages) = (None, 0);
    for frame in wal[WAL_HEADER..].chunks_exact(FRAME_HEADER + page_size) {
        if &frame[8..16] != salt {
            break;
        }
        if be32(&frame[0..4]) == 1 {
            page_one = Some(frame[FRAME_HEADER..].to_vec());
        }
        if be32(&frame[4..8]) != 0 {
            db_pages = be32(&frame[4..8]);
        }
    }
    (page_one.expect("page 1 is in the WAL"), db_pages)
}

/// Deterministic form of the race below: SQLite checkpoints a growing WAL database by copying
/// pages back in page order, so for a moment page 1 (whose header gives the new page count)
/// is in vault.db while the file has not grown yet. The vault is healthy (every page is in
/// the WAL) and must open.
#[test]
fn a_vault_in_the_middle_of_a_checkpoint_still_opens() {
    use std::io::{Seek, SeekFrom, Write};
    let fx = Fixture::with_vault();
    let mut server = fx.open();
    for i in 0..300 {
        let labelled = TokenRequest { label: Some(format!("token number {i}")), ..request(&["web_search"], None) };
        server.issue_token(&labelled).expect("issue");
    }
    // Far below the 1000-page auto-checkpoint: everything new is still only in the WAL.
    let db = fx.vault_bytes();
    let page_size = usize::from(u16::from_be_bytes([db[16], db[17]]));
    let (page_one, db_pages) = page_one_from_wal(&std::fs::read(fx.wal_path()).expect("read WAL"), page_size);
    assert!(db.len() < db_pages as usize * page_size, "the test needs a database that grew inside the WAL");

    // What the checkpoint does first: page 1 back into the file.
    let mut file = std::fs::OpenOptions::new().write(true).open(fx.vault_path()).expect("open vault.db");
    file.seek(SeekFrom::Start(0)).expect("seek");
    file.write_all(&page_one).expect("write page 1");
    drop(file);

    let result = fx.try_open().map(|vault| vault.list_tokens().expect("list").len());
    assert!(matches!(result, Ok(300)), "a healthy vault did not open mid-checkpoint: {result:?}");
    assert_eq!(server.list_tokens().expect("server still reads").len(), 300);
    drop(server);
    assert_eq!(fx.open().list_tokens().expect("after the checkpoint").len(), 300);
}

/// While another process (the MCP server) writes to the vault, SQLite's WAL checkpoints grow
/// the file, and a healthy vault must keep opening. Stops at the first failed open.
#[test]
fn a_vault_being_written_by_another_process_still_opens() {
    let fx = std::sync::Arc::new(Fixture::with_vault());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (fx, done) = (fx.clone(), done.clone());
        std::thread::spawn(move || {
            let mut server = fx.open();
            let status = "x".repeat(8000);
            for _ in 0..4000 {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let start = AuditStart {
                    server: None,
                    token_id: None,
                    tool: "web_search",
                    credential: None,
                    credential_version: None,
                    team_version: None,
                    decision: Decision::Denied,
                    status: Some(&status),
                };
                server.begin_audit(&start).expect("audit");
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut opens = 0;
    let mut failure = None;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        match fx.try_open() {
            Ok(_) => opens += 1,
            Err(e) => {
                failure = Some(e);
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
    writer.join().expect("writer thread");
    if let Some(err) = failure {
        panic!("a healthy vault failed to open after {opens} good opens: {err:?}");
    }
    let log = fx.open().audit_log().expect("audit");
    assert!(!log.is_empty());
}

#[test]
fn a_vault_missing_its_meta_rows_is_corrupt() {
    let fx = Fixture::with_vault();
    fx.raw().execute("DELETE FROM meta WHERE key = 'key_check'", []).expect("delete key check");
    assert_corrupt_and_untouched(&fx, "no key_check");
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let fx = Fixture::with_vault();
    fx.open().add_credential("a", &secret("value-a"), None).expect("add");
    fx.raw().pragma_update(None, "user_version", 99).expect("set user_version");
    let before = fx.vault_bytes();
    let err = fx.try_open().expect_err("newer schema");
    // Whatever this build supports (it grows with each migration), 99 is newer.
    assert!(matches!(err, VaultError::NewerSchema { found: 99, supported } if (2..99).contains(&supported)), "{err:?}");
    assert_eq!(fx.vault_bytes(), before, "vault.db changed by a refused open");
}

#[test]
fn change_marker_moves_when_another_connection_writes() {
    let fx = Fixture::with_vault();
    let watcher = fx.open();
    let mut writer = fx.open();
    let before = watcher.change_marker().expect("marker");
    assert_eq!(watcher.change_marker().expect("marker"), before, "stable while nothing changes");
    writer.add_credential("a", &secret("value-a"), None).expect("add");
    let after = watcher.change_marker().expect("marker");
    assert_ne!(after, before, "another connection's commit is seen");
    writer.issue_token(&request(&["t"], None)).expect("issue");
    let later = watcher.change_marker().expect("marker");
    assert_ne!(later, after, "and every later one");

    // Reading in between must not pin the watcher to an old snapshot.
    watcher.list_credentials().expect("list");
    watcher.list_tokens().expect("tokens");
    watcher.rotation_log().expect("log");
    watcher.recent_audit(10).expect("audit");
    writer.add_credential("b", &secret("value-b"), None).expect("add b");
    assert_ne!(watcher.change_marker().expect("marker"), later, "seen after reads");
    assert_eq!(watcher.list_credentials().expect("list").len(), 2, "and the reads see it");
}

#[test]
fn errors_carry_stable_codes() {
    let fx = Fixture::new();
    let missing = fx.try_open().expect_err("no vault yet");
    assert_eq!(missing.code(), "no_vault");
    fx.init().expect("init");
    let mut vault = fx.open();
    assert_eq!(vault.remove_credential("nope").expect_err("absent").code(), "credential_not_found");
    assert_eq!(vault.revoke_token("zz").expect_err("bad id").code(), "invalid_token_id");
}
