//! What a fronted server sends Keygate: its tool listing (pinned by canonical JSON), the
//! legacy SSE stream, and results that may echo an injected key.

use std::path::Path;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use rmcp::RoleClient;
use rmcp::model::{ListToolsResult, Tool};
use rmcp::service::RxJsonRpcMessage;
use sha2::{Digest, Sha256};

use crate::config::{Config, ServerEntry};
use crate::gateway::legacy_sse::{Event, EventReader, endpoint_url};
use crate::gateway::pins::{canonical_definition, listed, tool_from_definition};
use crate::redact::{Forms, REDACTED};

/// The first byte picks the message kind; the rest is what the server sent.
pub fn gateway_message(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 3 {
        0 => tools_list(rest),
        1 => legacy_sse(selector, rest),
        _ => redaction(rest),
    }
}

fn fronted_server() -> ServerEntry {
    let text = "[[server]]\nname = \"fz\"\ncommand = \"npx\"\n";
    let config = Config::parse(text, Path::new("config.toml")).expect("the fixed server entry parses");
    config.servers.into_iter().next().expect("one server")
}

/// A `tools/list` result: every tool that can be exposed is pinned by the SHA-256 of its
/// canonical definition, which is stable (key order never matters) and gives the same tool
/// back under its exposed name.
fn tools_list(json: &[u8]) {
    let Ok(result) = serde_json::from_slice::<ListToolsResult>(json) else { return };
    let server = fronted_server();
    for tool in result.tools {
        let Ok(exposed) = server.exposed_name(&tool.name) else { continue };
        assert!(crate::text::is_tool_name(&exposed), "an exposed name agents would refuse: {exposed:?}");
        let pin = listed(&tool);
        assert_eq!(pin.sha256, <[u8; 32]>::from(Sha256::digest(pin.definition.as_bytes())));
        let back = tool_from_definition(&pin.definition, &exposed).expect("a pinned definition gives a tool back");
        assert_eq!(back.name, exposed);
        let mut renamed: Tool = back.clone();
        renamed.name = tool.name.clone();
        assert_eq!(canonical_definition(&renamed), pin.definition, "the canonical definition is not stable");
        let reordered: serde_json::Value = serde_json::from_str(&pin.definition).expect("canonical JSON parses");
        let again: Tool = serde_json::from_value(reversed(reordered)).expect("the same definition, keys reversed");
        assert_eq!(canonical_definition(&again), pin.definition, "key order changed the pin");
    }
}

/// `value` with every object's keys in reverse order.
fn reversed(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.reverse();
            Value::Object(entries.into_iter().map(|(k, v)| (k, reversed(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(reversed).collect()),
        other => other,
    }
}

/// A legacy (2024-11-05) SSE stream: the same events whatever the chunking, an `endpoint`
/// only on the stream's own origin, `message` data parsed as JSON-RPC.
fn legacy_sse(selector: u8, stream: &[u8]) {
    let whole = read_events(&[stream]);
    let size = usize::from(selector / 3).max(1);
    let chunks: Vec<&[u8]> = stream.chunks(size).collect();
    assert_eq!(read_events(&chunks), whole, "chunks of {size} bytes read other events");
    let base = reqwest::Url::parse("http://127.0.0.1:8931/sse").expect("fixed URL");
    for event in whole.unwrap_or_default() {
        match event.name.as_str() {
            "endpoint" => {
                if let Ok(url) = endpoint_url(&base, &event.data) {
                    assert_eq!(url.origin(), base.origin(), "an endpoint on another origin: {url}");
                }
            }
            "message" => {
                let _ = serde_json::from_str::<RxJsonRpcMessage<RoleClient>>(&event.data);
            }
            _ => {}
        }
    }
}

/// Every event in the stream (the reader is polled with a waker that is never needed: the
/// chunks are all there, so each read completes at once).
fn read_events(chunks: &[&[u8]]) -> Result<Vec<Event>, String> {
    let owned: Vec<Result<bytes::Bytes, String>> =
        chunks.iter().map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let mut reader = EventReader::new(futures_util::stream::iter(owned));
    let mut events = Vec::new();
    let mut context = Context::from_waker(Waker::noop());
    loop {
        let next = pin!(reader.next_event()).poll(&mut context);
        match next {
            Poll::Ready(Ok(Some(event))) => events.push(event),
            Poll::Ready(Ok(None)) => return Ok(events),
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => panic!("a stream of ready chunks left the reader pending"),
        }
    }
}

/// A key (first line) and what a server sent (the rest): redaction leaves text without the
/// key alone, and leaves no form of the key behind, in the text or in a JSON result.
fn redaction(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (secret, said) = text.split_once('\n').unwrap_or((&text, ""));
    let forms = Forms::of([secret]);
    let redacted = forms.redact(said);
    assert_eq!(forms.found_in(said), redacted != said, "found_in and redact disagree");
    if secret.len() >= crate::redact::MIN_REDACTED_LEN
        && said.to_ascii_lowercase().contains(&secret.to_ascii_lowercase())
    {
        assert!(forms.found_in(said), "the key itself was not found");
    }
    // A key made of the marker's own letters ("dact") is found in the marker; real keys are not.
    let key_like = secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !key_like || forms.found_in(REDACTED) {
        return;
    }
    assert!(!forms.found_in(&redacted), "a form of the key survived redaction");
    let result = serde_json::json!({ "content": [{ "type": "text", "text": said }] }).to_string();
    let redacted_result = forms.redact(&result);
    assert!(!forms.found_in(&redacted_result), "a form of the key survived in a JSON result");
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&redacted_result) {
        assert!(!forms.found_in(&value.to_string()), "the redacted result decodes to the key");
    }
}
