//! The MCP face of the server: tools from config, listed and called per the caller's token.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::access::Caller;
use crate::audit_writer::AuditWriter;
use crate::call::ToolCall;
use crate::config::Config;
use crate::gate::Gate;
use crate::upstream::Upstream;

/// What every session's handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) tools: Vec<Tool>,
    pub(crate) gate: Gate,
    pub(crate) audit_writer: AuditWriter,
    pub(crate) upstream: Upstream,
}

/// One handler per session (or per request for clients without one); all share `Shared`.
#[derive(Debug, Clone)]
pub struct KeygateHandler {
    shared: Arc<Shared>,
}

impl KeygateHandler {
    pub(crate) fn new(config: Config, gate: Gate, audit_writer: AuditWriter, upstream: Upstream) -> Self {
        let tools = config
            .tools
            .iter()
            .map(|t| Tool::new(t.name.clone(), t.description.clone(), Arc::new(t.input_schema.clone())))
            .collect();
        Self { shared: Arc::new(Shared { config, tools, gate, audit_writer, upstream }) }
    }
}

/// The caller the access layer let in; absent only if the handler is reached some other way.
fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .ok_or_else(|| ErrorData::invalid_request("not authenticated", None))
}

impl ServerHandler for KeygateHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("keygate", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Keygate calls these APIs for you with keys you never see. Your token decides which tools you get.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller(&context)?;
        let visible = self.shared.tools.iter().filter(|t| caller.grant.allows(&t.name)).cloned().collect();
        Ok(ListToolsResult::with_all_items(visible))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        ToolCall::new(&self.shared, caller, request.name.to_string(), request.arguments).run().await.map(Into::into)
    }
}
