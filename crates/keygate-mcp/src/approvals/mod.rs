//! Calls that wait for a person: a `[[tool]]` with `approve = true`, a server's tools matching
//! its `approve` patterns, or any call under a grant (or token) created with `--approve`.
//!
//! A waiting call is listed in `approvals/pending.json` (the CLI's `keygate approvals`, the
//! app), logged once (`keygate serve` prints it), sends the agent progress notifications so it
//! does not time out, and ends on the first of: an answer (`approvals/<id>.decision`), the
//! timeout (a deny), or the agent cancelling (withdrawn). Every end is audited (decision
//! `approval`, status saying who and for how long). "Allow for N minutes" lets the same grant
//! call the same tool without asking until the vault's clock passes it.

mod files;
mod shown;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keygate_vault::{AuditStart, Clock, Decision, Timestamp, TokenGrant};
use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, ProgressNotificationParam};
use tokio_util::sync::CancellationToken;

pub use files::{APPROVALS_DIR, ApprovalDecision, ApprovalError, PendingApproval, decide_approval, pending_approvals};

use crate::config::{Config, ServerEntry};
use crate::gate::Gate;
use crate::progress::Progress;

/// Hex digits in a waiting call's id.
const ID_HEX_LEN: usize = 8;
/// How often a waiting call looks for its answer.
const POLL: Duration = Duration::from_millis(100);
/// How often a waiting call tells the agent it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the agent gets back instead of the call going ahead.
pub(crate) type Stopped = Result<CallToolResult, ErrorData>;

/// The calls waiting now and the windows "allow for N minutes" opened.
#[derive(Debug)]
pub(crate) struct Approvals {
    home: PathBuf,
    gate: Gate,
    clock: Arc<dyn Clock>,
    pending: Mutex<BTreeMap<String, PendingApproval>>,
    /// (grant or token, tool) -> until when it may call without asking.
    windows: Mutex<HashMap<(String, String), Timestamp>>,
}

/// A call about to be held: where its need for approval comes from, and what it is.
pub(crate) struct Hold<'a> {
    pub(crate) config: &'a Config,
    /// The fronted server, for a gateway call.
    pub(crate) server: Option<&'a ServerEntry>,
    pub(crate) grant: &'a TokenGrant,
    pub(crate) tool: &'a str,
    pub(crate) arguments: Option<&'a JsonObject>,
}

impl Approvals {
    pub(crate) fn new(gate: &Gate) -> Self {
        let (home, clock) = gate.with(|vault| (vault.home().dir().to_path_buf(), vault.clock()));
        files::reset(&home);
        Self { home, gate: gate.clone(), clock, pending: Mutex::default(), windows: Mutex::default() }
    }

    /// Let the call go ahead (`Ok`), at once or once a person allows it; or stop it with the
    /// agent's answer. A call the scope, the schema or the rules will refuse anyway is let
    /// through here, so that a person is never asked about it (the call path refuses it).
    pub(crate) async fn hold(
        &self,
        call: Hold<'_>,
        ct: &CancellationToken,
        progress: Option<&Progress>,
    ) -> Result<(), Stopped> {
        if !needs_approval(&call) || !would_go_ahead(&call) {
            return Ok(());
        }
        let who = who(call.grant);
        let key = (who.clone(), call.tool.to_string());
        let now = self.clock.now();
        if lock(&self.windows).get(&key).is_some_and(|until| now < *until) {
            return Ok(());
        }
        let id = new_id().map_err(|e| Ok(tool_error(format!("refused: cannot wait for approval ({e})"))))?;
        let waiting = PendingApproval {
            id: id.clone(),
            tool: call.tool.to_string(),
            grant: who,
            arguments: shown::arguments(call.arguments),
            waiting_since: now.to_string(),
            timeout_secs: call.config.approval_timeout.as_secs(),
        };
        tracing::info!(
            "approval needed: call {id}: {} by {}; answer with `keygate approve {id}` or `keygate deny {id}`",
            waiting.tool,
            waiting.grant
        );
        self.change_pending(|pending| {
            pending.insert(id.clone(), waiting);
        });
        let ended = self.wait(&id, call.config.approval_timeout, ct, progress).await;
        self.change_pending(|pending| {
            pending.remove(&id);
        });
        self.finish(&call, key, ended)
    }

