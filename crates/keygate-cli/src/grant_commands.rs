//! `keygate grant create/list/revoke`: thin over the vault's grants.

use std::time::Duration;

use anyhow::Result;
use keygate_vault::{GrantInfo, GrantRequest, Timestamp, format_ttl, parse_ttl};
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
        }
    }
}

fn duration_flag(flag: &str, text: Option<String>) -> Result<Option<Duration>> {
    Ok(text.map(|t| parse_ttl(&t)).transpose().map_err(|e| UsageError(format!("{flag}: {e}")))?)
}

pub fn run_grant(command: GrantCommand) -> Result<()> {
    match command {
        GrantCommand::Create { name, tools, token_ttl, expires, json } => {
            keygate_vault::validate_grant_name(&name).map_err(|e| UsageError(e.to_string()))?;
            let mut request = GrantRequest::new(name, tools);
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
                format!("Next: point an agent at `keygate connect --grant {}`", view.name),
            ])?;
        }
        GrantCommand::List(flag) => {
            let grants = open_vault()?.list_grants()?;
            let views: Vec<GrantView<'_>> = grants.iter().map(GrantView::from).collect();
            let headers = ["NAME", "TOOLS", "TOKEN TTL", "STATUS", "EXPIRES", "LAST USED", "MINTED"];
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
