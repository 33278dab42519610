//! Shared fixture for the vault integration tests: a temp home, a fixed master key that can
//! be handed out again for each open, and a manual clock shared with every vault opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keygate_vault::{
    Actor, Clock, Home, InitReport, KeySource, ManualClock, MasterKey, Timestamp, TokenRequest, Vault, VaultError,
};
use secrecy::SecretString;

/// 2025-10-09T08:53:20Z: a fixed start so timestamps are predictable.
pub const T0: Timestamp = Timestamp::from_unix_millis(1_760_000_000_000);

pub const HOUR: Duration = Duration::from_secs(3600);
pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// Undo the rotation-state migration (011_rotation.sql) and the ones after it (012_team_audit.sql:
/// the team versions), for tests that roll a vault's schema back past them.
pub const UNDO_ROTATION_SCHEMA: &str = "ALTER TABLE audit DROP COLUMN team_version;
     ALTER TABLE credential_version DROP COLUMN team_version; DROP TABLE credential_rotation;
     ALTER TABLE credential_version DROP COLUMN provider_id; ALTER TABLE credential_version DROP COLUMN expires_at;";

/// A temp home with a known master key and a clock moved by hand.
pub struct Fixture {
    /// Held so the directory lives as long as the fixture, and is removed after.
    _dir: tempfile::TempDir,
    pub home: Home,
    pub clock: Arc<ManualClock>,
    pub key_bytes: [u8; 32],
}

impl Fixture {
    /// A fresh home (not yet initialised) inside a new temp dir.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let home = Home::at(dir.path().join("home"));
        let mut key_bytes = [0u8; 32];
        getrandom::fill(&mut key_bytes).expect("OS random");
        Self { _dir: dir, home, clock: Arc::new(ManualClock::new(T0)), key_bytes }
    }

    /// A fresh home with a vault already made.
    pub fn with_vault() -> Self {
        let fixture = Self::new();
        fixture.init().expect("init a new vault");
        fixture
    }

    /// This fixture's master key, given directly (never the OS keychain).
    pub fn key(&self) -> KeySource {
        KeySource::Given(MasterKey::from_bytes(&self.key_bytes).expect("32-byte key"))
    }

    pub fn init(&self) -> Result<InitReport, VaultError> {
        Vault::init(&self.home, self.key(), self.clock.as_ref())
    }

    pub fn try_open(&self) -> Result<Vault, VaultError> {
        let clock: Arc<dyn Clock> = self.clock.clone();
        Vault::open(&self.home, self.key(), clock, Actor::Cli)
    }

    pub fn open(&self) -> Vault {
        self.try_open().expect("open the vault")
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn vault_path(&self) -> PathBuf {
        self.home.vault_path()
    }

    pub fn wal_path(&self) -> PathBuf {
        sidecar(&self.vault_path(), "-wal")
    }

    /// The bytes of `vault.db`.
    pub fn vault_bytes(&self) -> Vec<u8> {
        std::fs::read(self.vault_path()).expect("read vault.db")
    }

    /// The bytes of `vault.db` followed by those of `vault.db-wal` if there is one: everything
    /// the vault has put on disk.
    pub fn disk_bytes(&self) -> Vec<u8> {
        let mut bytes = self.vault_bytes();
        match std::fs::read(self.wal_path()) {
            Ok(wal) => bytes.extend_from_slice(&wal),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("read vault.db-wal: {e}"),
        }
        bytes
    }

    /// A plain SQLite connection to the vault file, for looking under the hood.
    pub fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.vault_path()).expect("open vault.db with rusqlite")
    }
}

/// `path` with `suffix` appended to its file name (`vault.db` -> `vault.db-wal`).
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub fn secret(value: &str) -> SecretString {
    SecretString::from(value)
}

