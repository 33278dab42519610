//! One call to a fronted server's tool, straight through: scope, a live child, the pin,
//! the audit row (refused if it cannot be written), the forwarded call with progress and
//! cancellation, the result with every injected value redacted, the audit's outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_vault::{AuditStart, CallOutcome, Decision, Denial, PinState};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification, CancelledNotificationParam,
    ClientNotification, ClientRequest, ContentBlock, JsonObject, ServerResult,
};
use rmcp::service::PeerRequestOptions;
use rmcp::{ErrorData, ServiceError};
use tokio_util::sync::CancellationToken;

use super::child::Child;
use super::downstream::Downstream;
use super::events::Relay;
use crate::access::Caller;

/// How long an answer waits for the progress notifications that came before it.
const PROGRESS_DRAIN: Duration = Duration::from_millis(500);
use crate::handler::Shared;
use crate::progress::Progress;

/// Why a call did not get its audit row.
enum Begin {
    /// Refused, with the agent's answer (already audited).
    Refused(Result<CallToolResult, ErrorData>),
    /// The child runs with keys rotated since: start a new one first.
    Rotated,
}

/// A gateway call in flight.
pub(crate) struct GatewayCall<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) relay: &'a Arc<Relay>,
    pub(crate) caller: Caller,
    pub(crate) server: Arc<Downstream>,
    /// The name agents see, `<server>_<tool>`.
    pub(crate) exposed: String,
    /// The name on the server.
    pub(crate) tool: String,
    pub(crate) arguments: Option<JsonObject>,
}

