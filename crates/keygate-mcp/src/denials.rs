//! Refused requests (denied calls, failed authentications) audited in aggregate, so whoever
//! sends them cannot grow the vault one row per request.
//!
//! The first refusal of a kind (same token, server and reason) in a window is written at once,
//! so it shows in `keygate audit` straight away; the rest of that window are counted here and
//! written as one row carrying the count when the window ends (or the server stops). A window
//! therefore costs at most two rows, whatever the rate. The kinds are bounded: tokens and
//! servers exist in the vault and config, reasons are a fixed set; tool names are not part of
//! the kind (an agent chooses them), the row keeps one as a sample. Allowed calls never pass
//! here: each keeps its own row, committed before anything goes upstream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use keygate_vault::{AuditStart, Decision, Vault};
use tokio_util::sync::CancellationToken;

use crate::gate::Gate;

/// How long refusals of one kind are gathered into one row.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// How often ended windows are written.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// The tool column of a failed authentication (no tool was reached).
pub(crate) const AUTH_TOOL: &str = "(authentication)";

/// What makes refusals the same kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Kind {
    token_id: Option<String>,
    server: Option<String>,
    status: String,
}

/// One window of a kind: when it opened, and the refusals counted since its first row.
#[derive(Debug)]
struct Window {
    opened: Instant,
    counted: u32,
    /// The first counted refusal's tool and credential, kept for the summary row.
    sample: Option<(String, Option<String>)>,
}

/// A summary row waiting to be written.
struct Summary {
    kind: Kind,
    tool: String,
    credential: Option<String>,
    count: u32,
}

/// The open windows, shared by the access layer and every call.
#[derive(Debug)]
pub(crate) struct Denials {
    gate: Gate,
    windows: Mutex<HashMap<Kind, Window>>,
}

impl Denials {
    pub(crate) fn new(gate: Gate) -> Self {
        Self { gate, windows: Mutex::new(HashMap::new()) }
    }

    /// Write ended windows every few seconds until `stop`, then everything still counted.
    pub(crate) fn spawn_sweeper(self: &std::sync::Arc<Self>, stop: CancellationToken) {
        let denials = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => denials.flush(false),
                    () = stop.cancelled() => break,
                }
            }
        });
    }

    /// Record a refusal; the vault is locked only if a row is due (a flood of refusals
    /// within a window is counted in memory and never waits for the vault).
    pub(crate) fn record_now(&self, start: &AuditStart<'_>) {
        if let Some(ended) = self.count(start) {
            self.gate.with(|vault| write_rows(vault, start, ended.as_ref()));
        }
    }

    /// Record a refusal with the vault already locked (the caller decided under that lock).
    pub(crate) fn record(&self, vault: &mut Vault, start: &AuditStart<'_>) {
        if let Some(ended) = self.count(start) {
            write_rows(vault, start, ended.as_ref());
        }
    }

    /// Count a refusal in its window. `None`: counted, nothing to write now; `Some`: a new
    /// window opened, so this refusal gets its row (after the ended window's summary, if any).
    fn count(&self, start: &AuditStart<'_>) -> Option<Option<Summary>> {
        debug_assert_eq!(start.decision, Decision::Denied);
        let kind = Kind {
            token_id: start.token_id.map(str::to_owned),
            server: start.server.map(str::to_owned),
            status: start.status.unwrap_or("denied").to_owned(),
        };
        let ended = {
            let mut windows = lock(&self.windows);
            let now = Instant::now();
            match windows.get_mut(&kind) {
                Some(window) if now.duration_since(window.opened) < WINDOW => {
                    window.counted = window.counted.saturating_add(1);
                    if window.sample.is_none() {
                        window.sample = Some((start.tool.to_owned(), start.credential.map(str::to_owned)));
                    }
                    return None;
                }
                _ => {
                    let fresh = Window { opened: now, counted: 0, sample: None };
                    windows.insert(kind.clone(), fresh).and_then(|old| summary(kind, old))
                }
            }
        };
        Some(ended)
    }

    /// Write the windows that ended (every window if `all`, as the server stops).
    pub(crate) fn flush(&self, all: bool) {
        let summaries: Vec<Summary> = {
            let mut windows = lock(&self.windows);
            let now = Instant::now();
            let ended: Vec<Kind> = windows
                .iter()
                .filter(|(_, w)| all || now.duration_since(w.opened) >= WINDOW)
                .map(|(kind, _)| kind.clone())
                .collect();
            ended.into_iter().filter_map(|kind| windows.remove(&kind).and_then(|w| summary(kind, w))).collect()
        };
        if summaries.is_empty() {
            return;
        }
        self.gate.with(|vault| summaries.iter().for_each(|s| write_summary(vault, s)));
    }
}

fn summary(kind: Kind, window: Window) -> Option<Summary> {
    let (tool, credential) = window.sample?;
    (window.counted > 0).then_some(Summary { kind, tool, credential, count: window.counted })
}

/// An ended window's summary (if any), then the row of the refusal that opened a new one.
fn write_rows(vault: &mut Vault, start: &AuditStart<'_>, ended: Option<&Summary>) {
    if let Some(summary) = ended {
        write_summary(vault, summary);
    }
    if let Err(e) = vault.record_denials(start, 1) {
        tracing::error!(error = %e, "could not audit a refused request");
    }
}

fn write_summary(vault: &mut Vault, summary: &Summary) {
    let start = AuditStart {
        token_id: summary.kind.token_id.as_deref(),
        server: summary.kind.server.as_deref(),
        tool: &summary.tool,
        credential: summary.credential.as_deref(),
        credential_version: None,
        team_version: None,
        decision: Decision::Denied,
        status: Some(&summary.kind.status),
    };
    if let Err(e) = vault.record_denials(&start, summary.count) {
        tracing::error!(error = %e, count = summary.count, "could not audit aggregated refusals");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn denial<'a>(token: &'a str, tool: &'a str, status: &'a str) -> AuditStart<'a> {
        AuditStart {
            token_id: Some(token),
            server: None,
            tool,
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Denied,
            status: Some(status),
        }
    }

    #[test]
    fn one_row_per_kind_then_one_summary_with_the_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = crate::test_vault::open_new(dir.path());
        let gate = Gate::new(vault);
        let denials = Denials::new(gate.clone());
        for i in 0..500 {
            denials.record_now(&denial("tok1", &format!("name{i}"), "unknown_tool"));
        }
        denials.record_now(&denial("tok1", "x", "out_of_scope"));
        denials.record_now(&denial("tok2", "y", "unknown_tool"));
        let rows = gate.with(|v| v.audit_log()).expect("log");
        assert_eq!(rows.len(), 3, "{rows:?}");
        denials.flush(false);
        assert_eq!(gate.with(|v| v.audit_log()).expect("log").len(), 3, "a window still open was written");
        denials.flush(true);
        let rows = gate.with(|v| v.audit_log()).expect("log");
        assert_eq!(rows.len(), 4, "{rows:?}");
        let summary = &rows[3];
        assert_eq!((summary.count, summary.tool.as_str()), (499, "name1"));
        assert_eq!(rows.iter().map(|r| r.count).sum::<i64>(), 502);
    }
}
