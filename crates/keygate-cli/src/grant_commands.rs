//! `keygate grant create/list/revoke`: thin over the vault's grants.

use std::time::Duration;

use anyhow::Result;
use keygate_vault::{GrantInfo, GrantRequest, StoredPolicy, Timestamp, format_ttl, parse_ttl};
use serde::Serialize;

use crate::UsageError;
use crate::commands::open_vault;
use crate::grant_cli::GrantCommand;
use crate::output::{self, or_dash};

/// A grant as `--json` shows it: durations as people write them, times in RFC 3339.
#[derive(Serialize)]
struct GrantView<'a> {
    name: &'a str,
    tools: &'a [String],
    token_ttl: String,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    tokens_minted: i64,
    status: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    allow: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    approve: bool,
}

impl<'a> From<&'a GrantInfo> for GrantView<'a> {
    fn from(grant: &'a GrantInfo) -> Self {
        let time = |millis: Option<i64>| millis.map(Timestamp::from_unix_millis);
        Self {
            name: &grant.name,
            tools: &grant.tools,
            token_ttl: format_ttl(Duration::from_secs(u64::try_from(grant.token_ttl_secs).unwrap_or(0))),
            created_at: Timestamp::from_unix_millis(grant.created_at),
            expires_at: time(grant.expires_at),
            revoked_at: time(grant.revoked_at),
            last_used_at: time(grant.last_used_at),
            tokens_minted: grant.tokens_minted,
            status: grant.status.as_str(),
            allow: &grant.allow,
            approve: grant.approve,
        }
    }
}

/// A grant's or token's rules and approval, one line each (nothing when it has none).
pub(crate) fn print_policy(allow: &[String], approve: bool) -> Result<()> {
    let mut lines: Vec<String> =
        allow.iter().map(|rule| format!("allow:     {}", keygate_mcp::printable(rule, 1000))).collect();
    if approve {
        lines.push("approval:  every call waits for you (the app, or `keygate approve ID`)".into());
    }
    Ok(output::lines(lines)?)
}

/// `2 rules`, `1 rule, approve`, `approve`, or `-`.
fn policy_summary(allow: &[String], approve: bool) -> String {
    let mut parts = Vec::new();
    match allow.len() {
        0 => {}
        1 => parts.push("1 rule".to_string()),
        n => parts.push(format!("{n} rules")),
    }
    if approve {
        parts.push("approve".into());
    }
    if parts.is_empty() { "-".into() } else { parts.join(", ") }
}

fn duration_flag(flag: &str, text: Option<String>) -> Result<Option<Duration>> {
    Ok(text.map(|t| parse_ttl(&t)).transpose().map_err(|e| UsageError(format!("{flag}: {e}")))?)
}

pub fn run_grant(command: GrantCommand) -> Result<()> {
    match command {
        GrantCommand::Create { name, tools, token_ttl, expires, allow, approve, json } => {
            keygate_vault::validate_grant_name(&name).map_err(|e| UsageError(e.to_string()))?;
            let mut request = GrantRequest::new(name, tools);
            request.policy = StoredPolicy { allow, approve };
            if let Some(ttl) = duration_flag("--token-ttl", token_ttl)? {
                request.token_ttl = ttl;
            }
            request.expires_in = duration_flag("--expires", expires)?;
            let grant = open_vault()?.create_grant(&request)?;
            let view = GrantView::from(&grant);
            if json {
                return Ok(output::json(&view)?);
            }
            output::lines([
                format!("Created grant {}", view.name),
                format!("tools:     {}", view.tools.join(", ")),
                format!("token ttl: {}", view.token_ttl),
                format!(
                    "expires:   {}",
                    view.expires_at.map_or_else(|| "never (revoke to end it)".into(), |t| t.to_string())
                ),
            ])?;
            print_policy(view.allow, view.approve)?;
            output::lines([format!("Next: point an agent at `keygate connect --grant {}`", view.name)])?;
        }
        GrantCommand::Show { name, json } => {
            keygate_vault::validate_grant_name(&name).map_err(|e| UsageError(e.to_string()))?;
            let grant = open_vault()?.grant(&name)?.ok_or_else(|| keygate_vault::VaultError::GrantNotFound { name })?;
            let view = GrantView::from(&grant);
            if json {
                return Ok(output::json(&view)?);
            }
            output::lines([
                format!("grant:     {}", keygate_mcp::printable(view.name, 64)),
                format!("status:    {}", view.status),
                format!("tools:     {}", view.tools.join(", ")),
                format!("token ttl: {}", view.token_ttl),
                format!("created:   {}", view.created_at),
                format!("expires:   {}", or_dash(view.expires_at)),
                format!("last used: {}", or_dash(view.last_used_at)),
                format!("minted:    {}", view.tokens_minted),
            ])?;
            print_policy(view.allow, view.approve)?;
        }
        GrantCommand::List(flag) => {
            let grants = open_vault()?.list_grants()?;
            let views: Vec<GrantView<'_>> = grants.iter().map(GrantView::from).collect();
            let headers = ["NAME", "TOOLS", "TOKEN TTL", "STATUS", "EXPIRES", "LAST USED", "MINTED", "RULES"];
            let empty = "No grants yet: create one with `keygate grant create NAME --tool T`.";
            output::listing(&views, flag.json, &headers, empty, |g| {
                vec![
                    g.name.to_string(),
                    g.tools.join(","),
                    g.token_ttl.clone(),
                    g.status.to_string(),
                    or_dash(g.expires_at),
                    or_dash(g.last_used_at),
                    g.tokens_minted.to_string(),
                    policy_summary(g.allow, g.approve),
                ]
            })?;
        }
        GrantCommand::Revoke { name, yes } => {
            keygate_vault::validate_grant_name(&name).map_err(|e| UsageError(e.to_string()))?;
            let mut vault = open_vault()?;
            // Only an active grant is asked about: an unknown one gets the vault's own error,
            // a revoked one is already done.
            if vault.list_grants()?.iter().any(|g| g.name == name && g.revoked_at.is_none()) {
                crate::confirm::confirm(
                    &format!("Revoke grant {name} for good (agents using it stop on their next request)"),
                    yes,
                    &format!("kept grant {name}: nothing was revoked"),
                )?;
            }
            let newly = vault.revoke_grant(&name)?;
            let message = if newly {
                format!("Revoked grant {name}: every token minted under it is refused from its next request on")
            } else {
                format!("Already revoked: grant {name}")
            };
            output::lines([message])?;
        }
    }
    Ok(())
}