impl GatewayCall<'_> {
    /// `progress`: the agent's progress token and where to send progress, if it asked.
    pub(crate) async fn run(
        self,
        ct: CancellationToken,
        progress: Option<Progress>,
    ) -> Result<CallToolResult, ErrorData> {
        let started = Instant::now();
        if !self.caller.grant.allows(&self.exposed) {
            self.audit_refusal(Denial::OutOfScope.as_str());
            return Err(unknown_tool(&self.exposed));
        }
        if let Err(refusal) = crate::rules::check_rules(&self.caller.grant, &self.exposed, self.arguments.as_ref()) {
            self.audit_refusal(&refusal.status);
            return Ok(tool_error(refusal.message));
        }
        // One retry: a rotation found at the first try retires the child, the second gets a new one.
        let mut attempt = 0;
        let (child, audit) = loop {
            let child = match self.server.connected().await {
                Ok(child) => child,
                Err(message) => {
                    self.audit_refusal("server_unavailable");
                    return Ok(tool_error(message));
                }
            };
            match self.begin(&child) {
                Ok(audit) => break (child, audit),
                Err(Begin::Refused(answer)) => return answer,
                Err(Begin::Rotated) if attempt == 0 => self.server.retire(&child).await,
                Err(Begin::Rotated) => {
                    return Ok(tool_error(format!("server {}: its keys keep changing; try again", self.server.name())));
                }
            }
            attempt += 1;
        };
        let (status, result) = self.forward(&child, ct, progress).await;
        let outcome =
            CallOutcome { audit, token_id: self.caller.grant.token_id.clone(), status, duration: started.elapsed() };
        self.shared.audit_writer.finish(outcome).await;
        result
    }

    /// Under one vault lock: the child's keys must be current and the tool's pin approved,
    /// then the audit row is written.
    fn begin(&self, child: &Child) -> Result<keygate_vault::AuditId, Begin> {
        let name = self.server.name();
        let versions = child.injected.versions();
        let credential = match versions.as_slice() {
            [] => None,
            [(credential, _)] => Some(credential.clone()),
            many => Some(many.iter().map(|(c, v)| format!("{c}@{v}")).collect::<Vec<_>>().join(",")),
        };
        let version = match versions.as_slice() {
            [(_, version)] => Some(*version),
            _ => None,
        };
        let team_version = match child.injected.team_versions() {
            [team_version] => *team_version,
            _ => None,
        };
        let refused = |e: keygate_vault::VaultError| Begin::Refused(Ok(tool_error(format!("refused: {e}"))));
        self.shared.gate.with(|vault| {
            let (rotated, state) = vault
                .reading(|vault| (child.keys_rotated(vault), vault.tool_pin_state(name, &self.tool)))
                .map_err(refused)?;
            if rotated {
                return Err(Begin::Rotated);
            }
            let state = state.map_err(refused)?;
            let refusal = match state {
                Some(PinState::Approved) => None,
                None => Some(("unknown_tool", Err(unknown_tool(&self.exposed)))),
                Some(_) => Some((
                    "quarantined",
                    Ok(tool_error(format!(
                        "tool {} is new or changed since it was approved, so Keygate holds it back: review it with \
                         `keygate server tools {name}` and approve it with `keygate server approve {name} --tool {}`",
                        self.exposed, self.tool
                    ))),
                )),
            };
            let (status, decision) = match &refusal {
                Some((status, _)) => (Some(*status), Decision::Denied),
                None => (None, Decision::Allowed),
            };
            let start = AuditStart {
                server: Some(name),
                token_id: Some(&self.caller.grant.token_id),
                tool: &self.exposed,
                credential: credential.as_deref(),
                credential_version: version,
                team_version,
                decision,
                status,
            };
            if let Some((_, answer)) = refusal {
                self.shared.denials.record(vault, &start);
                return Err(Begin::Refused(answer));
            }
            vault.begin_audit(&start).map_err(|e| {
                Begin::Refused(Ok(tool_error(format!(
                    "refused: the call could not be audited ({e}), so it was not made"
                ))))
            })
        })
    }

    /// Send the call to the child; returns the audit status and the agent's answer.
    async fn forward(
        &self,
        child: &Arc<Child>,
        ct: CancellationToken,
        progress: Option<Progress>,
    ) -> (String, Result<CallToolResult, ErrorData>) {
        let _in_flight = child.begin_call();
        let server = self.server.name();
        let mut params = CallToolRequestParams::new(self.tool.clone());
        if let Some(arguments) = self.arguments.clone() {
            params = params.with_arguments(arguments);
        }
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let timeout = self.server.entry.timeout;
        let options = PeerRequestOptions::with_timeout(timeout).reset_timeout_on_progress();
        let handle = match child.peer().send_request_with_option(request, options).await {
            Ok(handle) => handle,
            Err(e) => {
                child.mark_gone();
                return ("server_error".into(), Ok(tool_error(describe(server, &e, timeout.as_secs(), child))));
            }
        };
        let route = progress.map(|(agent_token, agent)| {
            self.relay.route_progress(server, handle.progress_token.clone(), agent, agent_token)
        });
        let id = handle.id.clone();
        let answer = tokio::select! {
            answer = handle.await_response() => {
                if let Some(route) = &route {
                    route.delivered(PROGRESS_DRAIN).await;
                }
                answer
            }
            () = ct.cancelled() => {
                let reason = Some("cancelled by the agent".to_string());
                let cancel = CancelledNotification::new(CancelledNotificationParam::new(Some(id), reason));
                let _ = child.peer().send_notification(ClientNotification::CancelledNotification(cancel)).await;
                return ("cancelled".into(), Err(ErrorData::internal_error("cancelled", None)));
            }
        };
        match answer {
            Ok(ServerResult::CallToolResult(result)) => {
                let status = if result.is_error == Some(true) { "tool_error" } else { "ok" };
                (status.into(), Ok(redacted(result, child)))
            }
            Ok(_) => (
                "bad_reply".into(),
                Ok(tool_error(format!("server {server} answered the call with something that is not a tool result"))),
            ),
            Err(ServiceError::McpError(mut error)) => {
                error.message = child.injected.redact(&error.message).into();
                error.data = None;
                ("mcp_error".into(), Err(error))
            }
            Err(e) => {
                if matches!(e, ServiceError::TransportClosed | ServiceError::TransportSend(_)) {
                    child.mark_gone();
                }
                let status = if matches!(e, ServiceError::Timeout { .. }) { "timeout" } else { "server_error" };
                (status.into(), Ok(tool_error(describe(server, &e, timeout.as_secs(), child))))
            }
        }
    }

    fn audit_refusal(&self, status: &str) {
        let start = AuditStart {
            server: Some(self.server.name()),
            token_id: Some(&self.caller.grant.token_id),
            tool: &self.exposed,
            credential: None,
            credential_version: None,
            team_version: None,
            decision: Decision::Denied,
            status: Some(status),
        };
        self.shared.denials.record_now(&start);
    }
}

/// The result with every injected value replaced; results are checked whole (text,
/// structured content, resources), since a child may echo its environment anywhere.
fn redacted(result: CallToolResult, child: &Child) -> CallToolResult {
    let Ok(text) = serde_json::to_string(&result) else { return result };
    if !child.injected.leaks_into(&text) {
        return result;
    }
    tracing::warn!("a fronted server put one of its keys in a result; Keygate redacted it");
    serde_json::from_str(&child.injected.redact(&text))
        .unwrap_or_else(|_| tool_error("the result held a key and was withheld".into()))
}

/// What went wrong, for the agent, with any injected value redacted from what the server said.
fn describe(server: &str, error: &ServiceError, timeout_secs: u64, child: &Child) -> String {
    let text = match error {
        ServiceError::Timeout { .. } => format!(
            "server {server} did not answer within {timeout_secs}s (raise timeout_secs in its [[server]] if it needs longer)"
        ),
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            format!("server {server} stopped during the call; Keygate restarts it on the next call")
        }
        other => format!("server {server} failed the call ({other})"),
    };
    child.injected.redact(&text)
}

fn unknown_tool(name: &str) -> ErrorData {
    ErrorData::invalid_params(format!("unknown tool: {}", crate::text::printable(name, 80)), None)
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}
