//! A call run in the task of the request that carries it, and moved to a task of its own
//! whenever that request stops waiting for it.
//!
//! Spawning every call made its answer cross tasks (and, on two workers, threads): the call's
//! task woke the request's task through a channel, a futex wake on most calls, ~10 µs of each
//! call's CPU (perf on `tools/load/run`). Polled inline, with its answer as the future's own
//! output (a channel send would wake the very task that is running it, and tokio reschedules
//! a task woken while it runs on the other worker), the call costs none of that. It still
//! cannot be cut short: if the request's future is dropped (the agent hung up) or answers
//! early (an SSE stream after progress), what is left of the call runs on in a spawned task,
//! exactly as it would have from the start, and its answer goes where the stream reads.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::FutureExt as _;
use tokio::sync::mpsc;

/// The call's answer, or `None` if it panicked.
type Call<T> = Pin<Box<dyn Future<Output = Option<T>> + Send>>;

/// A call polled by its request; spawned, unfinished, when dropped.
pub(crate) struct InlineCall<T: Send + 'static> {
    call: Option<Call<T>>,
    /// Where the answer goes if the call ends after its request stopped waiting.
    then: mpsc::Sender<T>,
}

impl<T: Send + 'static> std::fmt::Debug for InlineCall<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineCall").field("running", &self.call.is_some()).finish()
    }
}

impl<T: Send + 'static> InlineCall<T> {
    /// A panic in `call` ends it quietly, as a panicking task would, dropping what it holds.
    pub(crate) fn new(call: impl Future<Output = T> + Send + 'static, then: mpsc::Sender<T>) -> Self {
        Self { call: Some(Box::pin(AssertUnwindSafe(call).catch_unwind().map(Result::ok))), then }
    }

    /// Drive the call one step: `Ready(Some(answer))` when it ends, `Ready(None)` if it
    /// panicked (or already ended).
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(call) = self.call.as_mut() else { return Poll::Ready(None) };
        let answer = std::task::ready!(call.as_mut().poll(cx));
        self.call = None;
        Poll::Ready(answer)
    }

    /// Send `answer` after whatever the call already queued, without waiting here.
    pub(crate) fn queue_last(self, answer: T) {
        let then = self.then.clone();
        tokio::spawn(async move {
            let _ = then.send(answer).await;
        });
    }
}

impl<T: Send + 'static> Drop for InlineCall<T> {
    fn drop(&mut self) {
        let Some(rest) = self.call.take() else { return };
        let then = self.then.clone();
        // Dropped on a runtime thread (the request's task); outside one, the runtime is
        // shutting down and would not run it either.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(answer) = rest.await {
                    let _ = then.send(answer).await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    async fn step<T: Send + 'static>(call: &mut InlineCall<T>) -> Poll<Option<T>> {
        std::future::poll_fn(|cx| Poll::Ready(call.poll_step(cx))).await
    }

    #[tokio::test]
    async fn a_call_answers_through_its_own_output() {
        let (then, mut queued) = mpsc::channel(1);
        let mut call = InlineCall::new(async { "answer" }, then);
        assert_eq!(step(&mut call).await, Poll::Ready(Some("answer")));
        drop(call);
        assert!(queued.recv().await.is_none(), "the answer also went to the channel");
    }

    #[tokio::test]
    async fn a_call_left_unfinished_runs_to_its_end_and_answers_through_the_channel() {
        let (release, released) = oneshot::channel::<()>();
        let (then, mut queued) = mpsc::channel(1);
        let mut call = InlineCall::new(
            async move {
                let _ = released.await;
                "ended"
            },
            then,
        );
        assert!(step(&mut call).await.is_pending());
        drop(call);
        release.send(()).expect("the call is still waiting");
        let said = tokio::time::timeout(Duration::from_secs(5), queued.recv()).await.expect("in time");
        assert_eq!(said, Some("ended"));
    }

    #[tokio::test]
    async fn a_panicking_call_ends_quietly_and_drops_what_it_held() {
        let (held, gone) = oneshot::channel::<()>();
        let (then, _queued) = mpsc::channel::<()>(1);
        let mut call = InlineCall::new(
            async move {
                let _held = held;
                panic!("in the call");
            },
            then,
        );
        assert_eq!(step(&mut call).await, Poll::Ready(None));
        assert!(gone.await.is_err(), "what the call held was not dropped");
    }
}
