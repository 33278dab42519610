//! The HTTP server: axum on a loopback port, rmcp's Streamable HTTP service behind the access
//! layer at `/mcp`, and beside it the authorization server (`oauth/`) with the RFC 9728
//! resource metadata.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::StatusCode;
use keygate_vault::Vault;
use rmcp::transport::streamable_http_server::session::SessionManager as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::access::{self, AccessState, Caller};
use crate::agent_socket::AgentSocket;
use crate::audit_writer::AuditWriter;
use crate::config::{Config, parse_bind};
use crate::denials::Denials;
use crate::error::McpError;
use crate::fast_call::{FastCall, FastCalls};
use crate::gate::Gate;
use crate::gateway::{Gateway, Quarantined, ServerStatus};
use crate::handler::{KeygateHandler, Shared};
use crate::oauth::{self, OAuthState};
use crate::rate_limit::FailureLimiter;
use crate::session_calls::{InFlight, Probe, SessionCall};
use crate::sessions::SessionTable;
use crate::upstream::Upstream;

/// Largest request body accepted (rmcp's own default).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub(crate) const MCP_PATH: &str = "/mcp";

/// The MCP endpoint agents connect to for a server on `addr` (`127.0.0.1:7447`).
pub fn endpoint_url(addr: impl std::fmt::Display) -> String {
    format!("http://{addr}{MCP_PATH}")
}

type Stateful = StreamableHttpService<KeygateHandler, LocalSessionManager>;
type Stateless = StreamableHttpService<KeygateHandler, NeverSessionManager>;

