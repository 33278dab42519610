//! Hash chains over the audit and the rotation log. Each row's `mac` is an HMAC of the
//! previous row's `mac` and the row's own content, under a key derived from the master key,
//! so a row edited, deleted, reordered or inserted without that key breaks the chain from
//! that row on. Retention replaces the oldest rows by one sealed checkpoint row that carries
//! the last pruned row's `mac` forward.

use std::fmt;

use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};
use serde::Serialize;

use crate::error::Result;
use crate::mac::{MAC_LEN, RowMac};

/// The `prev` of the first row of a chain.
pub(crate) const GENESIS: [u8; MAC_LEN] = [0; MAC_LEN];

/// The result of checking a chain: how many rows held, and the first that did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Rows checked and found intact (a checkpoint counts as one).
    pub rows: u64,
    /// The `mac` of the newest row (hex), to anchor the chain elsewhere; `None` when empty.
    pub head: Option<String>,
    /// The first broken row, if any.
    pub broken: Option<ChainBreak>,
}

/// Where and why a chain broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The row id at which the chain stops holding.
    pub row: i64,
    /// Why, in words.
    pub why: String,
}

impl ChainReport {
    /// Whether every row held.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

impl fmt::Display for ChainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.broken {
            None => write!(f, "ok, {} rows", self.rows),
            Some(b) => write!(f, "broken at row {}: {} ({} rows before it intact)", b.row, b.why, self.rows),
        }
    }
}

/// One row as the verifier sees it.
pub(crate) struct Link {
    pub id: i64,
    /// The stored chain MAC (for a checkpoint: the carried MAC of the last pruned row).
    pub mac: Option<Vec<u8>>,
    /// `Some(seal is valid)` for a checkpoint row, `None` for an ordinary row.
    pub checkpoint: Option<bool>,
    /// The row's chained content, in the table's order.
    pub content: Vec<Value>,
    /// For rows with a second MAC over what is written later (the audit's outcome): whether
    /// it verifies against the stored chain MAC. Always true for the rotation log.
    pub sealed: bool,
}

/// A column as an owned value. rusqlite's own conversion panics on text that is not UTF-8,
/// which a damaged or edited file can hold; such text is kept as its bytes (a blob), so the
/// row fails its MAC and is reported, never a panic.
pub(crate) fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::Text(text.to_string()),
            Err(_) => Value::Blob(bytes.to_vec()),
        },
        other => other.into(),
    }
}

/// The chain MAC of a row: `domain`, the previous row's MAC, then the row's content.
pub(crate) fn link_mac(key: &RowMac, domain: &str, prev: &[u8; MAC_LEN], content: &[Value]) -> [u8; MAC_LEN] {
    let mut mac = key.start(domain);
    mac.bytes(prev);
    for value in content {
        mac.value(ValueRef::from(value));
    }
    mac.finish()
}

/// The newest row's id and `mac` in `table` (`GENESIS` and 0 for an empty table). A row
/// whose `mac` is missing or malformed yields `GENESIS` chained on, and verify reports it.
pub(crate) fn head(conn: &Connection, table: &str) -> Result<(i64, [u8; MAC_LEN])> {
    let sql = format!("SELECT id, mac FROM {table} ORDER BY id DESC LIMIT 1");
    let row: Option<(i64, Option<Vec<u8>>)> = rusqlite::OptionalExtension::optional(
        conn.prepare_cached(&sql)?.query_row([], |r| Ok((r.get(0)?, r.get(1)?))),
    )?;
    Ok(match row {
        None => (0, GENESIS),
        Some((id, mac)) => (id, mac.and_then(|m| m.try_into().ok()).unwrap_or(GENESIS)),
    })
}

/// Walks a chain's rows, oldest first, and keeps the first that does not hold.
pub(crate) struct Verifier<'a> {
    key: &'a RowMac,
    domain: &'a str,
    prev: [u8; MAC_LEN],
    expect_id: i64,
    report: ChainReport,
}

impl<'a> Verifier<'a> {
    pub fn new(key: &'a RowMac, domain: &'a str) -> Self {
        let report = ChainReport { rows: 0, head: None, broken: None };
        Self { key, domain, prev: GENESIS, expect_id: 1, report }
    }

    /// Check the next row; false once the chain is broken (the rest need not be read).
    pub fn push(&mut self, link: Link) -> bool {
        match self.check(&link) {
            Ok(mac) => {
                (self.prev, self.expect_id) = (mac, link.id + 1);
                self.report.rows += 1;
                self.report.head = Some(hex::encode(mac));
                true
            }
            Err(why) => {
                self.report.broken = Some(ChainBreak { row: link.id, why });
                false
            }
        }
    }

    pub fn finish(self) -> ChainReport {
        self.report
    }

    fn check(&mut self, link: &Link) -> std::result::Result<[u8; MAC_LEN], String> {
        let stored: Option<[u8; MAC_LEN]> = link.mac.as_deref().and_then(|m| m.try_into().ok());
        if let Some(seal_ok) = link.checkpoint {
            if self.report.rows > 0 {
                return Err("a checkpoint row in the middle of the chain".into());
            }
            return stored
                .filter(|_| seal_ok)
                .ok_or_else(|| "the checkpoint's seal does not verify: it was edited or forged".into());
        }
        if link.id > self.expect_id {
            return Err(match link.id - self.expect_id {
                1 => format!("row {} before it is missing (deleted)", self.expect_id),
                _ => format!("rows {} to {} before it are missing (deleted)", self.expect_id, link.id - 1),
            });
        }
        if link.id < self.expect_id {
            return Err("it is out of order (its id repeats or goes back)".into());
        }
        let expected = link_mac(self.key, self.domain, &self.prev, &link.content);
        let mac =
            stored.filter(|m| bool::from(subtle::ConstantTimeEq::ct_eq(&m[..], &expected[..]))).ok_or_else(|| {
                "its MAC does not match its content and the row before it: it was edited, inserted or moved, \
             or the row before it was replaced"
                    .to_string()
            })?;
        if !link.sealed {
            return Err("its outcome (status, duration) was changed after the call".into());
        }
        Ok(mac)
    }
}
