//! The legacy HTTP+SSE transport (MCP 2024-11-05), for remote servers that never moved to
//! Streamable HTTP: a GET opens an event stream whose first `endpoint` event names the URL to
//! POST messages to; answers come back as `message` events. rmcp has no client for it.
//!
//! The endpoint must be on the same origin as the configured URL: the key headers go with
//! every POST, and a server must not be able to send them elsewhere.

use std::borrow::Cow;
use std::collections::HashMap;

use futures_util::StreamExt;
use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Longest SSE line or event accepted from a server; a longer one closes the connection.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Messages read ahead of rmcp.
const QUEUE: usize = 64;

/// Why the legacy transport failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SseError(String);

/// A connected legacy SSE session.
pub(crate) struct LegacySse {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    messages: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: JoinHandle<()>,
}

impl LegacySse {
    /// Open the event stream at `url` and wait for its `endpoint` event.
    pub(crate) async fn connect(
        client: reqwest::Client,
        base: &reqwest::Url,
        custom: &HashMap<http::HeaderName, http::HeaderValue>,
    ) -> Result<Self, String> {
        let headers: reqwest::header::HeaderMap = custom.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        let response = client
            .get(base.clone())
            .headers(headers.clone())
            .header(http::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| format!("GET {base} failed ({e})"))?;
        let is_sse = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !response.status().is_success() || !is_sse {
            return Err(format!("GET {base} answered {} without an event stream", response.status()));
        }
        let mut events = EventReader::new(response.bytes_stream().boxed());
        let endpoint = loop {
            match events.next_event().await? {
                Some(event) if event.name == "endpoint" => break endpoint_url(base, event.data.trim())?,
                Some(_) => continue,
                None => return Err(format!("{base} closed its event stream before naming its endpoint")),
            }
        };
        let (sender, messages) = mpsc::channel(QUEUE);
        let reader = tokio::spawn(forward_messages(events, sender));
        Ok(Self { client, endpoint, headers, messages, reader })
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = SseError;

    fn name() -> Cow<'static, str> {
        "legacy-sse".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self.client.post(self.endpoint.clone()).headers(self.headers.clone()).json(&item);
        async move {
            let response = request.send().await.map_err(|e| SseError(format!("POST failed ({e})")))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(SseError(format!("the server answered a message with {}", response.status())))
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.messages.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        Ok(())
    }
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The POST URL an `endpoint` event names, resolved against the stream's URL; only on the
/// same origin.
pub(crate) fn endpoint_url(base: &reqwest::Url, named: &str) -> Result<reqwest::Url, String> {
    let endpoint = base.join(named).map_err(|_| "the server named an endpoint that is not a URL".to_string())?;
    if endpoint.origin() != base.origin() {
        return Err(format!(
            "the server at {} named an endpoint on another origin ({}): refused, the key headers would go there",
            base.origin().ascii_serialization(),
            endpoint.origin().ascii_serialization()
        ));
    }
    Ok(endpoint)
}

/// Pass each `message` event on as a JSON-RPC message until the stream ends.
async fn forward_messages(mut events: EventReader, sender: mpsc::Sender<RxJsonRpcMessage<RoleClient>>) {
    loop {
        match events.next_event().await {
            Ok(Some(event)) if event.name == "message" => match serde_json::from_str(&event.data) {
                Ok(message) => {
                    if sender.send(message).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "keygate::gateway", "a legacy SSE server sent a message that is not JSON-RPC ({e})")
                }
            },
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(target: "keygate::gateway", "legacy SSE stream ended: {e}");
                return;
            }
        }
    }
}

/// One server-sent event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) name: String,
    pub(crate) data: String,
}

type ByteStream = futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>;

/// Reads events from a byte stream, every line and event bounded.
pub(crate) struct EventReader<S = ByteStream> {
    stream: S,
    buffer: Vec<u8>,
    ended: bool,
}

