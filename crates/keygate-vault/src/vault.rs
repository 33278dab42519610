//! The `Vault`: one open vault file with its master key. Creating and opening live here;
//! the operations on it live in `credential.rs`, `token.rs`, `rotation.rs` and `audit.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::Clock;
use crate::config::{AuditPolicy, DEFAULT_CONFIG, TokenPolicy};
use crate::error::{Result, VaultError, io_error};
use crate::home::{Home, write_new_file};
use crate::integrity::{self, Unauthenticated};
use crate::kept_rows::KeptRows;
use crate::key_source::{self, KeySource};
use crate::mac::{Keys, VerifiedMacs};
use crate::random::random_hex;
use crate::seal::{Binding, MasterKey, Sealer};
use crate::store;

/// A known plaintext sealed at `init`; if it opens, the key is right. A vault whose rows
/// carry MACs holds a later one: only the master key can turn an earlier into a later one, so
/// deleting MACs cannot make Keygate take a vault for one from before row MACs and re-MAC it.
/// v2: tokens, grants, credentials and pins are authenticated; v3: the OAuth rows too.
pub(crate) const KEY_CHECK_PLAINTEXT: &[u8] = b"keygate key check v1";
pub(crate) const KEY_CHECK_AUTHENTICATED: &[u8] = b"keygate key check v2: rows authenticated";
pub(crate) const KEY_CHECK_OAUTH_AUTHENTICATED: &[u8] = b"keygate key check v3: rows and OAuth rows authenticated";

/// Who made a change, for the rotation log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// The `keygate` command line.
    Cli,
    /// The tray app.
    App,
    /// The MCP server.
    Server,
}

impl Actor {
    /// The word stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Cli => "cli",
            Actor::App => "app",
            Actor::Server => "server",
        }
    }
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The new vault file.
    pub vault_path: PathBuf,
    /// The vault's id (also its keychain account suffix).
    pub vault_id: String,
    /// The keychain account holding the master key; `None` when it came from the environment.
    pub keychain_account: Option<String>,
    /// The config file, and whether `init` wrote it (false: one was there already).
    pub config_path: PathBuf,
    /// Whether a default config was written.
    pub config_written: bool,
}

/// An open vault.
#[derive(Debug)]
pub struct Vault {
    pub(crate) conn: Connection,
    pub(crate) sealer: Sealer,
    pub(crate) vault_id: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) actor: Actor,
    pub(crate) token_policy: TokenPolicy,
    pub(crate) audit_policy: AuditPolicy,
    pub(crate) keys: Keys,
    /// Token, grant and pin rows whose MACs were verified (see `VerifiedMacs`).
    pub(crate) verified: VerifiedMacs,
    /// Token rows and sealed credentials kept while the vault is unchanged (see `KeptRows`).
    pub(crate) kept: KeptRows,
    pub(crate) home: Home,
}

