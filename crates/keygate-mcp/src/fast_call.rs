//! The fast path for the one request agents send most: a POST holding a single JSON-RPC
//! `tools/call`, with or without a session.
//!
//! rmcp serves such a call through its stateless service: a one-shot transport, a service
//! loop with its own peer, and a spawned task per request, about 80-100 us per call on two
//! cores (BENCHMARKS.md). Here the call goes straight to `Shared::call_tool`, the function
//! rmcp's path calls too, so scope, audit row, upstream and redaction are the same code.
//!
//! The fast path only ever *serves*: it takes a request only if rmcp would serve it exactly
//! this way, and everything else (a header rmcp would refuse, a body it would not parse, any
//! `_meta` but a progress token, a batch, another method, a protocol version that needs
//! per-request metadata, an unknown session) falls through to rmcp, which answers or refuses
//! as it always did. So every refusal is rmcp's own; what is checked here is that a
//! request is one rmcp accepts: loopback Host as rmcp's allowed hosts, Accept allowing both
//! JSON and SSE, Content-Type JSON, a known MCP-Protocol-Version below the one that changes
//! the lifecycle, and rmcp's own type parsing the body. `tests/fast_call.rs` sends the same
//! requests, well-formed and not, both ways and compares the answers.
//!
//! The answer is rmcp's stateless JSON answer: one JSON body, unless the call sends progress
//! (a fronted server's, or an approval's wait) before it ends; then, as rmcp does, the whole
//! sequence goes out as an SSE stream. rmcp's own client puts a progress token on every call,
//! so this is the path of every call it makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;

use axum::body::Body;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientJsonRpcMessage, ClientRequest, ErrorData, GetMeta,
    JsonObject, JsonRpcMessage, ProgressToken, ProtocolVersion, RequestId, ServerJsonRpcMessage, ServerResult,
};
use rmcp::transport::common::http_header::{EVENT_STREAM_MIME_TYPE, HEADER_MCP_PROTOCOL_VERSION, JSON_MIME_TYPE};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::access::Caller;
use crate::handler::{CallScope, Shared};
use crate::inline_call::InlineCall;
use crate::progress::ProgressSink;
use crate::session_calls::SessionCall;

/// Messages of one answer waiting to be written (as rmcp's one-shot transport holds them).
const ANSWER_QUEUE: usize = 16;
/// rmcp's default: an SSE answer that is quiet this long gets a comment line.
const SSE_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// The hosts rmcp's streamable HTTP service allows by default (any port); Keygate's own
/// check admits all of 127.0.0.0/8, so a request for 127.0.0.2 is left to rmcp to refuse.
const RMCP_ALLOWED_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The fast path's switch (on unless a test turns it off) and how many calls it answered.
#[derive(Debug)]
pub(crate) struct FastCalls {
    on: AtomicBool,
    served: AtomicU64,
}

impl Default for FastCalls {
    fn default() -> Self {
        Self { on: AtomicBool::new(true), served: AtomicU64::new(0) }
    }
}