impl<S, E> EventReader<S>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub(crate) fn new(stream: S) -> Self {
        Self { stream, buffer: Vec::new(), ended: false }
    }

    /// The next event, `None` at the end of the stream.
    pub(crate) async fn next_event(&mut self) -> Result<Option<Event>, String> {
        let mut name = String::new();
        let mut data = String::new();
        let mut has_data = false;
        while let Some(line) = self.next_line().await? {
            if line.is_empty() {
                if has_data {
                    let name = if name.is_empty() { "message".to_string() } else { name };
                    return Ok(Some(Event { name, data }));
                }
                name.clear();
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => name = value.to_string(),
                "data" => {
                    if has_data {
                        data.push('\n');
                    }
                    data.push_str(value);
                    has_data = true;
                    if data.len() > MAX_EVENT_BYTES {
                        return Err(format!("an event over {MAX_EVENT_BYTES} bytes"));
                    }
                }
                _ => {} // comments (":"), id, retry
            }
        }
        Ok(None)
    }

    /// The next line without its end (LF, CRLF or CR), `None` at the end of the stream.
    async fn next_line(&mut self) -> Result<Option<String>, String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n' || b == b'\r') {
                // A CR at the very end may be the first half of a CRLF still in transit.
                if self.buffer[end] == b'\r' && end + 1 == self.buffer.len() && !self.ended {
                    self.fill().await?;
                    continue;
                }
                let skip = if self.buffer[end] == b'\r' && self.buffer.get(end + 1) == Some(&b'\n') { 2 } else { 1 };
                let line: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.ended {
                return Ok(None);
            }
            if self.buffer.len() > MAX_EVENT_BYTES {
                return Err(format!("a line over {MAX_EVENT_BYTES} bytes"));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        match self.stream.next().await {
            Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(format!("reading the event stream failed ({e})")),
            None => self.ended = true,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(
        chunks: &[&str],
    ) -> EventReader<futures_util::stream::Iter<std::vec::IntoIter<Result<bytes::Bytes, String>>>> {
        let chunks: Vec<Result<bytes::Bytes, String>> =
            chunks.iter().map(|c| Ok(bytes::Bytes::copy_from_slice(c.as_bytes()))).collect();
        EventReader::new(futures_util::stream::iter(chunks))
    }

    async fn all(
        mut events: EventReader<impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Unpin>,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(event) = events.next_event().await.expect("well formed") {
            out.push(event);
        }
        out
    }

    fn event(name: &str, data: &str) -> Event {
        Event { name: name.into(), data: data.into() }
    }

    #[tokio::test]
    async fn events_split_across_chunks_and_line_ends() {
        let events = all(reader(&[
            "event: endpoint\r",
            "\ndata: /message?s=1\r\n\r\n",
            ": ping\n\ndata: {\"a\"\ndata: :1}\n\n",
            "data: x\r\r",
        ]))
        .await;
        assert_eq!(events, [event("endpoint", "/message?s=1"), event("message", "{\"a\"\n:1}"), event("message", "x")]);
    }

    #[tokio::test]
    async fn an_unfinished_event_at_the_end_is_dropped() {
        assert_eq!(all(reader(&["data: half"])).await, []);
    }

    #[tokio::test]
    async fn an_endless_line_is_refused_not_buffered() {
        let chunk = "x".repeat(1024 * 1024);
        let chunks: Vec<Result<bytes::Bytes, String>> =
            (0..20).map(|_| Ok(bytes::Bytes::copy_from_slice(chunk.as_bytes()))).collect();
        let mut events = EventReader::new(futures_util::stream::iter(chunks));
        assert!(events.next_event().await.expect_err("too long").contains("bytes"));
    }

    #[tokio::test]
    async fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = Vec::new();
            for _ in 0..(seed % 64) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(b"data: event:\r\n:x\xff"[(seed % 17) as usize]);
            }
            let chunks: Vec<Result<bytes::Bytes, String>> =
                bytes.chunks(3).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
            let mut events = EventReader::new(futures_util::stream::iter(chunks));
            while let Ok(Some(_)) = events.next_event().await {}
        }
    }

    #[test]
    fn the_endpoint_stays_on_the_same_origin() {
        let base = reqwest::Url::parse("http://127.0.0.1:3001/sse").expect("url");
        assert_eq!(
            endpoint_url(&base, "/message?sessionId=a").expect("same").as_str(),
            "http://127.0.0.1:3001/message?sessionId=a"
        );
        assert!(endpoint_url(&base, "http://evil.example/collect").expect_err("other host").contains("another origin"));
        assert!(endpoint_url(&base, "http://127.0.0.1:3002/message").is_err());
        assert!(endpoint_url(&base, "//evil.example/x").is_err());
    }
}