    /// Wait for the answer, the timeout or the agent's cancel, telling the agent as it waits.
    async fn wait(&self, id: &str, timeout: Duration, ct: &CancellationToken, progress: Option<&Progress>) -> Ended {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut next_progress = tokio::time::Instant::now();
        let mut sent = 0u32;
        loop {
            if let Some(answer) = files::take_decision(&self.home, id) {
                return match answer {
                    Ok(decision) => Ended::Answered(decision),
                    Err(problem) => Ended::Unreadable(problem),
                };
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ended::TimedOut(timeout);
            }
            if let Some((token, sink)) = progress
                && now >= next_progress
            {
                sent += 1;
                let message = format!("waiting for your approval: `keygate approve {id}` or the Keygate app");
                let note = ProgressNotificationParam::new(token.clone(), f64::from(sent)).with_message(message);
                sink.notify(note).await;
                next_progress = now + PROGRESS_EVERY;
            }
            tokio::select! {
                () = ct.cancelled() => return Ended::Withdrawn,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Audit how the wait ended and answer: `Ok` lets the call go ahead.
    fn finish(&self, call: &Hold<'_>, key: (String, String), ended: Ended) -> Result<(), Stopped> {
        let status = ended.status();
        let start = AuditStart {
            token_id: Some(&call.grant.token_id),
            server: call.server.map(|s| s.name.as_str()),
            tool: call.tool,
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Approval,
            status: Some(&status),
        };
        if let Err(e) = self.gate.with(|vault| vault.begin_audit(&start)) {
            return Err(Ok(tool_error(format!(
                "refused: the approval could not be audited ({e}), so the call was not made"
            ))));
        }
        match ended {
            Ended::Answered(ApprovalDecision { allow: true, for_secs, .. }) => {
                if let Some(secs) = for_secs {
                    let until = self.clock.now().plus(Duration::from_secs(secs));
                    lock(&self.windows).insert(key, until);
                }
                Ok(())
            }
            Ended::Answered(ApprovalDecision { by, .. }) => {
                Err(Ok(tool_error(format!("refused: the person denied this call (answered in the {by})"))))
            }
            Ended::TimedOut(after) => Err(Ok(tool_error(format!(
                "refused: nobody approved this call within {}s (ask the person to watch for Keygate's prompt)",
                after.as_secs()
            )))),
            Ended::Unreadable(problem) => Err(Ok(tool_error(format!("refused: {problem}")))),
            Ended::Withdrawn => Err(Err(ErrorData::internal_error("cancelled", None))),
        }
    }

    fn change_pending(&self, change: impl FnOnce(&mut BTreeMap<String, PendingApproval>)) {
        let mut pending = lock(&self.pending);
        change(&mut pending);
        let list: Vec<PendingApproval> = pending.values().cloned().collect();
        if let Err(e) = files::write_pending(&self.home, &list) {
            tracing::warn!(error = %e, "cannot write the list of calls waiting for approval");
        }
    }
}

/// How a wait ended.
enum Ended {
    Answered(ApprovalDecision),
    Unreadable(String),
    TimedOut(Duration),
    Withdrawn,
}

impl Ended {
    /// The audit row's status: who answered, and for how long.
    fn status(&self) -> String {
        match self {
            Ended::Answered(ApprovalDecision { allow: true, for_secs: Some(secs), by }) => {
                format!("approved by {by} for {secs}s")
            }
            Ended::Answered(ApprovalDecision { allow: true, by, .. }) => format!("approved by {by}"),
            Ended::Answered(ApprovalDecision { by, .. }) => format!("denied by {by}"),
            Ended::Unreadable(_) => "denied: unreadable answer".into(),
            Ended::TimedOut(after) => format!("denied: no answer within {}s", after.as_secs()),
            Ended::Withdrawn => "withdrawn: the agent cancelled".into(),
        }
    }
}

fn needs_approval(call: &Hold<'_>) -> bool {
    let by_grant = crate::rules::requires_approval(call.grant);
    let by_tool = match call.server {
        Some(server) => server.needs_approval(call.tool),
        None => call.config.tool(call.tool).is_some_and(|t| t.approve),
    };
    by_grant || by_tool
}

/// Whether the checks after this one (scope, schema, rules) would let the call through.
fn would_go_ahead(call: &Hold<'_>) -> bool {
    if !call.grant.allows(call.tool) {
        return false;
    }
    let checked = match (call.server, call.config.tool(call.tool)) {
        (None, Some(tool)) => match tool.arguments.prepare(call.arguments.cloned()) {
            Ok(arguments) => crate::rules::check_rules(call.grant, call.tool, Some(&arguments)),
            Err(_) => return false,
        },
        (None, None) => return false,
        (Some(_), _) => crate::rules::check_rules(call.grant, call.tool, call.arguments),
    };
    checked.is_ok()
}

/// The grant's name, or `token <id>` for a plain token.
fn who(grant: &TokenGrant) -> String {
    match &grant.grant {
        Some(name) => name.clone(),
        None => format!("token {}", grant.token_id),
    }
}

fn new_id() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; ID_HEX_LEN / 2];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}
