//! Each command: open the vault, call it, print. No logic of its own.

use std::sync::Arc;

use anyhow::Result;
use keygate_vault::{
    Actor, CredentialInfo, Home, KEYCHAIN_SERVICE, KeySource, MASTER_KEY_ENV, SystemClock, TokenRequest, Vault,
    parse_ttl,
};

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::UsageError;
use crate::cli::{Command, CredCommand, RefusedSecret, TokenCommand};
use crate::output::{self, or_dash};
use crate::secret_input::read_value;

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Init => init(),
        Command::Cred(cred) => run_cred(cred),
        Command::Token(args) => match (args.command, args.grant) {
            (Some(command), _) => run_token(command),
            (None, Some(grant)) => crate::serve::print_grant_headers(args.home, &grant),
            (None, None) => {
                crate::print_help_for(["token".to_string()].into_iter());
                Err(UsageError("name a subcommand, or mint with `keygate token --grant NAME --headers`".into()).into())
            }
        },
        Command::Server(server) => crate::server_commands::run_server(server),
        Command::Client(client) => crate::client_commands::run_client(client),
        Command::Import(args) => crate::import_commands::run_import(&args),
        Command::Grant(grant) => crate::grant_commands::run_grant(grant),
        Command::Log(args) => crate::audit_cli::run_log(args),
        Command::Audit(args) => crate::audit_cli::run_audit(args),
        Command::Doctor => crate::doctor::doctor(),
        Command::Rekey => crate::rekey::rekey(),
        Command::Status(flag) => crate::status::status(flag.json),
        Command::Tools(flag) => crate::tools_cli::list_tools(flag.json),
        Command::Reload(flag) => crate::reload::reload(flag.json),
        Command::Team(team) => crate::team_commands::run_team(team),
        Command::Approvals(flag) => crate::approvals_cli::list(flag.json),
        Command::Approve { id, allow_for } => crate::approvals_cli::decide(&id, true, allow_for),
        Command::Deny { id } => crate::approvals_cli::decide(&id, false, None),
        Command::Serve { bind } => crate::serve::serve(bind),
        Command::Connect { grant: Some(grant), home, .. } => crate::serve::connect_grant(home, &grant),
        Command::Connect { grant: None, url, .. } => crate::serve::connect(url),
    }
}

pub fn open_vault() -> Result<Vault> {
    let home = Home::from_env()?;
    Ok(Vault::open(&home, KeySource::from_env()?, Arc::new(SystemClock), Actor::Cli)?)
}

fn init() -> Result<()> {
    let home = Home::from_env()?;
    let report = Vault::init(&home, KeySource::from_env()?, &SystemClock)?;
    let key_line = match &report.keychain_account {
        Some(account) => format!("master key: in the OS keychain (service `{KEYCHAIN_SERVICE}`, account `{account}`)"),
        None => format!("master key: from {MASTER_KEY_ENV} (keep it safe: without it the vault cannot be opened)"),
    };
    let config_line = if report.config_written {
        format!("config:     {} (default written)", report.config_path.display())
    } else {
        format!("config:     {} (kept as it was)", report.config_path.display())
    };
    output::lines([
        format!("Created vault {} at {}", report.vault_id, report.vault_path.display()),
        key_line,
        config_line,
        "Next: keygate cred add NAME   (the value is read from stdin or a hidden prompt)".to_string(),
    ])?;
    Ok(())
}

pub(crate) fn refuse_secret_in_argv(refused: &RefusedSecret) -> Result<()> {
    if refused.is_present() {
        return Err(UsageError(
            "refusing a secret on the command line, where every process can read it: pipe it on stdin \
             (e.g. `keygate cred add NAME < keyfile`) or run without it to type it at a hidden prompt"
                .into(),
        )
        .into());
    }
    Ok(())
}