/// A server running in the background of this process.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
    sessions: Arc<SessionTable>,
    audit_writer: AuditWriter,
    agent_socket: Option<AgentSocket>,
    fast_calls: Arc<FastCalls>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The MCP endpoint agents connect to.
    pub fn url(&self) -> String {
        endpoint_url(self.addr)
    }

    /// The consent page of a waiting OAuth request (`Vault::list_pending_consents`), for a
    /// front such as the tray to open in the browser.
    pub fn consent_url(&self, request_id: &str) -> String {
        crate::oauth::consent_page_url(self.addr, request_id)
    }

    /// Stop accepting, end open sessions, and wait for the server to finish.
    pub async fn shutdown(self) -> Result<(), McpError> {
        self.stop.cancel();
        self.wait().await
    }

    /// Wait until the server stops (after `shutdown` from elsewhere, or an error).
    pub async fn wait(self) -> Result<(), McpError> {
        let served = match self.task.await {
            Ok(result) => result.map_err(McpError::Serve),
            Err(e) => Err(McpError::Serve(std::io::Error::other(e))),
        };
        if let Some(socket) = self.agent_socket {
            self.stop.cancel();
            socket.closed().await;
        }
        served
    }

    /// The agent socket this server mints grant tokens on (or will, once another Keygate
    /// serving the same home stops); `None` if it could not be made.
    pub fn agent_socket(&self) -> Option<&std::path::Path> {
        self.agent_socket.as_ref().map(AgentSocket::path)
    }

    /// How many MCP sessions are open (each bound to the token that opened it).
    pub fn sessions_open(&self) -> usize {
        self.sessions.len()
    }

    /// Wait until the outcome of every call finished so far is in the vault. Calls answer
    /// before their outcome is written (it is batched in the background); stopping the
    /// server flushes too.
    pub async fn flush_audit(&self) {
        self.audit_writer.flush().await;
    }

    /// A handle that stops the server when cancelled.
    pub fn stop_handle(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serve a new configuration: HTTP tools replaced, fronted servers reconciled (unchanged
    /// ones keep running). The listening address stays until a restart.
    pub fn reload(&self, config: Config) {
        if config.bind.port() != 0 && config.bind != self.addr {
            tracing::warn!(addr = %config.bind, "the new bind address takes effect when Keygate restarts");
        }
        self.shared.reload(config);
    }

    /// The state of every fronted server.
    pub fn server_statuses(&self) -> Vec<ServerStatus> {
        self.shared.gateway.statuses()
    }

    /// Restart a fronted server and re-check its tools' pins; returns how many tools it listed.
    pub async fn restart_server(&self, name: &str) -> Result<usize, String> {
        self.shared.gateway.restart(name).await
    }

    /// Follow `config_path` (edits are served without a restart) and its directory's restart
    /// requests, and publish the fronted servers' states beside it, until the server stops.
    pub fn follow_home(&self, config_path: std::path::PathBuf) {
        crate::watch::spawn(Arc::clone(&self.shared), config_path, endpoint_url(self.addr), self.stop.clone());
    }

    /// How long a session may go without a request before it ends (tests shorten it).
    #[doc(hidden)]
    pub fn set_session_idle(&self, idle: std::time::Duration) {
        self.sessions.set_idle(idle);
    }

    /// Serve plain `tools/call` requests on the fast path (the default) or leave every
    /// request to rmcp: for tests that compare the two answers to the same request.
    #[doc(hidden)]
    pub fn set_fast_calls(&self, on: bool) {
        self.fast_calls.set(on);
    }

    /// How many requests the fast path answered (the rest went to rmcp).
    #[doc(hidden)]
    pub fn fast_calls_served(&self) -> u64 {
        self.fast_calls.served()
    }

    /// Tools held back as new or changed, as they are found (for notifications).
    pub fn quarantine_events(&self) -> tokio::sync::broadcast::Receiver<Quarantined> {
        self.shared.gateway.relay().subscribe_quarantine()
    }
}

/// Start serving `config`'s tools from `vault` on `bind` (or the configured address).
pub async fn start(config: Config, mut vault: Vault, bind: Option<&str>) -> Result<RunningServer, McpError> {
    let addr = match bind {
        Some(text) => {
            parse_bind(text).map_err(|message| McpError::Config { path: "--bind".into(), line: None, message })?
        }
        None => config.bind,
    };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|cause| McpError::Bind { addr, cause })?;
    let addr = listener.local_addr().map_err(|cause| McpError::Bind { addr, cause })?;
    let stop = CancellationToken::new();
    let sessions = Arc::new(SessionTable::default());
    let home = vault.home().dir().to_path_buf();
    // Commits on the call path only append to the WAL; a thread syncs it into the file.
    let checkpointer = vault.checkpoint_in_background()?;
    let upstream = Upstream::new()?;
    // Team credentials are synced on a connection of their own: never under the serving lock.
    let team_vault = vault.open_another()?;
    tokio::spawn(keygate_team::run_sync_loop(
        team_vault,
        vault.home().config_path(),
        upstream.refusals(),
        stop.clone(),
    ));
    let gate = Gate::new(vault);
    let agent_socket = AgentSocket::spawn(&home, gate.clone(), endpoint_url(addr), stop.clone());
    let audit_writer = AuditWriter::start(gate.clone());
    let denials = Arc::new(Denials::new(gate.clone()));
    denials.spawn_sweeper(stop.clone());
    let gateway = Gateway::start(&config.servers, gate.clone(), stop.clone());
    let handler =
        KeygateHandler::new(config, gateway, gate.clone(), audit_writer.clone(), Arc::clone(&denials), upstream);
    let shared = Arc::clone(handler.shared());
    let oauth = OAuthState::new(gate.clone(), Arc::clone(&shared), addr)?;
    let fast_calls = Arc::new(FastCalls::default());
    let app = router(handler, gate, oauth, stop.clone(), Arc::clone(&sessions), Arc::clone(&fast_calls));
    let serving = crate::serving::spawn(listener, app, stop.clone()).map_err(McpError::Serve)?;
    let writer = audit_writer.clone();
    // Should the runtime that started the server shut down first (a test's, or the app's at
    // exit), dropping this task stops the serving thread too.
    let stop_when_dropped = stop.clone().drop_guard();
    let task = tokio::spawn(async move {
        let _stop_when_dropped = stop_when_dropped;
        let served = serving.await.unwrap_or_else(|_| Err(std::io::Error::other("the serving thread panicked")));
        // Outcomes of the last calls may still be queued: they are written before we report stopped.
        writer.flush().await;
        denials.flush(true);
        // The last checkpoint syncs the file: off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || drop(checkpointer)).await;
        served
    });
    tracing::info!(%addr, "keygate MCP server listening");
    Ok(RunningServer { addr, shared, stop, sessions, audit_writer, agent_socket, fast_calls, task })
}

/// Shared behind an `Arc`: axum clones a route's state several times per request, and each
/// service holds its own copy of rmcp's config (host lists and all).
struct Services {
    stateful: Stateful,
    stateless: Stateless,
    sessions: Arc<LocalSessionManager>,
    in_flight: Arc<InFlight>,
    shared: Arc<Shared>,
    /// Whether plain `tools/call` requests take the fast path, and how many did.
    fast_calls: Arc<FastCalls>,
}

