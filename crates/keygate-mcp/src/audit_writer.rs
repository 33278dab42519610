//! The after-call audit writes, off the request path. A finished call queues its outcome and
//! answers the agent; one background writer commits everything queued in one transaction, so
//! under load many calls share a commit. (The row written *before* a call is not handled
//! here: it must be committed before anything goes upstream, see `call.rs`.)
//!
//! Nothing is dropped: a full queue makes the finishing call wait for room, and a flush, which
//! the server runs when it stops, waits until every outcome queued before it is committed.
//! Outcomes the vault cannot take for a while (another process holds its lock past the busy
//! timeout, the disk is full, the files are read-only) are kept and retried, so the row of a
//! call that was made still gets its status once the vault can be written again.

use keygate_vault::{CallOutcome, VaultError};
use tokio::sync::{mpsc, oneshot};

use crate::gate::Gate;

/// Outcomes waiting at most; beyond this, finishing calls wait (backpressure).
const QUEUE_CAPACITY: usize = 1024;
/// Outcomes committed in one transaction at most.
const MAX_BATCH: usize = 256;
/// How long the writer waits for more outcomes before committing what it has. Without it, an
/// agent calling in a row gets one commit per call, each taking the vault lock and a core
/// just as its next call starts; with it, calls share commits. A flush waits at most this.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
/// How long the writer waits, with nothing new arriving, before retrying outcomes the vault
/// could not take.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// Outcomes kept for a retry at most; past this the oldest are given up (and logged).
const MAX_RETAINED: usize = QUEUE_CAPACITY;

enum Message {
    Outcome(CallOutcome),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The handle calls queue their outcomes on. Cloning shares the one writer.
#[derive(Debug, Clone)]
pub(crate) struct AuditWriter {
    queue: mpsc::Sender<Message>,
    gate: Gate,
}

impl AuditWriter {
    /// Start the background writer on the current tokio runtime.
    pub(crate) fn start(gate: Gate) -> Self {
        Self::with_capacity(gate, QUEUE_CAPACITY)
    }

    fn with_capacity(gate: Gate, capacity: usize) -> Self {
        let (queue, inbox) = mpsc::channel(capacity);
        // A batch never holds more than the queue does, so a full queue still holds callers back.
        tokio::spawn(write_batches(gate.clone(), inbox, MAX_BATCH.min(capacity)));
        Self { queue, gate }
    }

    /// Queue a finished call's outcome, waiting while the queue is full.
    pub(crate) async fn finish(&self, outcome: CallOutcome) {
        if let Err(mpsc::error::SendError(Message::Outcome(outcome))) = self.queue.send(Message::Outcome(outcome)).await
        {
            // Only if the writer is gone (its runtime is shutting down): write it here instead.
            write(&self.gate, vec![outcome], true);
        }
    }

