//! One tool call, straight through: check the token's scope for this tool, validate the arguments,
//! open the credential, audit, call upstream, queue the audit's outcome. The agent never sees
//! the key.

use std::sync::Arc;
use std::time::Instant;

use keygate_vault::{AuditStart, CallOutcome, Decision, Denial, TokenGrant, Vault, VaultError};
use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::access::Caller;
use crate::audit_begin::AllowedCall;
use crate::config::ToolConfig;
use crate::denials::Denials;
use crate::handler::{Catalog, Shared};

/// A call in flight.
pub(crate) struct ToolCall<'a> {
    shared: &'a Shared,
    catalog: Arc<Catalog>,
    caller: Caller,
    name: String,
    arguments: Option<Map<String, Value>>,
}

/// Everything needed to go upstream, gathered under one vault lock; the audit row is
/// committed next (`audit_begin`), before anything goes upstream.
struct Ready<'t> {
    tool: &'t ToolConfig,
    credential_version: i64,
    team_version: Option<i64>,
    credential: SecretString,
    arguments: Map<String, Value>,
}

/// Why a call stopped before going upstream.
enum Refusal {
    /// Not in scope, or no such tool: one answer for both, so scope cannot be probed.
    NotAvailable,
    /// A tool error the agent can act on (bad arguments, missing credential, no audit).
    Tool(String),
}

impl<'a> ToolCall<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        catalog: Arc<Catalog>,
        caller: Caller,
        name: String,
        arguments: Option<Map<String, Value>>,
    ) -> Self {
        Self { shared, catalog, caller, name, arguments }
    }

    pub(crate) async fn run(mut self) -> Result<CallToolResult, ErrorData> {
        let started = Instant::now();
        let shared = self.shared;
        let catalog = Arc::clone(&self.catalog);
        let tool = catalog.config.tool(&self.name);
        let arguments = self.arguments.take();
        let grant = &self.caller.grant;
        let denials = &shared.denials;
        let prepared = shared.gate.with(|vault| prepare(vault, denials, grant, &self.name, tool, arguments));
        let ready = match prepared {
            Ok(ready) => ready,
            Err(Refusal::NotAvailable) => {
                return Err(ErrorData::invalid_params(format!("unknown tool: {}", self.name), None));
            }
            Err(Refusal::Tool(message)) => return Ok(tool_error(message)),
        };
        let row = AllowedCall {
            token_id: grant.token_id.clone(),
            server: None,
            tool: self.name.clone(),
            credential: Some(ready.tool.credential.clone()),
            credential_version: Some(ready.credential_version),
            team_version: ready.team_version,
        };
        let audit = match shared.audit_begins.begin(row).await {
            Ok(audit) => audit,
            Err(e) => {
                return Ok(tool_error(format!("refused: the call could not be audited ({e}), so it was not made")));
            }
        };
        let outcome = shared.upstream.call(ready.tool, &ready.credential, &ready.arguments).await;
        drop(ready.credential);
        let (status, result) = match outcome {
            Ok(reply) if (200..300).contains(&reply.status) => (reply.status.to_string(), text_result(reply.body)),
            Ok(reply) => (
                reply.status.to_string(),
                tool_error(format!(
                    "{} answered HTTP {}: {}",
                    ready.tool.url.origin().ascii_serialization(),
                    reply.status,
                    reply.body
                )),
            ),
            Err(e) => ("upstream_error".to_string(), tool_error(e.to_string())),
        };
        // The call already happened: its outcome is written in the background (batched with
        // other calls'), and a failure there is logged, not turned into a failed call.
        let outcome = CallOutcome { audit, token_id: self.caller.grant.token_id, status, duration: started.elapsed() };
        shared.audit_writer.finish(outcome).await;
        Ok(result)
    }
}

/// Under one vault lock: check the tool is in the token's scope, validate arguments and open
/// the credential. Every refusal is audited too.
///
/// The grant was read from the vault by the access layer for this very HTTP request (expiry
/// and revocation included), so it is not read again here.
fn prepare<'t>(
    vault: &mut Vault,
    denials: &Denials,
    grant: &TokenGrant,
    name: &str,
    tool: Option<&'t ToolConfig>,
    arguments: Option<Map<String, Value>>,
) -> Result<Ready<'t>, Refusal> {
    let audit_refusal = |vault: &mut Vault, status: &str, credential: Option<&str>| {
        let start = AuditStart {
            server: None,
            token_id: Some(&grant.token_id),
            tool: name,
            credential,
            credential_version: None,
            team_version: None,
            decision: Decision::Denied,
            status: Some(status),
        };
        denials.record(vault, &start);
    };
    let tool = match tool {
        None => {
            audit_refusal(vault, "unknown_tool", None);
            return Err(Refusal::NotAvailable);
        }
        Some(_) if !grant.allows(name) => {
            audit_refusal(vault, Denial::OutOfScope.as_str(), None);
            return Err(Refusal::NotAvailable);
        }
        Some(tool) => tool,
    };
    let arguments = match tool.arguments.prepare(arguments) {
        Ok(arguments) => arguments,
        Err(message) => {
            audit_refusal(vault, "invalid_arguments", Some(&tool.credential));
            return Err(Refusal::Tool(message));
        }
    };
    if let Err(refusal) = crate::rules::check_rules(grant, name, Some(&arguments)) {
        audit_refusal(vault, &refusal.status, Some(&tool.credential));
        return Err(Refusal::Tool(refusal.message));
    }
    let opened = match vault.open_credential(&tool.credential) {
        Ok(opened) => opened,
        Err(VaultError::CredentialNotFound { .. }) => {
            audit_refusal(vault, "missing_credential", Some(&tool.credential));
            return Err(Refusal::Tool(format!(
                "credential {0} is not in the vault yet: add it with `keygate cred add {0}`",
                tool.credential
            )));
        }
        Err(e) => {
            audit_refusal(vault, "credential_error", Some(&tool.credential));
            return Err(Refusal::Tool(format!("refused: {e}")));
        }
    };
    Ok(Ready {
        tool,
        credential_version: opened.version,
        team_version: opened.team_version,
        credential: opened.value,
        arguments,
    })
}

fn text_result(text: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}
