//! Who may reach the MCP endpoint: loopback Host and Origin only (DNS rebinding), a valid
//! bearer token on every request, a session bound to the token that opened it, and a limit
//! on failed authentication so a flood of bad tokens cannot starve good ones.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use keygate_vault::{TokenDecision, TokenGrant};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::denials::{AUTH_TOOL, Denials};
use crate::gate::Gate;
use crate::rate_limit::FailureLimiter;
use crate::sessions::SessionTable;

const SESSION_HEADER: &str = "mcp-session-id";

/// What the handler learns about the caller: the grant checked for this very HTTP request
/// (every request is checked, session or not, so it is never older than the request).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The grant as checked for this request.
    pub grant: TokenGrant,
}

/// State shared by every request through the access layer.
#[derive(Clone)]
pub struct AccessState {
    pub(crate) gate: Gate,
    pub(crate) limiter: Arc<FailureLimiter>,
    /// Failed authentications are audited in aggregate (one row per kind per minute).
    pub(crate) denials: Arc<Denials>,
    /// Where the server listens (the resource metadata URL follows the client's Host).
    pub(crate) addr: std::net::SocketAddr,
    /// Open sessions: who opened each (the token's id, or its grant: see `session_owner`).
    pub(crate) sessions: Arc<SessionTable>,
    pub(crate) session_manager: Arc<LocalSessionManager>,
}

/// Refuse any request whose Host or Origin is not loopback: a web page on another origin must
/// never reach the server, even through a DNS name rebound to 127.0.0.1.
pub async fn check_host_and_origin(request: Request, next: Next) -> Response {
    match host_and_origin_problem(request.headers()) {
        Some(problem) => (StatusCode::FORBIDDEN, problem).into_response(),
        None => next.run(request).await,
    }
}

pub(crate) fn host_and_origin_problem(headers: &HeaderMap) -> Option<&'static str> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(is_loopback_authority) {
        return Some("Forbidden: the Host header must name this machine (127.0.0.1, [::1] or localhost)");
    }
    match headers.get(header::ORIGIN).map(|o| o.to_str().ok()) {
        None => None,
        Some(Some(origin)) if is_loopback_origin(origin) => None,
        Some(_) => Some("Forbidden: requests from web pages on other origins are not served"),
    }
}

/// `host[:port]` where host is localhost, 127.x.x.x or [::1].
pub(crate) fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(h, _)| h),
        None => Some(authority.rsplit_once(':').map_or(authority, |(h, _)| h)),
    };
    host.is_some_and(|h| {
        h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    })
}

/// An origin such as `http://localhost:3000` whose host is loopback.
fn is_loopback_origin(origin: &str) -> bool {
    reqwest::Url::parse(origin)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(is_loopback_authority))
}

/// Check the bearer token on every request; expiry and revocation are read from the vault
/// each time, so a revoked token fails on its very next request, open session or not.
pub async fn require_token(State(state): State<AccessState>, mut request: Request, next: Next) -> Response {
    let session = request.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let owner = match authorize(&state, &mut request, session.as_deref()).await {
        Ok(owner) => owner,
        Err(refusal) => return close_if_body_unread(request.headers(), refusal),
    };
    let ends_session = request.method() == http::Method::DELETE;
    let response = next.run(request).await;
    if let Some(new_session) = response.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        state.sessions.opened(new_session, owner);
    } else if let Some(ended) = session.filter(|_| ends_session && response.status().is_success()) {
        state.sessions.ended(&ended);
    }
    response
}

/// The caller's token admits this request: its grant goes into the request's extensions and
/// the session owner it answers for is returned. Otherwise the refusal to send.
async fn authorize(state: &AccessState, request: &mut Request, session: Option<&str>) -> Result<String, Response> {
    // The token is read in place from the header, never copied.
    let token = bearer_token(request.headers());
    if state.limiter.is_flooded()
        && !token.and_then(keygate_vault::token_id).is_some_and(|id| state.limiter.recently_good(id))
    {
        audit_failure(state, None, "auth_rate_limited");
        return Err(too_many_failures());
    }
    let Some(token) = token else {
        state.limiter.record_failure();
        audit_failure(state, None, "auth_missing");
        return Err(unauthorized(state, request.headers(), "a bearer token is required"));
    };
    let grant = match state.gate.with(|vault| vault.check_token(token, None)) {
        Ok(TokenDecision::Allowed(grant)) => grant,
        Ok(TokenDecision::Denied { reason, token_id }) => {
            state.limiter.record_failure();
            audit_failure(state, token_id.as_deref(), &format!("auth_{}", reason.as_str()));
            if let (Some(session), Some(refused)) = (session, &token_id) {
                close_session_of(state, session, refused).await;
            }
            return Err(unauthorized(state, request.headers(), &reason.to_string()));
        }
        Err(e) => return Err(unavailable(&e.to_string())),
    };
    let owner = session_owner(&grant);
    if let Some(session) = session
        && !state.sessions.admit(session, &owner)
    {
        state.limiter.record_failure();
        audit_failure(state, Some(&grant.token_id), "auth_foreign_session");
        return Err(unauthorized(state, request.headers(), "this session was opened with another token"));
    }
    state.limiter.record_success(&grant.token_id);
    request.extensions_mut().insert(Caller { grant });
    Ok(owner)
}

