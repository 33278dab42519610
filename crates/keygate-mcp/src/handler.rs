//! The MCP face of the server: tools from config, listed and called per the caller's token.

use std::sync::{Arc, PoisonError, RwLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::access::Caller;
use crate::approvals::{Approvals, Hold};
use crate::audit_writer::AuditWriter;
use crate::call::ToolCall;
use crate::config::Config;
use crate::denials::Denials;
use crate::gate::Gate;
use crate::gateway::{Gateway, GatewayCall};
use crate::session_calls::SessionCall;
use crate::upstream::Upstream;

/// The configured HTTP tools, swapped whole when config.toml changes.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub(crate) config: Config,
    pub(crate) tools: Vec<Tool>,
}

impl Catalog {
    pub(crate) fn new(config: Config) -> Self {
        let tools = config
            .tools
            .iter()
            .map(|t| Tool::new(t.name.clone(), t.description.clone(), Arc::new(t.input_schema.clone())))
            .collect();
        Self { config, tools }
    }
}

/// What every session's handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    catalog: RwLock<Arc<Catalog>>,
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) gate: Gate,
    pub(crate) audit_writer: AuditWriter,
    /// Refused calls, audited in aggregate.
    pub(crate) denials: Arc<Denials>,
    pub(crate) upstream: Upstream,
    /// Calls waiting for a person.
    pub(crate) approvals: Approvals,
}

impl Shared {
    /// The current config's HTTP tools (a snapshot: a reload does not change a call under way).
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Serve `config` from now on: new HTTP tools, and the servers reconciled.
    pub(crate) fn reload(&self, config: Config) {
        self.gateway.apply(&config.servers);
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Catalog::new(config));
    }
}

/// One handler per session (or per request for clients without one); all share `Shared`.
#[derive(Debug, Clone)]
pub struct KeygateHandler {
    shared: Arc<Shared>,
}

impl KeygateHandler {
    pub(crate) fn new(
        config: Config,
        gateway: Arc<Gateway>,
        gate: Gate,
        audit_writer: AuditWriter,
        denials: Arc<Denials>,
        upstream: Upstream,
    ) -> Self {
        let catalog = RwLock::new(Arc::new(Catalog::new(config)));
        let approvals = Approvals::new(&gate);
        Self { shared: Arc::new(Shared { catalog, gateway, gate, audit_writer, denials, upstream, approvals }) }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl KeygateHandler {
    /// A name no tool can have (too long, or characters outside `A-Z a-z 0-9 _ - .`): it is
    /// audited and answered only in a bounded, escaped form.
    fn refuse_tool_name(&self, name: &str, caller: &Caller) -> ErrorData {
        let shown = crate::text::printable(name, MAX_SHOWN_NAME);
        self.shared.denials.record_now(&keygate_vault::AuditStart {
            token_id: Some(&caller.grant.token_id),
            server: None,
            tool: &shown,
            credential: None,
            credential_version: None,
            decision: keygate_vault::Decision::Denied,
            status: Some("invalid_tool_name"),
        });
        ErrorData::invalid_params(format!("unknown tool: {shown}"), None)
    }
}

/// Characters of an invalid tool name kept in the audit and the error.
const MAX_SHOWN_NAME: usize = 64;

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
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build())
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
        let grant = &caller.grant;
        let mut visible: Vec<Tool> =
            self.shared.catalog().tools.iter().filter(|t| grant.allows(&t.name)).cloned().collect();
        let fronted = self.shared.gateway.approved_tools(grant).await;
        visible.extend(fronted.into_iter().filter(|t| grant.allows(&t.name)));
        Ok(ListToolsResult::with_all_items(visible))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared.catalog().tools.iter().find(|t| t.name == name).cloned()
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.shared.gateway.relay().add_agent(context.peer);
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        if !crate::text::is_tool_name(&request.name) {
            return Err(self.refuse_tool_name(&request.name, &caller));
        }
        // A session's call served outside its worker: `notifications/cancelled` finds it here.
        let _cancellable = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SessionCall>())
            .map(|call| call.register(context.ct.clone()));
        let catalog = self.shared.catalog();
        if catalog.config.tool(&request.name).is_none()
            && let Some((server, tool)) = self.shared.gateway.find(&request.name)
        {
            let hold = Hold {
                config: &catalog.config,
                server: Some(&server.entry),
                grant: &caller.grant,
                tool: &request.name,
                arguments: request.arguments.as_ref(),
            };
            if let Err(stopped) = self.shared.approvals.hold(hold, &context).await {
                return stopped.map(Into::into);
            }
            let call = GatewayCall {
                shared: &self.shared,
                relay: self.shared.gateway.relay(),
                caller,
                server,
                exposed: request.name.to_string(),
                tool,
                arguments: request.arguments,
            };
            return call.run(context).await.map(Into::into);
        }
        let hold = Hold {
            config: &catalog.config,
            server: None,
            grant: &caller.grant,
            tool: &request.name,
            arguments: request.arguments.as_ref(),
        };
        if let Err(stopped) = self.shared.approvals.hold(hold, &context).await {
            return stopped.map(Into::into);
        }
        ToolCall::new(&self.shared, catalog, caller, request.name.to_string(), request.arguments)
            .run()
            .await
            .map(Into::into)
    }
}