fn router(
    handler: KeygateHandler,
    gate: Gate,
    oauth: OAuthState,
    stop: CancellationToken,
    sessions: Arc<SessionTable>,
    fast_calls: Arc<FastCalls>,
) -> Router {
    let session_manager = Arc::new(SessionTable::manager());
    sessions.spawn_sweeper(Arc::clone(&session_manager), stop.clone());
    let base =
        StreamableHttpServerConfig::default().with_cancellation_token(stop).with_max_request_body_bytes(MAX_BODY_BYTES);
    let factory = {
        let handler = handler.clone();
        move || Ok(handler.clone())
    };
    let services = Arc::new(Services {
        shared: Arc::clone(handler.shared()),
        fast_calls,
        stateful: StreamableHttpService::new(factory.clone(), Arc::clone(&session_manager), base.clone()),
        sessions: Arc::clone(&session_manager),
        in_flight: Arc::default(),
        stateless: StreamableHttpService::new(
            factory,
            Arc::new(NeverSessionManager::default()),
            base.with_legacy_session_mode(false).with_json_response(true),
        ),
    });
    let denials = Arc::clone(&handler.shared().denials);
    let limiter = Arc::new(FailureLimiter::default());
    let access = AccessState { gate, limiter, denials, addr: oauth.addr, sessions, session_manager };
    Router::new()
        .route(
            MCP_PATH,
            any(serve_mcp)
                .with_state(services)
                .layer(axum::middleware::from_fn_with_state(access, access::require_token)),
        )
        .merge(oauth::routes(oauth))
        .layer(axum::middleware::from_fn(access::check_host_and_origin))
}

/// DELETE ends a session. rmcp answers `202 Accepted`; the spec's clients expect a plain
/// success (the official Python SDK logs "Session termination failed: 202" otherwise), and
/// nothing is left pending, so it is `204 No Content`.
async fn end_session(services: &Services, request: Request) -> Response {
    let mut response = services.stateful.handle(request).await.map(Body::new);
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = Body::empty();
    }
    response
}

/// `initialize` opens a session; requests that carry one go to the session-keeping service,
/// but for tool calls (see `session_calls`). Everything else is served without a session, so
/// clients that never keep one work too, on every protocol version.
async fn serve_mcp(State(services): State<Arc<Services>>, request: Request) -> Response {
    if request.method() == http::Method::DELETE {
        return end_session(&services, request).await;
    }
    if request.method() != http::Method::POST {
        return services.stateful.handle(request).await.map(Body::new);
    }
    let session = request.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large").into_response(),
    };
    if let Some(answer) = serve_fast(&services, &parts, session.as_deref(), &bytes).await {
        return answer;
    }
    let probe = Probe::of(&bytes);
    let mut request = Request::from_parts(parts, Body::from(bytes.clone()));
    // `handle` borrows the service; `oneshot` would clone it (and its config) per request.
    let Some(session) = session else {
        return if probe.is("initialize") {
            services.stateful.handle(request).await.map(Body::new)
        } else {
            services.stateless.handle(request).await.map(Body::new)
        };
    };
    if probe.is("notifications/cancelled")
        && let Some(id) = probe.cancelled_request()
    {
        services.in_flight.cancel(&session, id);
    }
    if probe.is("tools/call")
        && let Some(id) = &probe.id
        && services.sessions.has_session(&session.as_str().into()).await.unwrap_or(false)
    {
        let call = SessionCall { calls: Arc::clone(&services.in_flight), session, id: id.to_string() };
        request.extensions_mut().insert(call);
        return services.stateless.handle(request).await.map(Body::new);
    }
    services.stateful.handle(request).await.map(Body::new)
}

/// A plain `tools/call` (see `fast_call`) answered without rmcp; `None` leaves the request
/// to rmcp. A session's call is taken only if the session is open, as above.
async fn serve_fast(
    services: &Services,
    parts: &http::request::Parts,
    session: Option<&str>,
    body: &[u8],
) -> Option<Response> {
    if !services.fast_calls.on() {
        return None;
    }
    let caller = parts.extensions.get::<Caller>()?.clone();
    let call = FastCall::parse(&parts.headers, body)?;
    let session = match session {
        None => None,
        Some(session) => {
            if !services.sessions.has_session(&session.into()).await.unwrap_or(false) {
                return None;
            }
            let id = serde_json::to_string(call.id()).ok()?;
            Some(SessionCall { calls: Arc::clone(&services.in_flight), session: session.to_string(), id })
        }
    };
    services.fast_calls.count();
    Some(call.serve(Arc::clone(&services.shared), caller, session).await)
}
