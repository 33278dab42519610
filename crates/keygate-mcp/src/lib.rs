//! Keygate's local MCP server: agents connect with scoped tokens; each tool call is checked,
//! audited, and sent upstream with a credential the agent never sees. Knows nothing of Tauri
//! or terminals.

mod access;
mod agent_socket;
mod approvals;
mod arguments;
mod audit_begin;
mod audit_writer;
mod bridge;
mod call;
mod config;
mod denials;
mod error;
mod fast_call;
#[doc(hidden)]
pub mod fuzzing;
mod gate;
mod gateway;
mod handler;
mod inline_call;
mod oauth;
mod process;
mod progress;
mod rate_limit;
mod readiness;
mod redact;
mod reload;
mod rules;
mod server;
mod serving;
mod session_calls;
mod sessions;
#[cfg(test)]
mod test_vault;
mod text;
mod upstream;
mod watch;

pub use agent_socket::{
    AGENT_SOCKET, MintError, MintedToken, mint_token, parse_request as parse_agent_request, socket_path,
};
pub use approvals::{
    APPROVALS_DIR, ApprovalDecision, ApprovalError, PendingApproval, decide_approval, pending_approvals,
};
pub use arguments::ArgumentSchema;
pub use bridge::{BridgeError, run_bridge, run_grant_bridge};
pub use config::{
    Config, DEFAULT_BIND, MAX_SERVER_NAME_LEN, Method, NewServer, NewTransport, ServerEntry, Setting, ToolConfig,
    Transport, add_server, parse_bind, remove_server, validate_server_name, write_config_atomically,
};
pub use error::McpError;
pub use gateway::{Quarantined, ServerStatus};
pub use oauth::consent_page_url;
pub use process::{ProcessHardening, harden_process, process_hardening};
pub use readiness::{Readiness, ToolReadiness, tool_readiness};
pub use reload::{PendingReload, ReloadReport, config_changes, request_reload};
pub use server::{RunningServer, endpoint_url, start};
pub use text::{MAX_TOOL_NAME_LEN, is_tool_name, printable};
pub use upstream::{Upstream, UpstreamError, UpstreamReply};
pub use watch::{REQUESTS_DIR, SERVING_FILE, STATUS_FILE, Serving, read_published, read_serving, request_restart};
