//! Which tools an agent could call right now, and what stands in the way of the others: one
//! rule for `keygate tools` and the app's Tools view. A row per `[[tool]]`, and per listed
//! tool of each `[[server]]` (or one row for a server not listed yet), in config.toml's order.

use keygate_vault::{PinState, Vault, VaultError};
use serde::Serialize;

use crate::config::{Config, ServerEntry};
use crate::error::McpError;

/// Whether a tool can be called, or the first thing to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Its credentials are in the vault (and, for a server's tool, its definition is approved).
    Ready,
    /// A credential it needs is not in the vault.
    NeedsCredential,
    /// A credential it needs failed the vault's integrity check.
    CredentialTampered,
    /// A server's tool that is new or changed since approval: agents cannot use it.
    HeldBack,
    /// The server has not been started and listed yet, so its tools are unknown.
    NotListed,
}

/// One tool (or one server whose tools are not known yet) and whether it is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolReadiness {
    /// The name agents call (`<server>_<tool>` for a server's tool; `<server>_*` for a server
    /// not listed yet).
    pub tool: String,
    /// The `[[server]]` it comes from; `None` for a `[[tool]]` HTTP tool.
    pub server: Option<String>,
    /// The vault credentials it needs, in config order.
    pub credentials: Vec<String>,
    /// Ready, or the first thing to fix.
    pub readiness: Readiness,
    /// The credentials the vault lacks (for `NeedsCredential`) or refused (`CredentialTampered`).
    pub missing: Vec<String>,
    /// One line for a person: `ready`, or what is wrong.
    pub detail: String,
    /// The command that fixes it, when there is one.
    pub fix: Option<String>,
}

/// Every tool of `config`, checked against `vault` (credentials present and intact, server
/// tools approved). Reads only; never opens a credential's value.
pub fn tool_readiness(config: &Config, vault: &Vault) -> Result<Vec<ToolReadiness>, McpError> {
    let mut rows = Vec::with_capacity(config.tools.len());
    for tool in &config.tools {
        let credentials = vec![tool.credential.clone()];
        let check = check_credentials(vault, &credentials)?;
        rows.push(row(tool.name.clone(), None, credentials, check));
    }
    for server in &config.servers {
        server_rows(vault, server, &mut rows)?;
    }
    Ok(rows)
}

fn server_rows(vault: &Vault, server: &ServerEntry, rows: &mut Vec<ToolReadiness>) -> Result<(), McpError> {
    let credentials: Vec<String> = server.credentials().into_iter().map(str::to_string).collect();
    let check = check_credentials(vault, &credentials)?;
    let pins = vault.tool_pins(&server.name)?;
    let listed: Vec<_> = pins.iter().filter(|p| p.listed).collect();
    if listed.is_empty() {
        let mut unlisted = row(format!("{}_*", server.name), Some(&server.name), credentials, check);
        if unlisted.readiness == Readiness::Ready {
            unlisted.readiness = Readiness::NotListed;
            unlisted.detail = "not listed yet: its tools are known once it has started".into();
            unlisted.fix = Some(format!("keygate server restart {}", server.name));
        }
        rows.push(unlisted);
        return Ok(());
    }
    for pin in listed {
        let exposed = server.exposed_name(&pin.tool).unwrap_or_else(|_| crate::text::printable(&pin.tool, 64));
        let mut tool = row(exposed, Some(&server.name), credentials.clone(), check.clone());
        if pin.state.is_quarantined() && tool.readiness == Readiness::Ready {
            let why = if pin.state == PinState::Pending { "new" } else { "changed" };
            tool.readiness = Readiness::HeldBack;
            tool.detail = format!("held back: {why} since you approved {}'s tools", server.name);
            tool.fix = Some(format!("keygate server tools {0} && keygate server approve {0}", server.name));
        }
        rows.push(tool);
    }
    Ok(())
}

/// What the vault says of a tool's credentials: all there, some missing, or some refused.
#[derive(Debug, Clone)]
enum CredentialCheck {
    Present,
    Missing(Vec<String>),
    Tampered(Vec<String>),
}

fn check_credentials(vault: &Vault, names: &[String]) -> Result<CredentialCheck, McpError> {
    let (mut missing, mut tampered) = (Vec::new(), Vec::new());
    for name in names {
        match vault.credential_info(name) {
            Ok(_) => {}
            Err(VaultError::CredentialNotFound { .. } | VaultError::InvalidName { .. }) => missing.push(name.clone()),
            Err(VaultError::Tampered { .. }) => tampered.push(name.clone()),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(if !tampered.is_empty() {
        CredentialCheck::Tampered(tampered)
    } else if !missing.is_empty() {
        CredentialCheck::Missing(missing)
    } else {
        CredentialCheck::Present
    })
}

fn row(tool: String, server: Option<&String>, credentials: Vec<String>, check: CredentialCheck) -> ToolReadiness {
    let (readiness, missing, detail, fix) = match check {
        CredentialCheck::Present => (Readiness::Ready, Vec::new(), "ready".to_string(), None),
        CredentialCheck::Missing(names) => {
            let fix = names.iter().map(|n| format!("keygate cred add {n}")).collect::<Vec<_>>().join(" && ");
            let detail = format!("needs {}: run `{fix}`", names.join(", "));
            (Readiness::NeedsCredential, names, detail, Some(fix))
        }
        CredentialCheck::Tampered(names) => {
            let detail = format!(
                "credential {} was changed without the master key, so it is refused: see `keygate doctor`",
                names.join(", ")
            );
            (Readiness::CredentialTampered, names, detail, Some("keygate doctor".into()))
        }
    };
    ToolReadiness { tool, server: server.cloned(), credentials, readiness, missing, detail, fix }
}