impl FastCalls {
    pub(crate) fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    pub(crate) fn count(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// The one body shape the fast path reads: exactly these members, each once (serde refuses
/// a repeated or unknown member, and the request then goes to rmcp), so nothing rmcp would
/// read differently (other `_meta`, the input-required fields, anything newer) is ever skipped.
/// Parsing this is several times cheaper than rmcp's message type, which tries every kind
/// of message in turn.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainCall<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    id: RequestId,
    #[serde(borrow)]
    method: &'a str,
    params: PlainParams,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainParams {
    name: String,
    arguments: Option<JsonObject>,
    /// Read as rmcp reads it: an object (serde would take an array for a struct).
    #[serde(rename = "_meta")]
    meta: Option<JsonObject>,
}

/// A `_meta` the fast path takes: a progress token rmcp can read, and nothing else.
fn progress_only(mut meta: JsonObject) -> Option<ProgressToken> {
    let token = meta.remove("progressToken")?;
    if !meta.is_empty() {
        return None;
    }
    serde_json::from_value(token).ok()
}

/// A `tools/call` the fast path may serve.
#[derive(Debug)]
pub(crate) struct FastCall {
    id: RequestId,
    params: CallToolRequestParams,
    progress: Option<ProgressToken>,
}

impl FastCall {
    /// The call in `body`, if rmcp's stateless service would serve this request as a plain
    /// `tools/call`; `None` sends it to rmcp.
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        if !(host_is_rmcps(headers) && accepts_json_and_sse(headers) && is_json(headers) && plain_version(headers)) {
            return None;
        }
        let plain: PlainCall<'_> = serde_json::from_slice(body).ok()?;
        if plain.jsonrpc != "2.0" || plain.method != "tools/call" {
            return None;
        }
        let mut params = CallToolRequestParams::new(plain.params.name);
        params.arguments = plain.params.arguments;
        let progress = match plain.params.meta {
            Some(meta) => Some(progress_only(meta)?),
            None => None,
        };
        Some(Self { id: plain.id, params, progress })
    }

    /// The same body read by rmcp's own message type, as rmcp's stateless service reads it:
    /// the call if rmcp sees a plain `tools/call`. `fuzzing::fast_call` checks that this
    /// and [`FastCall::parse`] agree on every body `parse` takes.
    pub(crate) fn parse_as_rmcp(body: &[u8]) -> Option<Self> {
        let JsonRpcMessage::Request(request) = serde_json::from_slice::<ClientJsonRpcMessage>(body).ok()? else {
            return None;
        };
        let meta = request.request.get_meta();
        let progress = meta.get_progress_token();
        if meta.0.0.keys().any(|key| key != "progressToken") {
            return None;
        }
        let ClientRequest::CallToolRequest(call) = request.request else { return None };
        let params = call.params;
        if params.meta.is_some() || params.input_responses.is_some() || params.request_state.is_some() {
            return None;
        }
        Some(Self { id: request.id, params, progress })
    }

    /// The JSON-RPC id of the call.
    pub(crate) fn id(&self) -> &RequestId {
        &self.id
    }

    /// The tool's name as the agent sent it.
    pub(crate) fn name(&self) -> &str {
        &self.params.name
    }

    /// The call's arguments as sent.
    pub(crate) fn arguments(&self) -> Option<&JsonObject> {
        self.params.arguments.as_ref()
    }

    /// The agent's progress token, if it asked for progress.
    pub(crate) fn progress_token(&self) -> Option<&ProgressToken> {
        self.progress.as_ref()
    }

    /// Serve the call as rmcp's stateless service answers: HTTP 200 with one JSON-RPC
    /// response or error, or an SSE stream when progress comes first.
    ///
    /// The call runs in this request's task until it answers (`InlineCall`); if the agent
    /// hangs up first, it is cancelled (a fronted server gets `notifications/cancelled`) and
    /// runs on in a task of its own, so nothing cuts it off between its audit row and its
    /// outcome. Rest of an SSE answer: the same, in its own task from the first progress on.
    pub(crate) async fn serve(self, shared: Arc<Shared>, caller: Caller, session: Option<SessionCall>) -> Response {
        let ct = CancellationToken::new();
        let hung_up = ct.clone().drop_guard();
        let Self { id, params, progress } = self;
        let (messages, mut answer) = mpsc::channel(ANSWER_QUEUE);
        let wants_progress = progress.is_some();
        let progress = progress.map(|token| (token, ProgressSink::Answer(messages.clone())));
        let scope = CallScope { ct, progress, session };
        let call = async move {
            let result = shared.call_tool(caller, params.name.into_owned(), params.arguments, scope).await;
            match result {
                Ok(result) => JsonRpcMessage::response(legacy_shape(result), id),
                Err(error) => JsonRpcMessage::error(error, Some(id)),
            }
        };
        let mut call = InlineCall::new(call, messages);
        let first = std::future::poll_fn(|cx| {
            if let Poll::Ready(answer) = call.poll_step(cx) {
                return Poll::Ready(First::Answer(answer));
            }
            // Only progress is queued, and only a call with a progress token sends any: others
            // never register here, so no channel wakes the task that runs them (a task woken
            // while it runs is put back on the queue, and that wakes the other worker). The
            // call holds a sender, so the queue stays open while it runs.
            if !wants_progress {
                return Poll::Pending;
            }
            answer.poll_recv(cx).map(|progress| progress.map_or(First::Answer(None), First::Progress))
        })
        .await;
        match first {
            First::Answer(None) => internal_error("the call stopped unexpectedly"),
            First::Answer(Some(last)) => match answer.try_recv() {
                Err(_) => {
                    hung_up.disarm();
                    json_answer(&last)
                }
                // It sent progress before it ended: a stream, its answer after that progress.
                Ok(progress) => {
                    call.queue_last(last);
                    sse_answer(progress, answer, hung_up)
                }
            },
            // Progress came first: the answer becomes a stream, and the call goes on beside it.
            First::Progress(progress) => {
                drop(call);
                sse_answer(progress, answer, hung_up)
            }
        }
    }
}

/// What a fast call sent first.
enum First {
    /// Its answer (`None`: it died without one).
    Answer(Option<ServerJsonRpcMessage>),
    Progress(ServerJsonRpcMessage),
}

fn is_final(message: &ServerJsonRpcMessage) -> bool {
    matches!(message, JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_))
}

