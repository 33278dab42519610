//! Tool calls inside a session, served without the session's worker.
//!
//! rmcp passes every request of a session through one worker task and the session's service
//! loop, and answers over SSE: several task hand-offs per call, and rmcp's own client drops
//! the connection after each SSE answer. A `tools/call` needs nothing of the session (the
//! token is checked on every request, and a session is bound to its token), so it is served
//! like a call without a session: answered as JSON, or over SSE when it sends progress. What
//! the session still carries: `initialize`, the GET stream (tools/list_changed), `tools/list`,
//! DELETE, and `notifications/cancelled`, which reaches such a call through [`InFlight`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// What routing needs of a JSON-RPC message; a batch or anything else parses as `None`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Probe<'a> {
    #[serde(borrow)]
    pub(crate) method: Option<Cow<'a, str>>,
    pub(crate) id: Option<serde_json::Value>,
    params: Option<ProbeParams>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ProbeParams {
    #[serde(rename = "requestId")]
    request_id: Option<serde_json::Value>,
}

impl<'a> Probe<'a> {
    pub(crate) fn of(body: &'a [u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    pub(crate) fn is(&self, method: &str) -> bool {
        self.method.as_deref() == Some(method)
    }

    /// The id of the request a `notifications/cancelled` names.
    pub(crate) fn cancelled_request(&self) -> Option<&serde_json::Value> {
        self.params.as_ref()?.request_id.as_ref()
    }
}

/// The session tool calls in flight, by (session, JSON of the request id).
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashMap<(String, String), CancellationToken>>);

impl InFlight {
    /// The agent cancelled request `id` of `session`.
    pub(crate) fn cancel(&self, session: &str, id: &serde_json::Value) {
        if let Some(token) = self.lock().get(&(session.to_string(), id.to_string())) {
            token.cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), CancellationToken>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Put on a session's tool call by the router, so the handler can be found by a cancellation.
#[derive(Debug, Clone)]
pub(crate) struct SessionCall {
    pub(crate) calls: Arc<InFlight>,
    pub(crate) session: String,
    pub(crate) id: String,
}

impl SessionCall {
    /// Make `token` (the handler's) cancellable by the session until the guard drops.
    pub(crate) fn register(&self, token: CancellationToken) -> Registered {
        let key = (self.session.clone(), self.id.clone());
        self.calls.lock().insert(key.clone(), token);
        Registered { calls: Arc::clone(&self.calls), key }
    }
}

/// Removes a call from [`InFlight`] when it ends.
pub(crate) struct Registered {
    calls: Arc<InFlight>,
    key: (String, String),
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.calls.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_read_only_what_routing_needs() {
        let call = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2]}}}"#;
        let probe = Probe::of(call);
        assert!(probe.is("tools/call"));
        assert_eq!(probe.id, Some(serde_json::json!(7)));
        let cancel = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a","reason":"x"}}"#;
        assert_eq!(Probe::of(cancel).cancelled_request(), Some(&serde_json::json!("a")));
        for garbage in [&b"[{\"method\":\"tools/call\"}]"[..], b"", b"{", b"null", b"{\"method\":5}", b"\xff\xfe"] {
            assert!(Probe::of(garbage).method.is_none());
        }
    }

    #[test]
    fn a_cancellation_reaches_only_its_own_call_and_ends_with_it() {
        let calls = Arc::new(InFlight::default());
        let call =
            |session: &str, id: &str| SessionCall { calls: Arc::clone(&calls), session: session.into(), id: id.into() };
        let (one, two) = (CancellationToken::new(), CancellationToken::new());
        let first = call("s1", "1").register(one.clone());
        let _second = call("s2", "1").register(two.clone());
        calls.cancel("s1", &serde_json::json!("1")); // the string "1" is not the number 1
        assert!(!one.is_cancelled());
        calls.cancel("s1", &serde_json::json!(1));
        assert!(one.is_cancelled() && !two.is_cancelled());
        drop(first);
        assert_eq!(calls.lock().len(), 1);
    }
}