fn run_cred(command: CredCommand) -> Result<()> {
    match command {
        CredCommand::Add { name, max_age_days, team, refused } => {
            refuse_secret_in_argv(&refused)?;
            keygate_vault::validate_name(&name)?;
            let mut vault = open_vault()?;
            let value = read_value(&name)?;
            if team {
                return crate::team_commands::add(&mut vault, &name, &value, max_age_days);
            }
            let info = vault.add_credential(&name, &value, max_age_days)?;
            output::lines([format!(
                "Added {} (version {}, due for rotation every {} days, next at {})",
                info.name, info.version, info.max_age_days, info.due_at
            )])?;
        }
        CredCommand::Rotate { name, refused } => {
            refuse_secret_in_argv(&refused)?;
            crate::cred_commands::rotate(&name)?
        }
        CredCommand::Remove { name, yes } => {
            let mut vault = open_vault()?;
            confirm_removal(&vault, &name, yes)?;
            if crate::team_commands::is_team_copy(&vault, &name)? {
                return crate::team_commands::remove(&mut vault, &name);
            }
            vault.remove_credential(&name)?;
            output::lines([format!("Removed {name} and erased its stored values")])?;
        }
        CredCommand::List(flag) => {
            let vault = open_vault()?;
            list_credentials(&vault.list_credentials()?, &vault.team_versions()?, flag.json)?
        }
        CredCommand::Show { name, json } => crate::cred_commands::show(&name, json.json)?,
        CredCommand::Rollback { name } => crate::cred_commands::rollback(&name)?,
        CredCommand::Set { name, max_age_days, grace } => {
            crate::cred_commands::set_policy(&name, max_age_days, grace.as_deref())?
        }
    }
    Ok(())
}

/// Removing erases every stored version for good: ask at a terminal, else require `--yes`.
fn confirm_removal(vault: &Vault, name: &str, yes: bool) -> Result<()> {
    if !vault.list_credentials()?.iter().any(|c| c.name == name) {
        return Ok(()); // an unknown name: the vault says "no credential named ..." in its own words
    }
    crate::confirm::confirm(
        &format!("Remove {name} and erase every stored version for good (this cannot be undone)"),
        yes,
        &format!("kept {name}: nothing was removed"),
    )
}

/// A credential as `cred list` shows it: where it comes from beside its info.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    info: &'a CredentialInfo,
    /// `local`, or `team` for a copy of the team's OpenBao secret.
    source: &'static str,
    /// The team version the copy holds.
    team_version: Option<i64>,
}

fn list_credentials(
    credentials: &[CredentialInfo],
    team: &std::collections::BTreeMap<String, i64>,
    json: bool,
) -> Result<()> {
    let listed: Vec<Listed> = credentials
        .iter()
        .map(|info| {
            let team_version = team.get(&info.name).copied();
            Listed { info, source: if team_version.is_some() { "team" } else { "local" }, team_version }
        })
        .collect();
    let headers = ["NAME", "SOURCE", "VERSION", "CREATED", "ROTATED", "MAX AGE", "STATE", "DUE AT"];
    let empty = "No credentials yet: add one with `keygate cred add NAME`.";
    Ok(output::listing(&listed, json, &headers, empty, |l| {
        let c = l.info;
        let source = match l.team_version {
            Some(v) => format!("team v{v}"),
            None => "local".to_string(),
        };
        vec![
            c.name.clone(),
            source,
            c.version.to_string(),
            c.created_at.to_string(),
            or_dash(c.rotated_at),
            format!("{}d", c.max_age_days),
            if c.due {
                "due"
            } else if c.due_soon {
                "due soon"
            } else {
                "ok"
            }
            .to_string(),
            c.due_at.to_string(),
        ]
    })?)
}

#[derive(Serialize)]
struct CreatedToken<'a> {
    id: &'a str,
    token: &'a str,
    tools: &'a [String],
    label: Option<&'a str>,
    expires_at: keygate_vault::Timestamp,
}

fn run_token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create { tools, ttl, label, allow, approve, client, json } => {
            if let Some(client) = client {
                return Err(UsageError(format!(
                    "--client is gone (it put a token in the agent's config): run `keygate client connect {} --grant NAME`, \
                     which writes a config with no secret in it",
                    keygate_mcp::printable(&client, 32)
                ))
                .into());
            }
            let ttl = ttl.map(|t| parse_ttl(&t)).transpose().map_err(|e| UsageError(format!("--ttl: {e}")))?;
            refuse_undefined_tools(&tools)?;
            let request = TokenRequest { tools, ttl, label };
            let policy = keygate_vault::StoredPolicy { allow, approve };
            let issued = open_vault()?.issue_token_with_policy(&request, &policy)?;
            let token = issued.token.expose_secret();
            if json {
                let created = CreatedToken {
                    id: &issued.id,
                    token,
                    tools: &issued.tools,
                    label: issued.label.as_deref(),
                    expires_at: issued.expires_at,
                };
                return Ok(output::json(&created)?);
            }
            output::lines([
                "Token (shown only this once; copy it now):".to_string(),
                format!("  {token}"),
                format!("id:      {}", issued.id),
                format!("tools:   {}", issued.tools.join(", ")),
                format!("label:   {}", or_dash(issued.label.as_deref())),
                format!("expires: {}", issued.expires_at),
            ])?;
            crate::grant_commands::print_policy(&policy.allow, policy.approve)?;
        }
        TokenCommand::List(flag) => {
            let headers = ["ID", "LABEL", "GRANT", "TOOLS", "STATUS", "EXPIRES", "LAST USED", "USES"];
            let empty = "No tokens yet: issue one with `keygate token create --tool T`.";
            output::listing(&open_vault()?.list_tokens()?, flag.json, &headers, empty, |t| {
                vec![
                    t.id.clone(),
                    or_dash(t.label.as_deref()),
                    or_dash(t.grant.as_deref()),
                    t.tools.join(","),
                    t.status.as_str().to_string(),
                    t.expires_at.to_string(),
                    or_dash(t.last_used_at),
                    t.uses.to_string(),
                ]
            })?;
        }
        TokenCommand::Revoke { id } => {
            let newly = open_vault()?.revoke_token(&id)?;
            let message = if newly { "Revoked token" } else { "Already revoked: token" };
            output::lines([format!("{message} {id}")])?;
        }
    }
    Ok(())
}