fn json_answer(message: &ServerJsonRpcMessage) -> Response {
    match serde_json::to_vec(message) {
        Ok(body) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, JSON_MIME_TYPE)
            .body(Body::from(body))
            .unwrap_or_else(|_| internal_error("cannot build the answer")),
        Err(_) => internal_error("cannot serialize the answer"),
    }
}

/// `first`, then the rest of the call's messages up to its answer, as SSE events. The call is
/// cancelled if the agent hangs up before the answer was written.
fn sse_answer(first: ServerJsonRpcMessage, rest: mpsc::Receiver<ServerJsonRpcMessage>, hung_up: DropGuard) -> Response {
    let events =
        futures_util::stream::unfold((Some(first), rest, Some(hung_up)), |(next, mut rest, mut hung_up)| async move {
            hung_up.as_ref()?;
            let message = match next {
                Some(message) => message,
                None => rest.recv().await?,
            };
            if is_final(&message) {
                hung_up.take().map(DropGuard::disarm);
            }
            let data = serde_json::to_string(&message).unwrap_or_default();
            Some((Ok::<_, std::convert::Infallible>(Event::default().data(data)), (None, rest, hung_up)))
        });
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE)).into_response();
    response.headers_mut().insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}

/// The result as rmcp's handler shapes it for a peer before 2026-07-28 (the only versions
/// the fast path takes): no `resultType: "complete"`, no non-object structured output.
fn legacy_shape(result: CallToolResult) -> ServerResult {
    let mut result = ServerResult::from(CallToolResponse::from(result));
    result.strip_result_type_for_legacy_peer();
    result.strip_non_object_output_for_legacy_peer();
    result
}

fn internal_error(what: &'static str) -> Response {
    let error = ErrorData::internal_error(what, None);
    tracing::error!(%what, "a fast-path tool call failed");
    let mut response = Response::new(Body::from(error.message.to_string()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// rmcp's DNS-rebinding check passes: a Host header that parses as an authority whose host
/// is one of rmcp's allowed hosts. An authority with userinfo (`@127.0.0.1`) is no Host a
/// client sends; Keygate's access layer refuses it before this, and so does this check.
fn host_is_rmcps(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    if host.contains('@') {
        return false;
    }
    let Ok(authority) = http::uri::Authority::try_from(host) else { return false };
    let host = authority.host().trim_matches('[').trim_matches(']').to_ascii_lowercase();
    RMCP_ALLOWED_HOSTS.contains(&host.as_str())
}

/// rmcp's POST check: the Accept values allow both `application/json` and `text/event-stream`.
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for essence in accepted_media_types(headers) {
        json |= essence.eq_ignore_ascii_case(JSON_MIME_TYPE);
        sse |= essence.eq_ignore_ascii_case(EVENT_STREAM_MIME_TYPE);
    }
    json && sse
}

/// rmcp's POST check: Content-Type's essence is `application/json`.
fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).is_some_and(|value| {
        let essence = value.split_once(';').map_or(value, |(essence, _)| essence);
        essence.trim().eq_ignore_ascii_case(JSON_MIME_TYPE)
    })
}

/// No MCP-Protocol-Version header (rmcp assumes 2025-03-26), or a version rmcp knows from
/// before 2026-07-28: from that version on, requests carry metadata rmcp checks (`_meta`,
/// the `Mcp-Method` headers), and those stay with rmcp.
fn plain_version(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(HEADER_MCP_PROTOCOL_VERSION) else { return true };
    let Ok(version) = value.to_str() else { return false };
    version < ProtocolVersion::V_2026_07_28.as_str()
        && ProtocolVersion::KNOWN_VERSIONS.iter().any(|known| known.as_str() == version)
}

// The three functions below are rmcp 3.11's (`transport/streamable_http_server/tower.rs`,
// private there), so an Accept header means here what it means to rmcp.

