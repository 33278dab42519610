//! Upstream calls: one shared HTTP client that puts a tool's credential in its configured header,
//! never leaves the configured origin, reads at most [`MAX_RESPONSE_BYTES`] and redacts the
//! credential from what comes back. The credential is exposed only in [`credential_value`] and
//! [`redact`].

mod client;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use reqwest::Url;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::Notify;

use self::client::{Failure, HttpClient, MAX_REDIRECTS, Outgoing, origin_text};
use crate::config::{Method, ToolConfig};
use crate::error::McpError;

/// The most response body read from an upstream; an agent has no use for more in one call.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The HTTP client for upstream calls. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct Upstream {
    client: HttpClient,
    refused: Arc<Notify>,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream").finish_non_exhaustive()
    }
}

/// What an upstream answered, whatever the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamReply {
    /// The HTTP status; non-2xx is not an error here, the caller decides.
    pub status: u16,
    /// The body as UTF-8 (invalid bytes replaced), the credential redacted.
    pub body: String,
}

/// Why an upstream call gave no reply. Messages are meant for the agent and never hold the credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The stored credential cannot be sent as an HTTP header value.
    #[error(
        "the credential of tool {tool} contains characters not allowed in an HTTP header \
         (e.g. a line break or control character); store it again without them"
    )]
    BadCredential {
        /// The tool name.
        tool: String,
    },

    /// The upstream did not answer (fully) within the tool's timeout.
    #[error("the upstream did not answer within {secs}s (the tool's timeout_secs); try again or ask for less")]
    Timeout {
        /// The tool's timeout in seconds.
        secs: u64,
    },

    /// No connection could be made (refused, DNS, TLS handshake, connect timeout).
    #[error("cannot reach the upstream: {detail}")]
    Unreachable {
        /// The origin and the cause.
        detail: String,
    },

    /// The upstream redirected to another origin; the redirect was not followed.
    #[error("upstream redirected to another host ({to}); not followed so the credential is not sent there")]
    Redirected {
        /// The origin redirected to, e.g. `https://other.example:8443`.
        to: String,
    },

    /// The upstream redirected more often than allowed.
    #[error("upstream redirected more than {max} times; stopped")]
    TooManyRedirects {
        /// The limit.
        max: usize,
    },

    /// The response body is larger than [`MAX_RESPONSE_BYTES`].
    #[error(
        "upstream response is larger than {MAX_RESPONSE_BYTES} bytes; not read (ask for less, e.g. a smaller page)"
    )]
    TooLarge,

    /// Any other HTTP failure.
    #[error("upstream request failed: {detail}")]
    Http {
        /// The cause, without the URL's query.
        detail: String,
    },
}

impl Upstream {
    /// Build the shared client.
    /// No proxy is ever used: one from HTTP(S)_PROXY would see every key.
    pub fn new() -> Result<Self, McpError> {
        let client = HttpClient::new().map_err(McpError::Client)?;
        Ok(Self { client, refused: Arc::new(Notify::new()) })
    }

    /// Notified whenever an upstream answers 401 or 403: the key may have been rotated by a
    /// teammate, so the team sync looks at once instead of at its next refresh.
    pub fn refusals(&self) -> Arc<Notify> {
        Arc::clone(&self.refused)
    }

    /// Send one tool call. `arguments` already validated. POST: arguments are the JSON body. GET: each
    /// top-level argument becomes a query parameter (strings as-is, numbers/bools via to_string, arrays ->
    /// repeated param, objects/null -> JSON text), appended to the configured URL's existing query. No
    /// argument can change scheme, host, port or path.
    pub async fn call(
        &self,
        tool: &ToolConfig,
        credential: &SecretString,
        arguments: &Map<String, Value>,
    ) -> Result<UpstreamReply, UpstreamError> {
        let started = Instant::now();
        let result = self.send(tool, credential, arguments).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(reply) = &result
            && matches!(reply.status, 401 | 403)
        {
            self.refused.notify_one();
        }
        match &result {
            Ok(reply) => tracing::debug!(tool = %tool.name, status = reply.status, elapsed_ms, "upstream replied"),
            Err(error) => tracing::debug!(tool = %tool.name, %error, elapsed_ms, "upstream call failed"),
        }
        result
    }

