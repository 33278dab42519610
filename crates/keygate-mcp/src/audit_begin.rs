//! The audit rows written before calls go upstream, committed together when calls arrive
//! together (group commit).
//!
//! Every call's row must be committed before anything leaves Keygate, and a call whose row
//! cannot be committed is refused. One commit per row made the vault's write lock and its
//! commit the busiest thing at 8 connections; here a call that finds no commit under way
//! commits its own row at once (alone, as before: no wait, no task hop), and calls arriving
//! meanwhile queue theirs and wait. When that commit ends, everything queued is committed in
//! one transaction by a task that carries on until the queue is empty. Each call still waits
//! for the commit that holds *its* row and learns whether it succeeded.

use std::sync::{Arc, Mutex, PoisonError};

use keygate_vault::{AuditId, AuditStart, Decision};
use tokio::sync::oneshot;

use crate::gate::Gate;

/// Rows committed in one transaction at most.
const MAX_BATCH: usize = 64;

/// The audit row of an allowed call, owned so it can wait in the queue.
#[derive(Debug)]
pub(crate) struct AllowedCall {
    pub(crate) token_id: String,
    pub(crate) server: Option<String>,
    pub(crate) tool: String,
    pub(crate) credential: Option<String>,
    pub(crate) credential_version: Option<i64>,
    /// For a team credential, the team's version that local version holds.
    pub(crate) team_version: Option<i64>,
}

impl AllowedCall {
    fn start(&self) -> AuditStart<'_> {
        AuditStart {
            token_id: Some(&self.token_id),
            server: self.server.as_deref(),
            tool: &self.tool,
            credential: self.credential.as_deref(),
            credential_version: self.credential_version,
            team_version: self.team_version,
            decision: Decision::Allowed,
            status: None,
        }
    }
}

/// Why a row was not committed, for the refusal the agent gets.
pub(crate) type NotAudited = String;

type Reply = oneshot::Sender<Result<AuditId, NotAudited>>;

enum Turn {
    /// No commit under way: commit this row now.
    Lead(AllowedCall),
    /// Queued: the answer comes with the commit that holds the row.
    Wait(oneshot::Receiver<Result<AuditId, NotAudited>>),
}

#[derive(Default)]
struct Queue {
    /// A commit is under way (inline or in the draining task).
    committing: bool,
    waiting: Vec<(AllowedCall, Reply)>,
}

/// Shared by every call; cloning shares the queue.
#[derive(Clone)]
pub(crate) struct AuditBegins {
    gate: Gate,
    queue: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for AuditBegins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditBegins").finish_non_exhaustive()
    }
}

impl AuditBegins {
    pub(crate) fn new(gate: Gate) -> Self {
        Self { gate, queue: Arc::default() }
    }

    /// Commit `call`'s audit row (with others' if they arrive together); its id once
    /// committed, or why it was not.
    pub(crate) async fn begin(&self, call: AllowedCall) -> Result<AuditId, NotAudited> {
        let call = match self.join_or_lead(call) {
            Turn::Lead(call) => call,
            Turn::Wait(answer) => return answer.await.unwrap_or_else(|_| Err("the audit writer stopped".into())),
        };
        let own = self.commit(std::slice::from_ref(&call)).map(|ids| ids[0]);
        self.hand_on();
        own
    }

    /// Commit now if no commit is under way, else queue the row.
    fn join_or_lead(&self, call: AllowedCall) -> Turn {
        let mut queue = self.lock();
        if !queue.committing {
            queue.committing = true;
            return Turn::Lead(call);
        }
        let (reply, answer) = oneshot::channel();
        queue.waiting.push((call, reply));
        Turn::Wait(answer)
    }

    /// After a commit: rows that queued meanwhile go to a task that commits until the queue
    /// is empty; with none, the next call commits inline again.
    fn hand_on(&self) {
        let mut queue = self.lock();
        if queue.waiting.is_empty() {
            queue.committing = false;
            return;
        }
        drop(queue);
        let this = self.clone();
        tokio::spawn(async move { this.drain() });
    }