/// A refusal is sent before the request's body is read, and hyper then closes the connection
/// instead of reading the rest. Saying so lets a keep-alive client open a new connection for
/// its next request rather than send it into the closing one (seen: the Python SDK's httpx
/// failing "Server disconnected without sending a response" on the request after a 401).
fn close_if_body_unread(request: &HeaderMap, mut refusal: Response) -> Response {
    let has_body = request.contains_key(header::TRANSFER_ENCODING)
        || request.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|length| length.trim() != "0");
    if has_body {
        refusal.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    refusal
}

pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Who owns a session this token opens: the token itself, or, for a token minted under a
/// grant, the grant, so a bridge that renews its token keeps its session (each request is
/// still checked with its own token; the grant's tokens share one scope).
fn session_owner(grant: &TokenGrant) -> String {
    match &grant.grant {
        Some(name) => format!("grant:{name}"),
        None => grant.token_id.clone(),
    }
}

/// A session must not outlive its token: close it as soon as *its own* token (or a token of
/// the grant that owns it) is refused. Any other refused token leaves it alone: anyone who
/// learned a session id must not be able to end it by sending a bad token with it.
async fn close_session_of(state: &AccessState, session: &str, refused_token: &str) {
    let Some(owner) = state.sessions.owner(session) else { return };
    let owns = owner == refused_token
        || owner.strip_prefix("grant:").is_some_and(|grant| {
            state.gate.with(|vault| vault.token_grant_name(refused_token)).ok().flatten().as_deref() == Some(grant)
        });
    if owns && state.sessions.ended(session) {
        let _ = state.session_manager.close_session(&session.into()).await;
    }
}

/// Audit a failed authentication (aggregated: a flood adds at most two rows per minute per kind).
fn audit_failure(state: &AccessState, token_id: Option<&str>, status: &str) {
    state.denials.record_now(&keygate_vault::AuditStart {
        token_id,
        server: None,
        tool: AUTH_TOOL,
        credential: None,
        credential_version: None,
        team_version: None,
        decision: keygate_vault::Decision::Denied,
        status: Some(status),
    });
}

/// 401 with the challenge that starts an OAuth sign-in (RFC 9728 section 5.1): where the
/// resource metadata is, for the origin the client addressed.
fn unauthorized(state: &AccessState, headers: &HeaderMap, description: &str) -> Response {
    let origin = crate::oauth::request_origin(headers, state.addr);
    let challenge = format!(
        "Bearer error=\"invalid_token\", error_description=\"{description}\", resource_metadata=\"{origin}{}\"",
        crate::oauth::PROTECTED_RESOURCE_PATH
    );
    let mut response = (StatusCode::UNAUTHORIZED, format!("Unauthorized: {description}")).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn too_many_failures() -> Response {
    let mut response =
        (StatusCode::TOO_MANY_REQUESTS, "Too many failed authentications: retry in a second").into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn unavailable(detail: &str) -> Response {
    tracing::error!(%detail, "vault unavailable during authentication");
    (StatusCode::SERVICE_UNAVAILABLE, "The vault is unavailable; retry shortly").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_authorities() {
        for ok in ["127.0.0.1:7447", "127.0.0.1", "localhost:7447", "LOCALHOST", "[::1]:7447", "[::1]", "127.1.2.3:80"]
        {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in
            ["evil.example", "evil.example:7447", "10.0.0.1:7447", "[::2]:1", "localhost.evil.example", "", "[::1"]
        {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_origins() {
        for ok in ["http://localhost:3000", "http://127.0.0.1:7447", "https://[::1]:8443", "http://localhost"] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in
            ["null", "https://evil.example", "http://127.0.0.1.evil.example", "file:///etc", "chrome-extension://x"]
        {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer kg_abc"));
        assert_eq!(bearer_token(&headers), Some("kg_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  kg_abc "));
        assert_eq!(bearer_token(&headers), Some("kg_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic a2c="));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }
}
