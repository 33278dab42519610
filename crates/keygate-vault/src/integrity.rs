//! The vault's integrity as a whole: the one-time authentication of a vault from before row
//! MACs, and `verify_rows`, the findings `keygate doctor` and the app show.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::mac::Keys;
use crate::rows::{self, RowFinding};
use crate::seal::{Binding, Sealer};
use crate::vault::{KEY_CHECK_OAUTH_AUTHENTICATED, Vault};
use crate::{audit_chain, rotation, store};

/// What a vault opened with an older key check has not authenticated yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unauthenticated {
    /// Key check v1: nothing (a vault from before row MACs).
    AllRows,
    /// Key check v2: the OAuth rows (from before they carried MACs).
    OAuthRows,
}

/// MAC the decisive rows not authenticated yet (and for a v1 vault chain the audit and the
/// rotation log), and only then replace the key check by the one that says "rows and OAuth
/// rows authenticated", all in one transaction. Runs once, when a vault written before those
/// MACs is first opened with its master key: its rows are trusted as they are then (nothing
/// else can be known about them). Rows authenticated already are never re-MAC'd here.
pub(crate) fn authenticate_existing(
    conn: &mut Connection,
    keys: &Keys,
    sealer: &Sealer,
    vault_id: &str,
    missing: Unauthenticated,
) -> Result<()> {
    let binding = Binding::KeyCheck { vault_id };
    let key_check = sealer.seal(binding, KEY_CHECK_OAUTH_AUTHENTICATED)?;
    store::write(conn, |tx| {
        // Another process may have done it since this one read the key check.
        let current: Vec<u8> = tx.query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| r.get(0))?;
        if sealer.open(binding, &current).is_some_and(|check| check.as_slice() == KEY_CHECK_OAUTH_AUTHENTICATED) {
            return Ok(());
        }
        if missing == Unauthenticated::AllRows {
            for spec in rows::FIRST {
                spec.reseal_matching(tx, &keys.rows, "", &[])?;
            }
            audit_chain::chain_existing(tx, &keys.audit)?;
            rotation::chain_existing(tx, &keys.rotation)?;
        }
        for spec in rows::OAUTH {
            spec.reseal_matching(tx, &keys.rows, "", &[])?;
        }
        tx.execute("UPDATE meta SET value = ?1 WHERE key = 'key_check'", params![key_check])?;
        Ok(())
    })
}

fn finding(table: &str, row: String, problem: impl Into<String>) -> RowFinding {
    RowFinding { table: table.to_string(), row, problem: problem.into() }
}

/// Credentials against the rotation log: the log's last word on each name must match the
/// credential table (a row MAC cannot show a row deleted, or replaced by an older copy).
fn credential_history(conn: &Connection) -> Result<Vec<RowFinding>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT l.credential, l.action, l.to_version, c.current_version FROM rotation_log l
         LEFT JOIN credential c ON c.name = l.credential
         WHERE l.id = (SELECT max(id) FROM rotation_log WHERE credential = l.credential
                       AND action IN ({CURRENT_SETTING}))",
        CURRENT_SETTING = rotation::CURRENT_SETTING
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        let (action, logged, current): (String, Option<i64>, Option<i64>) = (r.get(1)?, r.get(2)?, r.get(3)?);
        let row = format!("credential {}", rows::printable(&name));
        let problem = match (action.as_str(), current) {
            ("removed", Some(_)) => Some("the rotation log says it was removed, but it is there".to_string()),
            ("removed", None) => None,
            (_, None) => Some("the rotation log says it exists, but it is missing (deleted)".to_string()),
            (_, Some(v)) if Some(v) != logged => Some(format!(
                "it is at version {v}, but the rotation log's last entry put it at {}: rolled back or replaced",
                logged.map_or("none".into(), |l| l.to_string())
            )),
            _ => None,
        };
        out.extend(problem.map(|p| finding("credential", row, p)));
    }
    let mut stmt = conn.prepare(
        "SELECT name FROM credential c WHERE NOT EXISTS (SELECT 1 FROM rotation_log l WHERE l.credential = c.name)",
    )?;
    for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let row = format!("credential {}", rows::printable(&name?));
        out.push(finding("credential", row, "it has no entry in the rotation log: added without Keygate"));
    }
    Ok(out)
}

impl Vault {
    /// Every problem with the vault's decisive rows: rows whose MAC does not verify (tokens,
    /// grants, credentials, tool pins, the OAuth server's rows), credentials that disagree with the rotation log, and
    /// SQLite's own structural check. Empty when all is well. The chains are checked by
    /// `verify_audit` and `verify_rotation_log`.
    pub fn verify_rows(&self) -> Result<Vec<RowFinding>> {
        let mut out = Vec::new();
        let check: Option<String> = self.conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).optional()?;
        if let Some(problem) = check.filter(|c| c != "ok") {
            out.push(finding(
                "sqlite",
                "vault.db".into(),
                format!("SQLite's check failed: {}", rows::printable(&problem)),
            ));
        }
        for spec in rows::ALL {
            out.extend(spec.findings(&self.conn, &self.keys.rows)?);
        }
        out.extend(credential_history(&self.conn)?);
        Ok(out)
    }
}