    fn drain(&self) {
        loop {
            let batch: Vec<(AllowedCall, Reply)> = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.committing = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let (calls, replies): (Vec<AllowedCall>, Vec<Reply>) = batch.into_iter().unzip();
            let committed = self.commit(&calls);
            for (index, reply) in replies.into_iter().enumerate() {
                let _ = reply.send(committed.as_ref().map(|ids| ids[index]).map_err(Clone::clone));
            }
        }
    }

    /// One transaction for `calls`' rows: all committed, or none.
    fn commit(&self, calls: &[AllowedCall]) -> Result<Vec<AuditId>, NotAudited> {
        let starts: Vec<AuditStart<'_>> = calls.iter().map(AllowedCall::start).collect();
        self.gate.with(|vault| vault.begin_audits(&starts)).map_err(|e| e.to_string())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use crate::test_vault::with_token as vault_with_token;

    fn row(token_id: &str, tool: String) -> AllowedCall {
        AllowedCall {
            token_id: token_id.to_string(),
            server: None,
            tool,
            credential: Some("c".into()),
            credential_version: Some(1),
            team_version: None,
        }
    }

    /// Hold the vault from another thread until the returned sender is used or dropped.
    fn hold(gate: &Gate) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (held_tx, held) = std::sync::mpsc::channel::<()>();
        let gate = gate.clone();
        let holder = std::thread::spawn(move || {
            gate.with(|_| {
                let _ = held_tx.send(());
                let _ = released.recv();
            })
        });
        held.recv().expect("vault held");
        (release, holder)
    }

    /// Start `count` calls while the vault is held, so they queue behind the first.
    async fn queued_calls(
        begins: &AuditBegins,
        gate: &Gate,
        token_id: &str,
        count: usize,
    ) -> Vec<Result<AuditId, NotAudited>> {
        let (release, holder) = hold(gate);
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..count {
            let (begins, call) = (begins.clone(), row(token_id, format!("tool_{i}")));
            calls.spawn(async move { begins.begin(call).await });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(begins.lock().waiting.len() >= count - 2, "the calls did not queue behind the held commit");
        release.send(()).expect("release");
        holder.join().expect("holder");
        calls.join_all().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_arriving_together_share_commits_and_each_gets_its_own_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (vault, token_id) = vault_with_token(dir.path());
        let gate = Gate::new(vault);
        let begins = AuditBegins::new(gate.clone());
        let results = queued_calls(&begins, &gate, &token_id, 40).await;
        let ids: std::collections::HashSet<String> =
            results.into_iter().map(|r| format!("{:?}", r.expect("committed"))).collect();
        assert_eq!(ids.len(), 40, "two calls got one row");

        let log = gate.with(|vault| vault.audit_log()).expect("audit");
        let mut tools: Vec<&str> = log.iter().map(|row| row.tool.as_str()).collect();
        tools.sort_unstable();
        let mut expected: Vec<String> = (0..40).map(|i| format!("tool_{i}")).collect();
        expected.sort_unstable();
        assert_eq!(tools, expected, "every call's row, once");
        assert!(log.iter().all(|row| row.decision == "allowed" && row.status.is_none()));
        let report = gate.with(|vault| vault.verify_audit()).expect("verify");
        assert!(report.is_intact(), "the chain does not hold: {report:?}");
        // With nothing under way, the next call commits inline at once.
        begins.begin(row(&token_id, "after".into())).await.expect("inline commit");
        assert!(!begins.lock().committing, "the queue stayed busy");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_that_fails_refuses_every_call_in_it_and_writes_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (vault, token_id) = vault_with_token(dir.path());
        let gate = Gate::new(vault);
        let begins = AuditBegins::new(gate.clone());
        let blocker = rusqlite::Connection::open(dir.path().join("vault.db")).expect("open file");
        blocker
            .execute_batch(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit off'); END;",
            )
            .expect("trigger");
        let results = queued_calls(&begins, &gate, &token_id, 10).await;
        for result in &results {
            assert!(result.as_ref().is_err_and(|e| e.contains("audit off")), "{result:?}");
        }
        assert!(gate.with(|vault| vault.audit_log()).expect("audit").is_empty());

        blocker.execute_batch("DROP TRIGGER no_audit;").expect("drop trigger");
        begins.begin(row(&token_id, "later".into())).await.expect("the vault takes rows again");
    }
}