    /// Wait until every outcome queued so far is committed (or its failure logged).
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

/// Take whatever is queued (at least one message), commit its outcomes in one transaction,
/// then answer the flushes that were waiting behind them. Outcomes the vault could not take
/// go into the next batch, or are retried after [`RETRY_AFTER`] if nothing else comes.
/// Ends when every handle is dropped.
async fn write_batches(gate: Gate, mut inbox: mpsc::Receiver<Message>, max_batch: usize) {
    let mut messages = Vec::with_capacity(max_batch);
    let mut flushes = Vec::new();
    let mut retained: Vec<CallOutcome> = Vec::new();
    loop {
        let received = if retained.is_empty() {
            inbox.recv_many(&mut messages, max_batch).await
        } else {
            // Nothing new for a while counts as a turn too: the retained outcomes are retried.
            tokio::time::timeout(RETRY_AFTER, inbox.recv_many(&mut messages, max_batch)).await.unwrap_or(usize::MAX)
        };
        if received == 0 {
            break;
        }
        linger(&mut inbox, &mut messages, max_batch).await;
        let mut outcomes = std::mem::take(&mut retained);
        for message in messages.drain(..) {
            match message {
                Message::Outcome(outcome) => outcomes.push(outcome),
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !outcomes.is_empty() {
            // A flush waits for this batch, so this is its last try.
            retained = write(&gate, outcomes, !flushes.is_empty());
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
    if !retained.is_empty() {
        write(&gate, retained, true);
    }
}

/// Gather what arrives within [`LINGER`] of the first message, unless a flush is waiting or
/// the batch is full. The writer sleeps through the window and then takes what came, rather
/// than waiting on the queue: a waiting receiver is woken by every send, and on the call path
/// that was a wake-up of the other worker thread per call.
async fn linger(inbox: &mut mpsc::Receiver<Message>, messages: &mut Vec<Message>, max_batch: usize) {
    let flush_waits = |messages: &[Message]| messages.iter().any(|m| matches!(m, Message::Flush(_)));
    if messages.len() >= max_batch || flush_waits(messages) {
        return;
    }
    tokio::time::sleep(LINGER).await;
    while messages.len() < max_batch {
        match inbox.try_recv() {
            Ok(message) => messages.push(message),
            Err(_) => return,
        }
    }
}

/// Commit a batch. If the vault cannot take it for now ([`VaultError::is_transient`]), the
/// outcomes come back to be retried, unless this is the `last_try`; if the batch fails for
/// another reason, each outcome is written alone so one bad row cannot cost the others theirs.
/// The calls already happened, so what is given up is logged.
fn write(gate: &Gate, mut outcomes: Vec<CallOutcome>, last_try: bool) -> Vec<CallOutcome> {
    let finish = |batch: &[CallOutcome]| gate.with(|vault| vault.finish_calls(batch));
    match finish(&outcomes) {
        Ok(()) => Vec::new(),
        Err(e) if e.is_transient() && !last_try => {
            tracing::warn!(error = %e, calls = outcomes.len(), "the vault cannot take call outcomes now; will retry");
            let excess = outcomes.len().saturating_sub(MAX_RETAINED);
            outcomes.drain(..excess).for_each(|outcome| log_unfinished(&outcome, &e));
            outcomes
        }
        Err(e) if outcomes.len() == 1 || e.is_transient() => {
            outcomes.iter().for_each(|outcome| log_unfinished(outcome, &e));
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, calls = outcomes.len(), "a batch of call outcomes failed; writing them one by one");
            for outcome in &outcomes {
                if let Err(e) = finish(std::slice::from_ref(outcome)) {
                    log_unfinished(outcome, &e);
                }
            }
            Vec::new()
        }
    }
}

fn log_unfinished(outcome: &CallOutcome, error: &VaultError) {
    tracing::error!(token_id = %outcome.token_id, %error, "could not finish the audit row of a completed call");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use keygate_vault::{AuditStart, Decision, Vault};

    use super::*;

    /// A vault with one token and `calls` audit rows begun for it.
    fn vault_with_calls(dir: &std::path::Path, calls: usize) -> (Vault, Vec<CallOutcome>) {
        let (mut vault, token_id) = crate::test_vault::with_token(dir);
        let start = AuditStart {
            server: None,
            token_id: Some(&token_id),
            tool: "t",
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Allowed,
            status: None,
        };
        let outcomes = (0..calls)
            .map(|_| CallOutcome {
                audit: vault.begin_audit(&start).expect("begin"),
                token_id: token_id.clone(),
                status: "200".into(),
                duration: Duration::from_millis(1),
            })
            .collect();
        (vault, outcomes)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_callers_wait_and_loses_nothing() {
        const CAPACITY: usize = 2;
        let dir = tempfile::tempdir().expect("tempdir");
        // More than the queue plus one batch in the writer's hands can hold.
        let (vault, outcomes) = vault_with_calls(dir.path(), 2 * CAPACITY + 1);
        let gate = Gate::new(vault);
        let writer = AuditWriter::with_capacity(gate.clone(), CAPACITY);

        // Hold the vault so the writer cannot commit.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (held_tx, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.with(|_| {
                    let _ = held_tx.send(());
                    let _ = released.recv();
                })
            })
        };
        held.recv().expect("vault held");
        let finishing = {
            let writer = writer.clone();
            tokio::spawn(async move {
                for outcome in outcomes {
                    writer.finish(outcome).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!finishing.is_finished(), "a full queue did not hold the caller back");

        release.send(()).expect("release");
        holder.join().expect("holder");
        finishing.await.expect("all queued");
        writer.flush().await;
        let log = gate.with(|vault| vault.audit_log()).expect("audit");
        assert_eq!(log.len(), 2 * CAPACITY + 1);
        assert!(log.iter().all(|row| row.status.as_deref() == Some("200")), "{log:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outcome_the_vault_could_not_take_is_written_once_it_can() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (vault, outcomes) = vault_with_calls(dir.path(), 3);
        let gate = Gate::new(vault);
        let writer = AuditWriter::start(gate.clone());

        // Another process's connection holds the write lock past the vault's busy timeout (5 s).
        let holder = rusqlite::Connection::open(dir.path().join("vault.db")).expect("open");
        holder.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
        for outcome in outcomes {
            writer.finish(outcome).await;
        }
        // The writer meets the lock (busy), keeps the outcomes and tries again.
        tokio::time::sleep(Duration::from_millis(5_500)).await;
        holder.execute_batch("ROLLBACK").expect("let go");
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        writer.flush().await;

        let log = gate.with(|vault| vault.audit_log()).expect("audit");
        assert_eq!(log.len(), 3);
        assert!(log.iter().all(|row| row.status.as_deref() == Some("200")), "an outcome was lost: {log:?}");
    }
}
