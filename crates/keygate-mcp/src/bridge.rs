//! `keygate connect`: a stdio MCP server that forwards to the local HTTP server, for agents
//! that can only launch a command. The token comes from the environment, never argv.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ErrorData, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt};
use secrecy::{ExposeSecret, SecretString};

/// Forwards tools/list and tools/call to the HTTP server.
#[derive(Debug, Clone)]
struct Bridge {
    upstream: Peer<RoleClient>,
    info: ServerConfig,
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
    /// Serving stdio failed.
    #[error("the stdio connection failed: {0}")]
    Stdio(String),
}

/// Serve MCP on stdin/stdout, forwarding to `url` with `token`, until stdin closes.
pub async fn run_bridge(url: &str, token: &SecretString) -> Result<(), BridgeError> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token.expose_secret());
    let connect_error = |detail: String| BridgeError::Connect { url: url.to_string(), detail };
    let upstream = ().serve(StreamableHttpClientTransport::from_config(config)).await.map_err(|e| {
        let detail = if e.to_string().contains("401") || e.to_string().contains("Auth required") {
            "the token was refused (expired, revoked or unknown): create one with `keygate token create`".to_string()
        } else {
            format!("{e} (is `keygate serve` or the Keygate app running?)")
        };
        connect_error(detail)
    })?;
    let info = upstream
        .peer_info()
        .map(|info| {
            ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
                .with_server_info(info.server_info.clone().unwrap_or_default())
        })
        .unwrap_or_else(|| ServerConfig::new(ServerCapabilities::builder().enable_tools().build()));
    let bridge = Bridge { upstream: upstream.peer().clone(), info };
    let served = bridge.serve(rmcp::transport::stdio()).await.map_err(|e| BridgeError::Stdio(e.to_string()))?;
    let waited = served.waiting().await.map_err(|e| BridgeError::Stdio(e.to_string()));
    let _ = upstream.cancel().await;
    waited.map(drop)
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let cursor = request.and_then(|r| r.cursor);
        self.upstream.list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor))).await.map_err(forwarded)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut params = CallToolRequestParams::new(request.name);
        if let Some(arguments) = request.arguments {
            params = params.with_arguments(arguments);
        }
        self.upstream.call_tool_once(params).await.map_err(forwarded)
    }
}
