//! The Agents view's clients: each agent client's config file, whether Keygate is in it and
//! under which grant, and Connect / Disconnect through keygate-clients' sealed glue (the file
//! as it was is sealed in the vault before every write), as `keygate client` does.
//!
//! Paths, grant names and errors come from files on disk: made printable and cut here.

use std::path::PathBuf;

use keygate_clients::{
    Client, ClientError, ClientStatus, EntryState, Launch, Places, commit, detect, plan_connect_sealed,
    plan_disconnect_sealed, validate_grant,
};
use keygate_mcp::printable;
use keygate_vault::GrantStatus;
use serde::Serialize;

use crate::error::AppError;
use crate::keygate_cli;
use crate::state::AppState;

const PATH_CHARS: usize = 300;
const GRANT_CHARS: usize = 40;
const ERROR_CHARS: usize = 600;

/// Where client configs are and which `keygate` they launch. The app takes the user's own
/// (from the environment, the CLI beside the app); tests give theirs.
#[derive(Debug, Clone)]
pub struct ClientEnvironment {
    /// The directories client config paths are built from.
    pub places: Places,
    /// The `keygate` CLI written into configs.
    pub keygate: PathBuf,
}

/// One client as the Agents view lists it.
#[derive(Debug, Serialize)]
pub struct ClientRow {
    client: &'static str,
    name: &'static str,
    config: String,
    installed: bool,
    exists: bool,
    /// `absent`, `connected`, `other` (a `keygate` entry Keygate did not write) or `unreadable`.
    keygate: &'static str,
    grant: Option<String>,
    problem: Option<String>,
}

impl ClientRow {
    /// Whether its config launches Keygate under a grant (Connect was done).
    pub fn is_connected(&self) -> bool {
        self.keygate == "connected"
    }
}

impl From<ClientStatus> for ClientRow {
    fn from(status: ClientStatus) -> Self {
        let (keygate, grant, problem) = match status.keygate {
            EntryState::Absent => ("absent", None, None),
            EntryState::Connected { grant } => ("connected", Some(printable(&grant, GRANT_CHARS)), None),
            EntryState::Other => ("other", None, None),
            EntryState::Unreadable { reason } => ("unreadable", None, Some(printable(&reason, ERROR_CHARS))),
        };
        Self {
            client: status.client,
            name: status.name,
            config: printable(&status.config.display().to_string(), PATH_CHARS),
            installed: status.installed,
            exists: status.exists,
            keygate,
            grant,
            problem,
        }
    }
}

/// Which `keygate` Connect would write, or why there is none.
#[derive(Debug, Serialize)]
pub struct CliView {
    path: Option<String>,
    missing: Option<AppError>,
}

/// The CLI configs would launch.
pub fn cli(state: &AppState) -> CliView {
    match keygate_binary(state) {
        Ok(path) => CliView { path: Some(printable(&path.display().to_string(), PATH_CHARS)), missing: None },
        Err(e) => CliView { path: None, missing: Some(e) },
    }
}

/// Every known client's user-level config and Keygate's entry in it.
pub fn clients(state: &AppState) -> Result<Vec<ClientRow>, AppError> {
    Ok(detect(&places(state)?).into_iter().map(ClientRow::from).collect())
}

pub(crate) fn places(state: &AppState) -> Result<Places, AppError> {
    match state.client_environment() {
        Some(env) => Ok(env.places.clone()),
        None => Ok(Places::from_env()?),
    }
}

pub(crate) fn keygate_binary(state: &AppState) -> Result<PathBuf, AppError> {
    match state.client_environment() {
        Some(env) => Ok(env.keygate.clone()),
        None => keygate_cli::find(),
    }
}

/// Connect `client` under `grant` (which must be active); what was done, in words.
pub fn connect(state: &AppState, client: &str, grant: &str, replace: bool) -> Result<String, AppError> {
    let client: Client = client.parse()?;
    validate_grant(grant)?;
    let location = places(state)?.location(client);
    let launch = Launch::for_binary(&keygate_binary(state)?, grant, state.home())?;
    let shown = printable(&location.file.display().to_string(), PATH_CHARS);
    let name = client.display_name();
    state.with_open_vault(|vault| {
        match vault.grant(grant)?.map(|g| g.status) {
            Some(GrantStatus::Active) => {}
            Some(status) => {
                let message = format!("Grant {grant} is {}: pick an active grant or create one.", status.as_str());
                return Err(AppError::new("grant_not_active", message));
            }
            None => return Err(AppError::new("grant_not_found", format!("No grant named {grant}: create it first."))),
        }
        let plan = plan_connect_sealed(vault, client, &location, &launch, replace).map_err(|e| foreign(e, &shown))?;
        if plan.changes_nothing() {
            return Ok(format!("{name} is already connected under grant {grant} ({shown})."));
        }
        commit(vault, &plan)?;
        Ok(format!(
            "Connected {name} under grant {grant}: {shown} now launches `keygate connect --grant {grant}` and holds \
             no secret. Restart {name} to pick it up."
        ))
    })
}

/// A `keygate` entry Keygate did not write, said as the view offers to deal with it.
fn foreign(err: ClientError, shown: &str) -> AppError {
    match err {
        ClientError::ForeignEntry { .. } => AppError::new(
            "foreign_entry",
            format!(
                "{shown} already has a `keygate` entry that Keygate did not write (a pasted token, perhaps). Tick \
                 \"Replace the keygate entry already there\" to put Keygate's in its place; the file as it is now \
                 is kept sealed in the vault."
            ),
        ),
        other => other.into(),
    }
}

/// Remove Keygate's entry from `client`'s config; what was done, in words.
pub fn disconnect(state: &AppState, client: &str) -> Result<String, AppError> {
    let client: Client = client.parse()?;
    let location = places(state)?.location(client);
    let shown = printable(&location.file.display().to_string(), PATH_CHARS);
    let name = client.display_name();
    state.with_open_vault(|vault| {
        let plan = plan_disconnect_sealed(vault, client, &location)?;
        if plan.changes_nothing() {
            return Ok(format!("{name} is not connected: {shown} has no keygate entry."));
        }
        commit(vault, &plan)?;
        Ok(format!("Disconnected {name}: removed Keygate's entry from {shown}; everything else is as it was."))
    })
}

impl From<ClientError> for AppError {
    fn from(err: ClientError) -> Self {
        let code = match &err {
            ClientError::Vault(inner) => inner.code(),
            ClientError::UnknownClient { .. } => "unknown_client",
            ClientError::InvalidGrant { .. } => "invalid_grant",
            ClientError::NotInstalled { .. } => "client_not_installed",
            ClientError::ForeignEntry { .. } => "foreign_entry",
            ClientError::ChangedMeanwhile { .. } => "config_changed",
            ClientError::Unparsable { .. } | ClientError::WrongShape { .. } => "config_unreadable",
            ClientError::TooLarge { .. } => "config_too_large",
            ClientError::NoHome => "no_home",
            _ => "client_config",
        };
        AppError::new(code, printable(&err.to_string(), ERROR_CHARS))
    }
}