/// Refuse scopes no `[[tool]]` or `[[server]]` in config.toml defines (a typo would make a
/// useless token), naming what is defined. `SERVER_tool` counts as defined when the server is
/// (its tools are known only once it runs), and a `prefix_*` pattern when it covers one.
pub fn refuse_undefined_tools(scopes: &[String]) -> Result<()> {
    let Ok(config) = keygate_mcp::Config::load(&Home::from_env().map(|h| h.config_path()).unwrap_or_default()) else {
        return Ok(()); // a broken config is reported by `serve`, `status` and `doctor`, not here
    };
    let tools: Vec<&str> = config.tools.iter().map(|t| t.name.as_str()).collect();
    let servers: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
    let defined = |scope: &str| {
        tools.contains(&scope)
            || scope.split_once('_').is_some_and(|(server, _)| servers.contains(&server))
            || tools.iter().any(|tool| keygate_vault::scope_covers(scope, tool))
    };
    // A name no tool could have is left to the vault, whose error states the rule.
    let well_formed = |scope: &str| keygate_mcp::is_tool_name(scope.strip_suffix('*').unwrap_or(scope));
    let undefined: Vec<String> = scopes
        .iter()
        .filter(|scope| well_formed(scope) && !defined(scope))
        .map(|t| keygate_mcp::printable(t, 80))
        .collect();
    if undefined.is_empty() {
        return Ok(());
    }
    let mut known: Vec<String> = tools.iter().map(|t| t.to_string()).collect();
    known.extend(servers.iter().map(|s| format!("{s}_<tool>")));
    let known = if known.is_empty() { "none yet".to_string() } else { known.join(", ") };
    Err(UsageError(format!(
        "no [[tool]] or [[server]] in config.toml defines {}; known tools: {known}. Check the spelling, or add \
         the tool to config.toml first (`keygate tools` lists them)",
        undefined.join(", ")
    ))
    .into())
}

pub fn show_log(json: bool) -> Result<()> {
    let headers = ["AT", "CREDENTIAL", "ACTION", "FROM", "TO", "ACTOR"];
    Ok(output::listing(&open_vault()?.rotation_log()?, json, &headers, "The rotation log is empty.", |e| {
        vec![
            e.at.to_string(),
            e.credential.clone(),
            e.action.clone(),
            or_dash(e.from_version),
            or_dash(e.to_version),
            e.actor.clone(),
        ]
    })?)
}

/// The credential a call used as `keygate audit` shows it: `search_key v3 (team v7)`, the
/// team version only for a team credential, the version only once opened.
fn credential_used(entry: &keygate_vault::AuditEntry) -> String {
    let Some(name) = entry.credential.as_deref() else { return "-".into() };
    let mut shown = name.to_string();
    if let Some(version) = entry.credential_version {
        shown.push_str(&format!(" v{version}"));
    }
    if let Some(team) = entry.team_version {
        shown.push_str(&format!(" (team v{team})"));
    }
    shown
}

pub fn show_audit(json: bool) -> Result<()> {
    let headers = ["AT", "TOKEN", "GRANT", "TOOL", "CREDENTIAL", "DECISION", "STATUS", "MS", "COUNT"];
    Ok(output::listing(&open_vault()?.audit_log()?, json, &headers, "No tool calls audited yet.", |e| {
        vec![
            e.at.to_string(),
            or_dash(e.token_id.as_deref()),
            or_dash(e.grant.as_deref()),
            e.tool.clone(),
            credential_used(e),
            e.decision.clone(),
            or_dash(e.status.as_deref()),
            or_dash(e.duration_ms),
            e.count.to_string(),
        ]
    })?)
}