impl Vault {
    /// Create a new vault in `home` with a new master key (or the given one), and a default
    /// config if there is none. Refuses if a vault exists. Leaves nothing behind on failure.
    pub fn init(home: &Home, source: KeySource, clock: &dyn Clock) -> Result<InitReport> {
        home.ensure_dir()?;
        let vault_path = home.vault_path();
        if vault_path.exists() {
            return Err(VaultError::VaultExists { path: vault_path });
        }
        let use_keychain = matches!(source, KeySource::Keychain);
        let key = match source {
            KeySource::Keychain => MasterKey::generate()?,
            KeySource::Given(key) => key,
        };
        let vault_id = random_hex(8)?;
        let temp = tempfile::Builder::new()
            .prefix(".vault-")
            .tempfile_in(home.dir())
            .map_err(io_error("cannot create a file in", home.dir()))?
            .into_temp_path();
        write_new_vault(&temp, &vault_id, &key, clock)?;
        if use_keychain {
            key_source::store_in_keychain(&vault_id, &key)?;
        }
        if let Err(e) = std::fs::hard_link(&temp, &vault_path) {
            if use_keychain {
                let _ = key_source::delete_from_keychain(&vault_id);
            }
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => VaultError::VaultExists { path: vault_path },
                _ => io_error("cannot create", &vault_path)(e),
            });
        }
        let config_path = home.config_path();
        let config_written = write_new_file(&config_path, DEFAULT_CONFIG.as_bytes())?;
        let keychain_account = use_keychain.then(|| key_source::keychain_account(&vault_id));
        Ok(InitReport { vault_path, vault_id, keychain_account, config_path, config_written })
    }

    /// Open the vault in `home`, checking the master key before anything is written.
    pub fn open(home: &Home, source: KeySource, clock: Arc<dyn Clock>, actor: Actor) -> Result<Self> {
        let mut conn = store::open_existing(&home.vault_path())?;
        let vault_id = read_meta_text(&conn, "vault_id", home)?;
        let key_check = read_meta(&conn, "key_check", home)?;
        let key = match source {
            KeySource::Keychain => keychain_key(&vault_id, &key_check)?,
            KeySource::Given(key) => key,
        };
        let sealer = Sealer::new(&key);
        let opened = sealer.open(Binding::KeyCheck { vault_id: &vault_id }, &key_check);
        let authenticated = match opened.as_deref().map(Vec::as_slice) {
            Some(KEY_CHECK_OAUTH_AUTHENTICATED) => None,
            Some(KEY_CHECK_AUTHENTICATED) => Some(Unauthenticated::OAuthRows),
            Some(KEY_CHECK_PLAINTEXT) => Some(Unauthenticated::AllRows),
            _ => return Err(VaultError::WrongMasterKey { vault_id }),
        };
        let keys = Keys::derive(&key, &vault_id);
        store::upgrade(&mut conn)?;
        if let Some(missing) = authenticated {
            integrity::authenticate_existing(&mut conn, &keys, &sealer, &vault_id, missing)?;
        }
        let token_policy = TokenPolicy::load(&home.config_path())?;
        let audit_policy = AuditPolicy::load(&home.config_path())?;
        let home = home.clone();
        let verified = VerifiedMacs::default();
        let kept = KeptRows::new(&conn);
        let mut vault =
            Self { conn, sealer, vault_id, clock, actor, token_policy, audit_policy, keys, verified, kept, home };
        // The long-lived processes keep the audit within `[audit] keep_days`.
        if matches!(actor, Actor::Server | Actor::App) {
            vault.apply_retention()?;
        }
        Ok(vault)
    }

    /// The kept rows, unless a transaction is open (`reading`): its snapshot may be older
    /// than the header the rows are kept under, so a row read in it must not be kept, nor a
    /// kept row answer for it.
    pub(crate) fn kept_rows(&self) -> Option<&KeptRows> {
        self.conn.is_autocommit().then_some(&self.kept)
    }

    /// This vault's id.
    pub fn id(&self) -> &str {
        &self.vault_id
    }

    /// Another connection to this vault file with the same keys, for a thread or task of its
    /// own (team sync) that must not hold the serving connection while it waits on a network.
    pub fn open_another(&self) -> Result<Self> {
        let conn = store::open_existing(&self.home.vault_path())?;
        Ok(Self {
            kept: KeptRows::new(&conn),
            conn,
            sealer: self.sealer.clone(),
            vault_id: self.vault_id.clone(),
            clock: Arc::clone(&self.clock),
            actor: self.actor,
            token_policy: self.token_policy,
            audit_policy: self.audit_policy,
            keys: self.keys.clone(),
            verified: VerifiedMacs::default(),
            home: self.home.clone(),
        })
    }

    /// Run several reads as one read transaction: they see one state of the file, and SQLite
    /// takes and drops its read lock on the WAL index (two system calls) once rather than
    /// once per query. Must not be called inside another transaction.
    pub fn reading<T>(&self, reads: impl FnOnce(&Self) -> T) -> Result<T> {
        // Deferred: the read lock comes with the first read and goes at the commit.
        let transaction = crate::store::Tx::begin(&self.conn, "BEGIN")?;
        let value = reads(self);
        transaction.commit()?;
        Ok(value)
    }

    /// The clock this vault reads time from (the server's approval windows follow it too).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The home this vault was opened from (where the server puts its agent socket).
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The token lifetimes in force.
    pub fn token_policy(&self) -> TokenPolicy {
        self.token_policy
    }

    /// An opaque value that changes whenever anyone commits to the vault (another process,
    /// another `Vault` in this one, or this one), so a front can poll it cheaply and refresh
    /// what it shows. Besides SQLite's `data_version`, it takes in the vault file's and its
    /// write-ahead log's size and modification time (every commit writes one): `data_version`
    /// once stood still here while commits landed (that was the lock bug fixed in
    /// `store::check_exists`), and the files' stamps do not depend on SQLite's bookkeeping.
    pub fn change_marker(&self) -> Result<u64> {
        use std::hash::{Hash, Hasher};
        let data_version: i64 = self.conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        data_version.hash(&mut hasher);
        if let Some(path) = self.conn.path() {
            for file in [path.to_string(), format!("{path}-wal")] {
                let stat = std::fs::metadata(&file).ok();
                stat.map(|m| (m.len(), m.modified().ok())).hash(&mut hasher);
            }
        }
        Ok(hasher.finish())
    }
}

/// The keychain's key for this vault: the main account's, or, when that fails the key check
/// and a rekey left its new key under the second account, that one, which then finishes the
/// rekey's move (the main account takes it, the second goes).
fn keychain_key(vault_id: &str, key_check: &[u8]) -> Result<MasterKey> {
    let opens = |key: &MasterKey| Sealer::new(key).open(Binding::KeyCheck { vault_id }, key_check).is_some();
    let main = key_source::load_from_keychain(vault_id);
    if let Ok(key) = &main
        && opens(key)
    {
        return main;
    }
    match key_source::load_next_from_keychain(vault_id) {
        Ok(Some(next)) if opens(&next) => {
            key_source::store_in_keychain(vault_id, &next)?;
            key_source::delete_next_from_keychain(vault_id)?;
            Ok(next)
        }
        // Neither opens: report the main account's own error (or its wrong key).
        _ => main,
    }
}

fn write_new_vault(path: &std::path::Path, vault_id: &str, key: &MasterKey, clock: &dyn Clock) -> Result<()> {
    let mut conn = store::create(path)?;
    let key_check = Sealer::new(key).seal(Binding::KeyCheck { vault_id }, KEY_CHECK_OAUTH_AUTHENTICATED)?;
    store::write(&mut conn, |tx| {
        let mut insert = tx.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
        insert.execute(params!["vault_id", vault_id.as_bytes()])?;
        insert.execute(params!["key_check", key_check])?;
        insert.execute(params!["created_at", clock.now().unix_millis()])?;
        Ok(())
    })?;
    // Closing checkpoints the WAL into the file, so the hard link carries everything.
    conn.close().map_err(|(_, e)| VaultError::from(e))
}

fn read_meta(conn: &Connection, key: &str, home: &Home) -> Result<Vec<u8>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get::<_, Vec<u8>>(0))
        .optional()?
        .ok_or_else(|| VaultError::Corrupt { path: home.vault_path(), detail: format!("its {key} is missing") })
}

fn read_meta_text(conn: &Connection, key: &str, home: &Home) -> Result<String> {
    String::from_utf8(read_meta(conn, key, home)?)
        .map_err(|_| VaultError::Corrupt { path: home.vault_path(), detail: format!("its {key} is not text") })
}
