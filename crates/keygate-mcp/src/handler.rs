//! The MCP face of the server: tools from config, listed and called per the caller's token.

use std::sync::{Arc, PoisonError, RwLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio_util::sync::CancellationToken;

use crate::access::Caller;
use crate::approvals::{Approvals, Hold};
use crate::audit_begin::AuditBegins;
use crate::audit_writer::AuditWriter;
use crate::call::ToolCall;
use crate::config::Config;
use crate::denials::Denials;
use crate::gate::Gate;
use crate::gateway::{Gateway, GatewayCall};
use crate::progress::{Progress, ProgressSink};
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
    /// The rows written before calls, group-committed.
    pub(crate) audit_begins: AuditBegins,
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

/// What a call takes from its request besides the tool and its arguments; rmcp's path and
/// the fast path (`fast_call`) fill it from their own requests.
pub(crate) struct CallScope {
    /// Cancelled when the agent cancels the call or goes away.
    pub(crate) ct: CancellationToken,
    /// The agent's progress token and where to send progress, if it asked for progress.
    pub(crate) progress: Option<Progress>,
    /// Set for a call inside a session, so `notifications/cancelled` can reach it.
    pub(crate) session: Option<SessionCall>,
}

impl Shared {
    /// One `tools/call`, whichever way it arrived: the steps every call takes (name check,
    /// scope, audit row before anything leaves, the upstream or fronted server, redaction,
    /// the outcome) live below this one function, so both paths apply the same rules.
    pub(crate) async fn call_tool(
        &self,
        caller: Caller,
        name: String,
        arguments: Option<JsonObject>,
        scope: CallScope,
    ) -> Result<CallToolResult, ErrorData> {
        if !crate::text::is_tool_name(&name) {
            return Err(self.refuse_tool_name(&name, &caller));
        }
        let _cancellable = scope.session.as_ref().map(|call| call.register(scope.ct.clone()));
        let catalog = self.catalog();
        if catalog.config.tool(&name).is_none()
            && let Some((server, tool)) = self.gateway.find(&name)
        {
            let hold = Hold {
                config: &catalog.config,
                server: Some(&server.entry),
                grant: &caller.grant,
                tool: &name,
                arguments: arguments.as_ref(),
            };
            if let Err(stopped) = self.approvals.hold(hold, &scope.ct, scope.progress.as_ref()).await {
                return stopped;
            }
            let call = GatewayCall {
                shared: self,
                relay: self.gateway.relay(),
                caller,
                server,
                exposed: name,
                tool,
                arguments,
            };
            return call.run(scope.ct, scope.progress).await;
        }
        let hold = Hold {
            config: &catalog.config,
            server: None,
            grant: &caller.grant,
            tool: &name,
            arguments: arguments.as_ref(),
        };
        if let Err(stopped) = self.approvals.hold(hold, &scope.ct, scope.progress.as_ref()).await {
            return stopped;
        }
        ToolCall::new(self, catalog, caller, name, arguments).run().await
    }

    /// A name no tool can have (too long, or characters outside `A-Z a-z 0-9 _ - .`): it is
    /// audited and answered only in a bounded, escaped form.
    fn refuse_tool_name(&self, name: &str, caller: &Caller) -> ErrorData {
        let shown = crate::text::printable(name, MAX_SHOWN_NAME);
        self.denials.record_now(&keygate_vault::AuditStart {
            token_id: Some(&caller.grant.token_id),
            server: None,
            tool: &shown,
            credential: None,
            credential_version: None,
            team_version: None,
            decision: keygate_vault::Decision::Denied,
            status: Some("invalid_tool_name"),
        });
        ErrorData::invalid_params(format!("unknown tool: {shown}"), None)
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
        let audit_begins = AuditBegins::new(gate.clone());
        let shared = Shared { catalog, gateway, gate, audit_writer, audit_begins, denials, upstream, approvals };
        Self { shared: Arc::new(shared) }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
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
        // A session's call served outside its worker: `notifications/cancelled` finds it here.
        let session = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<SessionCall>())
            .cloned();
        let progress = context.meta.get_progress_token().map(|token| (token, ProgressSink::Peer(context.peer.clone())));
        let scope = CallScope { ct: context.ct, progress, session };
        self.shared.call_tool(caller, request.name.into_owned(), request.arguments, scope).await.map(Into::into)
    }
}
