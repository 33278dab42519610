//! A call run in the task of the request that carries it, and moved to a task of its own
//! whenever that request stops waiting for it.
//!
//! Spawning every call made its answer cross tasks (and, on two workers, threads): the call's
//! task woke the request's task through a channel, a futex wake in about one call of two,
//! ~10 µs of each call's CPU (perf on `tools/load/run`). Polled inline, the call costs none
//! of that, and it still cannot be cut short: if the request's future is dropped (the agent
//! hung up) or answers early (an SSE stream after progress), what is left of the call runs
//! on in a spawned task, exactly as it would have from the start.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Context;

use futures_util::FutureExt as _;

type Call = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A call polled by its request; spawned, unfinished, when dropped.
pub(crate) struct InlineCall(Option<Call>);

impl std::fmt::Debug for InlineCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineCall").field("running", &self.0.is_some()).finish()
    }
}

impl InlineCall {
    /// `call` must report its end itself (a channel, say): a panic in it ends it quietly, as
    /// a panicking task would, dropping what it holds.
    pub(crate) fn new(call: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Some(Box::pin(AssertUnwindSafe(call).catch_unwind().map(|_| ()))))
    }

    /// Drive the call one step, if it has not ended.
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>) {
        if let Some(call) = self.0.as_mut()
            && call.as_mut().poll(cx).is_ready()
        {
            self.0 = None;
        }
    }
}

impl Drop for InlineCall {
    fn drop(&mut self) {
        let Some(rest) = self.0.take() else { return };
        // Dropped on a runtime thread (the request's task); outside one, the runtime is
        // shutting down and would not run it either.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::task::Poll;

    use tokio::sync::oneshot;

    use super::*;

    #[tokio::test]
    async fn a_call_left_unfinished_runs_to_its_end_in_a_task() {
        let (release, released) = oneshot::channel::<()>();
        let (ended, end) = oneshot::channel::<&str>();
        let mut call = InlineCall::new(async move {
            let _ = released.await;
            let _ = ended.send("ended");
        });
        std::future::poll_fn(|cx| {
            call.poll_step(cx);
            Poll::Ready(())
        })
        .await;
        drop(call);
        release.send(()).expect("the call is still waiting");
        let said = tokio::time::timeout(Duration::from_secs(5), end).await.expect("in time").expect("ended");
        assert_eq!(said, "ended");
    }

    #[tokio::test]
    async fn a_panicking_call_ends_quietly_and_drops_what_it_held() {
        let (held, gone) = oneshot::channel::<()>();
        let mut call = InlineCall::new(async move {
            let _held = held;
            panic!("in the call");
        });
        std::future::poll_fn(|cx| {
            call.poll_step(cx);
            Poll::Ready(())
        })
        .await;
        assert!(call.0.is_none(), "the call should have ended");
        assert!(gone.await.is_err(), "what the call held was not dropped");
    }
}