    async fn send(
        &self,
        tool: &ToolConfig,
        credential: &SecretString,
        arguments: &Map<String, Value>,
    ) -> Result<UpstreamReply, UpstreamError> {
        let (method, url, json) = match tool.method {
            Method::Get => (http::Method::GET, query_url(&tool.url, arguments), None),
            Method::Post => {
                let json = serde_json::to_vec(arguments).map_err(|e| UpstreamError::Http { detail: e.to_string() })?;
                (http::Method::POST, tool.url.clone(), Some(Bytes::from(json)))
            }
        };
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(tool.credential_header.clone(), credential_value(tool, credential)?);
        let out = Outgoing { method, url, headers: &headers, json };
        let answer = tokio::time::timeout(tool.timeout, self.client.send(out, MAX_RESPONSE_BYTES))
            .await
            .map_err(|_| UpstreamError::Timeout { secs: tool.timeout.as_secs() })?
            .map_err(|failure| explain(failure, tool))?;
        let body = redact(String::from_utf8_lossy(&answer.body).into_owned(), credential);
        Ok(UpstreamReply { status: answer.status, body })
    }
}

/// What the agent is told when a request got no answer.
fn explain(failure: Failure, tool: &ToolConfig) -> UpstreamError {
    match failure {
        Failure::Unreachable(cause) => {
            UpstreamError::Unreachable { detail: format!("{}: {cause}", origin_text(&tool.url)) }
        }
        Failure::OffOrigin(to) => UpstreamError::Redirected { to },
        Failure::TooManyRedirects => UpstreamError::TooManyRedirects { max: MAX_REDIRECTS },
        Failure::TooLarge => UpstreamError::TooLarge,
        Failure::Http(detail) => UpstreamError::Http { detail },
    }
}

/// The header value `prefix + secret`, marked sensitive so it is never printed by http's Debug.
fn credential_value(tool: &ToolConfig, credential: &SecretString) -> Result<HeaderValue, UpstreamError> {
    let secret = credential.expose_secret();
    // Sized up front so the joined copy is never reallocated, and zeroized when dropped.
    let mut text = Zeroizing::new(String::with_capacity(tool.credential_prefix.len() + secret.len()));
    text.push_str(&tool.credential_prefix);
    text.push_str(secret);
    let mut value =
        HeaderValue::from_str(&text).map_err(|_| UpstreamError::BadCredential { tool: tool.name.clone() })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Replace every occurrence of the secret (with or without the prefix, which contains it) by
/// `[redacted]`, in any of the forms an echo may take (case, JSON escapes, base64).
fn redact(body: String, credential: &SecretString) -> String {
    let forms = crate::redact::Forms::of([credential.expose_secret()]);
    if !forms.found_in(&body) {
        return body;
    }
    forms.redact(&body)
}

/// The configured URL with arguments appended as query pairs; only the query can change.
fn query_url(base: &Url, arguments: &Map<String, Value>) -> Url {
    let mut url = base.clone();
    if arguments.is_empty() {
        return url; // query_pairs_mut would leave a bare `?`
    }
    let mut pairs = url.query_pairs_mut();
    for (name, value) in arguments {
        match value {
            Value::Array(items) => {
                for item in items {
                    pairs.append_pair(name, &query_text(item));
                }
            }
            other => {
                pairs.append_pair(name, &query_text(other));
            }
        }
    }
    drop(pairs);
    url
}

fn query_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_values_are_encoded_and_appended() {
        let base = Url::parse("https://api.example.com/v1/s?fixed=1").expect("url");
        let Value::Object(args) = json!({"a": [1, "x y"], "n": null, "o": {"k": true}, "u": "../@evil#frag"}) else {
            panic!("object")
        };
        let url = query_url(&base, &args);
        assert_eq!(url.path(), "/v1/s");
        assert_eq!(url.host_str(), Some("api.example.com"));
        assert_eq!(url.fragment(), None);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let expected = [("fixed", "1"), ("a", "1"), ("a", "x y"), ("n", "null"), ("o", r#"{"k":true}"#)];
        for (name, value) in expected {
            assert!(pairs.contains(&(name.into(), value.into())), "{name}={value} missing from {pairs:?}");
        }
        assert!(pairs.contains(&("u".into(), "../@evil#frag".into())));
    }

    #[test]
    fn no_arguments_leave_the_url_alone() {
        let base = Url::parse("https://api.example.com/v1/s").expect("url");
        assert_eq!(query_url(&base, &Map::new()).as_str(), "https://api.example.com/v1/s");
    }

    #[test]
    fn redaction_covers_every_occurrence() {
        let key = SecretString::from("sk-123");
        assert_eq!(redact("a sk-123 b Bearer sk-123".into(), &key), "a [redacted] b Bearer [redacted]");
        assert_eq!(redact("nothing here".into(), &SecretString::from("")), "nothing here");
    }
}
