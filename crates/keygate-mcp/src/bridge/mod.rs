//! `keygate connect`: a stdio MCP server that forwards to the local HTTP server, for agents
//! that can only launch a command. Its token comes from the environment (`KEYGATE_TOKEN`), or,
//! with `--grant`, from the running Keygate over the agent socket, renewed before it expires.

mod client;
mod events;
mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest, ContentBlock,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, ServerResult,
};
use rmcp::service::{PeerRequestOptions, RequestContext};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ErrorData, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt};
use secrecy::SecretString;

use self::client::RenewingClient;
use self::events::{Relay, UpstreamEvents};
use self::tokens::{GrantTokens, Tokens};

/// Forwards tools/list and tools/call to the HTTP server.
#[derive(Debug, Clone)]
struct Bridge {
    upstream: Peer<RoleClient>,
    info: ServerConfig,
    relay: Arc<Relay>,
    client: RenewingClient,
}

/// Why the bridge could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// Connecting to the HTTP server failed (down, or the token was refused).
    #[error("cannot connect to the Keygate server at {url}: {detail}")]
    Connect {
        /// The server URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// No token could be minted under the grant (Keygate not running, grant revoked, ...).
    #[error("{0}")]
    Mint(#[from] crate::agent_socket::MintError),
    /// Serving stdio failed.
    #[error("the stdio connection failed: {0}")]
    Stdio(String),
}

/// Serve MCP on stdin/stdout, forwarding to `url` with `token`, until stdin closes.
pub async fn run_bridge(url: &str, token: &SecretString) -> Result<(), BridgeError> {
    serve(url, Tokens::Fixed(token.clone())).await
}

/// Serve MCP on stdin/stdout with tokens minted under `grant` by the Keygate serving `home`
/// (renewed before they expire), forwarding to that Keygate's endpoint, until stdin closes.
pub async fn run_grant_bridge(home: PathBuf, grant: &str) -> Result<(), BridgeError> {
    let (tokens, url) = GrantTokens::start(home, grant.to_string()).await?;
    serve(&url, Tokens::Grant(tokens)).await
}

async fn serve(url: &str, tokens: Tokens) -> Result<(), BridgeError> {
    let client = RenewingClient::new(Arc::new(tokens));
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    let transport = StreamableHttpClientTransport::with_client(client.clone(), config);
    let relay = Arc::new(Relay::default());
    let connect_error = |detail: String| BridgeError::Connect { url: url.to_string(), detail };
    let upstream = UpstreamEvents(Arc::clone(&relay)).serve(transport).await.map_err(|e| {
        let text = e.to_string();
        let detail = if let Some(refusal) = client.refusal() {
            refusal
        } else if text.contains("401") || text.contains("Auth required") {
            "the token was refused (expired, revoked or unknown): create one with `keygate token create`".to_string()
        } else {
            format!("{text} (is `keygate serve` or the Keygate app running?)")
        };
        connect_error(detail)
    })?;
    let capabilities = ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build();
    let info = upstream
        .peer_info()
        .map(|info| {
            ServerConfig::new(capabilities.clone()).with_server_info(info.server_info.clone().unwrap_or_default())
        })
        .unwrap_or_else(|| ServerConfig::new(capabilities));
    let bridge = Bridge { upstream: upstream.peer().clone(), info, relay, client };
    let served = bridge.serve(rmcp::transport::stdio()).await.map_err(|e| BridgeError::Stdio(e.to_string()))?;
    let waited = served.waiting().await.map_err(|e| BridgeError::Stdio(e.to_string()));
    let _ = upstream.cancel().await;
    waited.map(drop)
}

impl Bridge {
    /// An upstream failure as the agent sees it: a refusal to mint (a revoked grant) is a tool
    /// error naming the reason, anything else a JSON-RPC error.
    fn failed(&self, error: rmcp::ServiceError) -> Result<CallToolResponse, ErrorData> {
        if let Some(refusal) = self.client.refusal() {
            tracing::warn!("{refusal}");
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "Keygate refused this call: {refusal}"
            ))])
            .into());
        }
        Err(forwarded(error))
    }
}

fn forwarded(error: rmcp::ServiceError) -> ErrorData {
    match error {
        rmcp::ServiceError::McpError(e) => e,
        other => ErrorData::internal_error(format!("keygate server: {other}"), None),
    }
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        self.info.clone()
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.relay.agent_is(&context.peer);
        let cursor = request.and_then(|r| r.cursor);
        self.upstream.list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor))).await.map_err(forwarded)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.relay.agent_is(&context.peer);
        let mut params = CallToolRequestParams::new(request.name);
        if let Some(arguments) = request.arguments {
            params = params.with_arguments(arguments);
        }
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let options = PeerRequestOptions::no_options();
        let handle = match self.upstream.send_request_with_option(request, options).await {
            Ok(handle) => handle,
            Err(e) => return self.failed(e),
        };
        let _route =
            context.meta.get_progress_token().map(|theirs| self.relay.route(handle.progress_token.clone(), theirs));
        match handle.await_response().await {
            Ok(ServerResult::CallToolResult(result)) => Ok(result.into()),
            Ok(_) => Err(ErrorData::internal_error("keygate server: unexpected answer to tools/call", None)),
            Err(e) => self.failed(e),
        }
    }
}
