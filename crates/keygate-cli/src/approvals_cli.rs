//! `keygate approvals`, `keygate approve ID`, `keygate deny ID`: answer the calls waiting for
//! a person at the running Keygate (through the home's `approvals/` files, see keygate-mcp's
//! approvals), when the app is not there to ask.

use std::time::Duration;

use anyhow::Result;
use keygate_mcp::{ApprovalDecision, pending_approvals};
use keygate_vault::{Home, parse_ttl};

use crate::UsageError;
use crate::output;

/// The longest "allow for": a day. Longer standing permission is what a grant is for.
const MAX_ALLOW_FOR: Duration = Duration::from_secs(24 * 60 * 60);

pub fn list(json: bool) -> Result<()> {
    let home = Home::from_env()?;
    let pending = pending_approvals(home.dir())?;
    let headers = ["ID", "TOOL", "GRANT", "WAITING SINCE", "ARGUMENTS"];
    let empty = "No call is waiting for approval.";
    output::listing(&pending, json, &headers, empty, |p| {
        let arguments: String = p.arguments.split_whitespace().collect::<Vec<_>>().join(" ");
        vec![p.id.clone(), p.tool.clone(), p.grant.clone(), p.waiting_since.clone(), arguments]
    })?;
    Ok(())
}

pub fn decide(id: &str, allow: bool, allow_for: Option<String>) -> Result<()> {
    let for_secs = match allow_for {
        None => None,
        Some(text) => {
            let length = parse_ttl(&text).map_err(|e| UsageError(format!("--for: {e}")))?;
            if length > MAX_ALLOW_FOR {
                return Err(UsageError("--for: at most 24h (for longer, give the grant the tool)".into()).into());
            }
            Some(length.as_secs())
        }
    };
    let home = Home::from_env()?;
    let decision = ApprovalDecision { allow, for_secs, by: "cli".into() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(keygate_mcp::decide_approval(home.dir(), id, &decision))?;
    let shown = keygate_mcp::printable(id, 16);
    let line = match (allow, for_secs) {
        (true, Some(secs)) => format!(
            "Approved call {shown}; the same grant may call the same tool without asking for {}",
            keygate_vault::format_ttl(Duration::from_secs(secs))
        ),
        (true, None) => format!("Approved call {shown}: it goes ahead"),
        (false, _) => format!("Denied call {shown}: the agent gets a refusal"),
    };
    output::lines([line])?;
    Ok(())
}
