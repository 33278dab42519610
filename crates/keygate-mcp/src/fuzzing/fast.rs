//! What the `tools/call` fast path reads of a request: its headers and its body.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::access::is_loopback_authority;
use crate::fast_call::FastCall;

/// Header lines (`name: value`) up to the first empty line, then the body. Whatever arrives,
/// parsing returns; a request it takes is a single JSON-RPC `tools/call` with an id, a tool
/// name, no `_meta` but a progress token, from a loopback Host, with a JSON body, and rmcp's
/// own parser reads the same call (and the same progress token) from it.
pub fn fast_call(data: &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (&[][..], data),
    };
    let headers = headers_of(head);
    let Some(call) = FastCall::parse(&headers, body) else { return };
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    assert!(is_loopback_authority(host), "a call taken from Host {host:?}");
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or_default();
    assert!(content_type.to_ascii_lowercase().contains("application/json"), "taken with Content-Type {content_type:?}");
    // rmcp reads the same body as the same call: the narrow parser never takes a body that
    // rmcp would read otherwise.
    let rmcp = FastCall::parse_as_rmcp(body).expect("a body the fast path takes is a plain tools/call to rmcp");
    assert_eq!(call.id(), rmcp.id(), "rmcp reads another id");
    assert_eq!(call.name(), rmcp.name(), "rmcp reads another tool");
    assert_eq!(call.arguments(), rmcp.arguments(), "rmcp reads other arguments");
    assert_eq!(call.progress_token(), rmcp.progress_token(), "rmcp reads another progress token");
    let message: Value = serde_json::from_slice(body).expect("a taken body is JSON");
    assert_eq!(message["method"], "tools/call", "taken: {message}");
    if let Some(meta) = message["params"].get("_meta").and_then(Value::as_object) {
        assert!(meta.keys().all(|key| key == "progressToken"), "a call with other _meta was taken: {message}");
    }
}

fn headers_of(head: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(&line[..colon]), HeaderValue::from_bytes(line[colon + 1..].trim_ascii()))
        else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}
