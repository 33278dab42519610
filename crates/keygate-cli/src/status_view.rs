//! The text of `keygate status`, and the rule for its one next step.

use anyhow::Result;
use keygate_mcp::Readiness;

use crate::output;
use crate::status::{Status, grant_active};

/// Longest shown of a name or message from the vault or a config (escaped, then cut).
const SHOWN: usize = 120;

pub(crate) fn print(status: &Status) -> Result<()> {
    let mut lines = Vec::new();
    vault_lines(status, &mut lines);
    if status.vault.exists {
        config_lines(status, &mut lines);
        server_lines(status, &mut lines);
        team_lines(status, &mut lines);
        agent_lines(status, &mut lines);
        attention_lines(status, &mut lines);
    }
    lines.push(String::new());
    lines.push(format!("Next: {}", status.next));
    Ok(output::lines(lines)?)
}

/// The most useful single thing to do now, first match wins: start, fix what blocks calls,
/// then connect agents.
pub(crate) fn next_step(status: &Status) -> String {
    if !status.vault.exists {
        return "create the vault with `keygate init`, then add a key with `keygate cred add NAME` \
                (or move agents' plaintext keys in with `keygate import`)"
            .into();
    }
    if let Some(error) = &status.vault.error {
        return format!("the vault needs attention ({}): run `keygate doctor`", shown(error));
    }
    if let Some(error) = &status.config.error {
        return format!("fix config.toml ({}), then `keygate reload`", shown(error));
    }
    if status.vault.credentials == Some(0) {
        return "add a key with `keygate cred add NAME`, or move agents' plaintext keys in with `keygate import`"
            .into();
    }
    if let Some(tool) = status.tools_not_ready.iter().find(|t| t.readiness != Readiness::NotListed)
        && let Some(fix) = &tool.fix
    {
        return format!("{} {}: run `{fix}`", tool.tool, short_reason(tool.readiness));
    }
    if let Some(due) = status.credentials_due.iter().find(|c| c.state == "overdue") {
        return format!("rotate {0}, overdue since {1}: `keygate cred rotate {0}`", due.name, due.due_at);
    }
    if !status.server.running {
        return "start Keygate: open the Keygate app, or run `keygate serve`".into();
    }
    if !status.grants.iter().any(grant_active) {
        return "let an agent in: `keygate grant create NAME --tool TOOL`, then `keygate client connect CLIENT --grant NAME`"
            .into();
    }
    if status.clients.is_empty() {
        let grant = status.grants.iter().find(|g| grant_active(g)).map_or("NAME", |g| g.name.as_str());
        return format!(
            "connect an agent: `keygate client connect CLIENT --grant {grant}` (see `keygate client list`)"
        );
    }
    "nothing to do: see agents' calls with `keygate audit`".into()
}

fn short_reason(readiness: Readiness) -> &'static str {
    match readiness {
        Readiness::NeedsCredential => "needs a credential",
        Readiness::CredentialTampered => "has a refused credential",
        Readiness::HeldBack => "is held back",
        Readiness::NotListed => "is not listed yet",
        Readiness::Ready => "is ready",
    }
}

fn shown(text: &str) -> String {
    keygate_mcp::printable(text, SHOWN)
}

fn vault_lines(status: &Status, lines: &mut Vec<String>) {
    let vault = &status.vault;
    if !vault.exists {
        lines.push(format!("Vault:    none yet at {} (nothing is set up)", vault.path.display()));
        return;
    }
    let key = if vault.key == "env" { "master key from KEYGATE_MASTER_KEY" } else { "master key in the OS keychain" };
    let count = vault.credentials.map_or_else(String::new, |n| format!(", {n} credential(s)"));
    lines.push(format!("Vault:    {} ({key}{count})", vault.path.display()));
    if let Some(error) = &vault.error {
        lines.push(format!("          problem: {}", shown(error)));
    }
}

fn config_lines(status: &Status, lines: &mut Vec<String>) {
    let config = &status.config;
    match &config.error {
        Some(error) => lines.push(format!("Config:   {}", shown(error))),
        None => lines.push(format!(
            "Config:   {} ({} [[tool]], {} [[server]])",
            config.path.display(),
            config.tools,
            config.servers
        )),
    }
}

fn server_lines(status: &Status, lines: &mut Vec<String>) {
    let server = &status.server;
    if !server.running {
        lines.push("Server:   not running (agents cannot call tools)".into());
        return;
    }
    let pid = server.pid.map_or_else(String::new, |p| format!("pid {p}, "));
    let url = server.url.as_deref().unwrap_or("-");
    let since = server.since.map_or_else(String::new, |t| format!(", since {t}"));
    lines.push(format!("Server:   running ({pid}{url}{since})"));
    for fronted in &server.fronted {
        let error = fronted.last_error.as_deref().map_or_else(String::new, |e| format!(": {}", shown(e)));
        lines.push(format!("          server {} {}{error}", fronted.name, fronted.state));
    }
}

fn team_lines(status: &Status, lines: &mut Vec<String>) {
    let Some(team) = &status.team else { return };
    let at = |millis: i64| keygate_vault::Timestamp::from_unix_millis(millis).to_string();
    let state = match &team.last_sync {
        None => "not synced by a running Keygate yet".to_string(),
        Some(sync) => match (sync.failing_since, &sync.error) {
            (Some(since), Some((_, message))) => {
                format!("unreachable since {} ({}); calls use the last synced versions", at(since), shown(message))
            }
            _ => {
                format!("{} team credentials, synced {}", sync.credentials, sync.synced_at.map(at).unwrap_or_default())
            }
        },
    };
    lines.push(format!("Team:     {} — {state}", shown(&team.address)));
}

fn agent_lines(status: &Status, lines: &mut Vec<String>) {
    if status.grants.is_empty() {
        lines.push("Agents:   no grants yet".into());
    } else {
        lines.push("Agents:".into());
    }
    for grant in &status.grants {
        let clients: Vec<&str> = status.clients.iter().filter(|c| c.grant == grant.name).map(|c| c.name).collect();
        let used_by = if clients.is_empty() { "no agent connected".to_string() } else { clients.join(", ") };
        let last = grant.last_call.map_or_else(|| "no calls yet".to_string(), |t| format!("last call {t}"));
        lines.push(format!("          grant {} ({}): {used_by}; {last}", grant.name, grant.status));
    }
    for client in status.clients.iter().filter(|c| !status.grants.iter().any(|g| g.name == c.grant)) {
        lines.push(format!("          {} points at grant {}, which does not exist", client.name, shown(&client.grant)));
    }
}

fn attention_lines(status: &Status, lines: &mut Vec<String>) {
    for due in &status.credentials_due {
        let when = if due.state == "overdue" { "overdue since" } else { "due soon, at" };
        lines.push(format!("Due:      {} {when} {}", due.name, due.due_at));
    }
    for tool in &status.tools_not_ready {
        lines.push(format!("Tool:     {}: {}", shown(&tool.tool), shown(&tool.detail)));
    }
}