/// A request for a token that may call `tools`.
pub fn request(tools: &[&str], ttl: Option<Duration>) -> TokenRequest {
    TokenRequest { tools: tools.iter().map(|t| (*t).to_string()).collect(), ttl, label: None }
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The secret part of a token `kg_<id>_<secret>`: everything after the second `_`.
pub fn token_secret(token: &str) -> &str {
    let rest = token.strip_prefix("kg_").expect("token starts with kg_");
    let (_, secret) = rest.split_once('_').expect("token has a second _");
    secret
}

impl Fixture {
    /// Turn this vault into one written before row MACs and chains (schema 5): no MAC
    /// columns, and the first key check. What Keygate had on disk before that release.
    pub fn make_pre_mac(&self) {
        let raw = self.raw();
        raw.execute_batch(
            "ALTER TABLE token DROP COLUMN mac; ALTER TABLE agent_grant DROP COLUMN mac;
             ALTER TABLE credential DROP COLUMN mac; ALTER TABLE tool_pin DROP COLUMN mac;
             ALTER TABLE audit DROP COLUMN mac; ALTER TABLE audit DROP COLUMN seal;
             ALTER TABLE rotation_log DROP COLUMN mac;",
        )
        .expect("drop the MAC columns");
        self.make_pre_oauth_mac_schema(&raw);
        raw.pragma_update(None, "user_version", 6).expect("schema 6");
        self.write_first_key_check(&raw);
    }

    /// Turn this vault into one written before OAuth rows carried MACs (schema 7, key check
    /// v2): the other rows stay authenticated.
    pub fn make_pre_oauth_mac(&self) {
        let raw = self.raw();
        self.make_pre_oauth_mac_schema(&raw);
        raw.pragma_update(None, "user_version", 7).expect("schema 7");
        self.write_key_check(&raw, b"keygate key check v2: rows authenticated");
    }

    /// Drop the OAuth tables' MAC columns (and what schemas 9 and 10 added later: team copies,
    /// policy columns).
    pub fn make_pre_oauth_mac_schema(&self, raw: &rusqlite::Connection) {
        raw.execute_batch(&format!(
            "DROP TABLE team_credential; ALTER TABLE agent_grant DROP COLUMN policy; ALTER TABLE token DROP COLUMN policy;
             ALTER TABLE oauth_client DROP COLUMN mac; ALTER TABLE oauth_consent DROP COLUMN mac;
             ALTER TABLE oauth_code DROP COLUMN mac; ALTER TABLE oauth_family DROP COLUMN mac;
             ALTER TABLE oauth_refresh DROP COLUMN mac; ALTER TABLE oauth_family_token DROP COLUMN mac;
             {UNDO_ROTATION_SCHEMA}",
        ))
        .expect("drop the OAuth MAC columns");
    }

    /// Replace the key check by the first one (`keygate key check v1`).
    pub fn write_first_key_check(&self, raw: &rusqlite::Connection) {
        self.write_key_check(raw, b"keygate key check v1");
    }

    /// Replace the key check by one sealing `plaintext`, as the vault format says: format 1,
    /// 12-byte nonce, AES-256-GCM over the binding's length-prefixed fields.
    pub fn write_key_check(&self, raw: &rusqlite::Connection, plaintext: &[u8]) {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let vault_id: Vec<u8> =
            raw.query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| r.get(0)).expect("vault id");
        let mut aad = b"keygate/v1".to_vec();
        for field in [&b"key-check"[..], &vault_id] {
            aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
            aad.extend_from_slice(field);
        }
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.key_bytes).expect("key");
        let nonce = [7u8; 12];
        let sealed = cipher.encrypt(&nonce.into(), Payload { msg: plaintext, aad: &aad }).expect("seal");
        let blob = [&[1u8][..], &nonce, &sealed].concat();
        raw.execute("UPDATE meta SET value = ?1 WHERE key = 'key_check'", [blob]).expect("key check");
    }
}

/// The audit row of an allowed `web_search` call by `token_id` with credential `a`.
pub fn allowed_call(token_id: &str) -> keygate_vault::AuditStart<'_> {
    keygate_vault::AuditStart {
        server: None,
        token_id: Some(token_id),
        tool: "web_search",
        credential: Some("a"),
        credential_version: Some(1),
        team_version: None,
        decision: keygate_vault::Decision::Allowed,
        status: None,
    }
}