/// The media-type essences of every Accept value, without those weighted zero.
fn accepted_media_types(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| split_unquoted(value, ','))
        .filter_map(|entry| {
            let mut parts = split_unquoted(entry, ';');
            let essence = parts.next()?.trim();
            parts
                .all(|parameter| {
                    let Some((name, value)) = parameter.split_once('=') else { return true };
                    !name.trim().eq_ignore_ascii_case("q") || quality_is_acceptable(value.trim())
                })
                .then_some(essence)
        })
}

/// Split on `delimiter` outside quoted strings (a quoted-pair keeps an escaped quote).
fn split_unquoted(value: &str, delimiter: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    value.split(move |character| {
        if escaped {
            escaped = false;
        } else if quoted && character == '\\' {
            escaped = true;
        } else if character == '"' {
            quoted = !quoted;
        } else if !quoted && character == delimiter {
            return true;
        }
        false
    })
}

/// Only an explicit zero weight excludes a media range; a malformed weight is ignored.
fn quality_is_acceptable(quality: &str) -> bool {
    let (whole, fraction) = quality.split_once('.').unwrap_or((quality, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|digit| digit.is_ascii_digit()) {
        return true;
    }
    whole != "0" || fraction.bytes().any(|digit| digit != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(header::HeaderName::from_bytes(name.as_bytes()).expect("name"), {
                HeaderValue::from_str(value).expect("value")
            });
        }
        headers
    }

    const CALL: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"q":1}}}"#;

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("host", "127.0.0.1:7447"),
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
            ("mcp-protocol-version", "2025-06-18"),
        ]
    }

    fn with(change: (&'static str, Option<&'static str>)) -> HeaderMap {
        let mut pairs: Vec<_> = good().into_iter().filter(|(name, _)| *name != change.0).collect();
        if let Some(value) = change.1 {
            pairs.push((change.0, value));
        }
        headers(&pairs)
    }

    #[test]
    fn a_plain_call_is_taken() {
        let call = FastCall::parse(&headers(&good()), CALL).expect("taken");
        assert_eq!(call.id, RequestId::Number(1));
        assert_eq!(call.params.name, "t");
        for taken in [
            ("mcp-protocol-version", None),
            ("mcp-protocol-version", Some("2025-11-25")),
            ("accept", Some("text/event-stream;q=0.5, application/json")),
            ("content-type", Some("Application/JSON; charset=utf-8")),
            ("host", Some("localhost")),
            ("host", Some("[::1]:80")),
        ] {
            assert!(FastCall::parse(&with(taken), CALL).is_some(), "{taken:?}");
        }
    }

    #[test]
    fn a_progress_token_is_taken_as_rmcp_reads_it() {
        for (body, token) in [
            (&br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":7}}}"#[..], serde_json::json!(7)),
            (br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"p"},"name":"t"}}"#, serde_json::json!("p")),
        ] {
            let fast = FastCall::parse(&headers(&good()), body).expect("taken");
            let rmcp = FastCall::parse_as_rmcp(body).expect("rmcp reads a plain call");
            assert_eq!(serde_json::to_value(fast.progress_token()).expect("json"), token);
            assert_eq!(fast.progress_token(), rmcp.progress_token());
        }
        let plain = FastCall::parse(&headers(&good()), CALL).expect("taken");
        assert!(plain.progress_token().is_none());
    }

    #[test]
    fn anything_rmcp_would_treat_otherwise_falls_through() {
        for left in [
            ("host", None),
            ("host", Some("127.0.0.2:7447")),
            ("host", Some("@127.0.0.1:7447")),
            ("host", Some("user@localhost")),
            ("accept", None),
            ("accept", Some("application/json")),
            ("accept", Some("application/json, text/event-stream;q=0")),
            ("content-type", None),
            ("content-type", Some("text/plain")),
            ("mcp-protocol-version", Some("2026-07-28")),
            ("mcp-protocol-version", Some("1999-01-01")),
        ] {
            assert!(FastCall::parse(&with(left), CALL).is_none(), "{left:?}");
        }
        let good = headers(&good());
        for body in [
            &br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}]"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"t"}}"#,
            br#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"t"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":1,"x":2}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":true}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"other":1}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":[1]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":1.5}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","requestState":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            b"{",
            b"",
        ] {
            assert!(FastCall::parse(&good, body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }
}
