//! Originals of agent client configs Keygate edited. Before each write to a client's config
//! (`keygate client connect|disconnect`), the file as it was is sealed here, bound to its row:
//! it may hold other servers' plaintext keys, so it is never kept in the clear. Beside it, a
//! record (opaque JSON, nothing secret) of what Keygate wrote, to recognise its entry later.

use std::fmt;

use rusqlite::{OptionalExtension, params};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::{Result, VaultError};
use crate::random::random_hex;
use crate::seal::Binding;
use crate::store;
use crate::vault::Vault;

/// The largest original kept, in bytes (client configs are small; `~/.claude.json` grows).
pub const MAX_CLIENT_CONFIG_LEN: usize = 16 * 1024 * 1024;

/// One write Keygate is about to make to a client's config.
pub struct ClientConfigWrite<'a> {
    /// The client's id (`cursor`, `claude-code`, ...).
    pub client: &'a str,
    /// The config file.
    pub path: &'a str,
    /// `connect` or `disconnect`.
    pub action: &'a str,
    /// What Keygate writes into the file (JSON; nothing secret).
    pub record: &'a str,
    /// The file's text before the write; `None` if it does not exist yet.
    pub original: Option<&'a SecretString>,
}

impl fmt::Debug for ClientConfigWrite<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfigWrite")
            .field("client", &self.client)
            .field("path", &self.path)
            .field("action", &self.action)
            .field("original", &self.original.map(|_| "[sealed]"))
            .finish()
    }
}

/// A kept write, without the original's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientConfigEntry {
    /// The row's id (to open its original).
    pub id: String,
    /// The client's id.
    pub client: String,
    /// The config file.
    pub path: String,
    /// `connect` or `disconnect`.
    pub action: String,
    /// What Keygate wrote (JSON).
    pub record: String,
    /// Whether the file existed before the write (false: Keygate created it).
    pub had_original: bool,
    /// When.
    pub at: Timestamp,
}

impl Vault {
    /// Seal and keep `write.original` with its record, before Keygate writes the file. Returns
    /// the row's id.
    pub fn keep_client_config(&mut self, write: &ClientConfigWrite<'_>) -> Result<String> {
        if !matches!(write.action, "connect" | "disconnect") {
            return Err(VaultError::InvalidValue {
                reason: format!("unknown client config action {:?}", write.action),
            });
        }
        let id = random_hex(8)?;
        let sealed = match write.original {
            Some(text) if text.expose_secret().len() > MAX_CLIENT_CONFIG_LEN => {
                return Err(VaultError::InvalidValue {
                    reason: format!("{} is larger than {MAX_CLIENT_CONFIG_LEN} bytes", write.path),
                });
            }
            Some(text) => Some(
                self.sealer
                    .seal(self.client_config_binding(&id, write.client, write.path), text.expose_secret().as_bytes())?,
            ),
            None => None,
        };
        let now = self.clock.now();
        store::write(&mut self.conn, |tx| {
            tx.execute(
                "INSERT INTO client_config (id, client, path, action, record, sealed, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, write.client, write.path, write.action, write.record, sealed, now.unix_millis()],
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// The latest write kept for `client`'s file at `path`, if any.
    pub fn last_client_config(&self, client: &str, path: &str) -> Result<Option<ClientConfigEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{ENTRY_QUERY} WHERE client = ?1 AND path = ?2 ORDER BY at DESC, rowid DESC LIMIT 1"
        ))?;
        Ok(stmt.query_row([client, path], entry_from_row).optional()?)
    }

    /// Every kept write, oldest first.
    pub fn client_config_history(&self) -> Result<Vec<ClientConfigEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!("{ENTRY_QUERY} ORDER BY at, rowid"))?;
        let rows = stmt.query_map([], entry_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Open the original kept by write `id` (`None`: the file did not exist before it).
    pub fn open_client_config(&self, id: &str) -> Result<Option<SecretString>> {
        let mut stmt = self.conn.prepare_cached("SELECT client, path, sealed FROM client_config WHERE id = ?1")?;
        let (client, path, sealed): (String, String, Option<Vec<u8>>) = stmt
            .query_row([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?
            .ok_or_else(|| VaultError::ClientConfigNotFound { id: id.to_string() })?;
        let Some(sealed) = sealed else { return Ok(None) };
        let cannot_open = || VaultError::CannotOpenClientConfig { id: id.to_string() };
        let plaintext =
            self.sealer.open(self.client_config_binding(id, &client, &path), &sealed).ok_or_else(cannot_open)?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| cannot_open())?;
        Ok(Some(SecretString::from(text)))
    }

    fn client_config_binding<'a>(&'a self, id: &'a str, client: &'a str, path: &'a str) -> Binding<'a> {
        Binding::ClientConfig { vault_id: &self.vault_id, id, client, path }
    }
}

const ENTRY_QUERY: &str = "SELECT id, client, path, action, record, sealed IS NOT NULL, at FROM client_config";

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClientConfigEntry> {
    Ok(ClientConfigEntry {
        id: row.get(0)?,
        client: row.get(1)?,
        path: row.get(2)?,
        action: row.get(3)?,
        record: row.get(4)?,
        had_original: row.get(5)?,
        at: Timestamp::from_unix_millis(row.get(6)?),
    })
}
