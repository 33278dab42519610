//! Planning a whole import before anything is written: server names, credentials (one per
//! value, however many clients hold it), `[[server]]` entries, a grant per client and each
//! client's file edit. A client whose file cannot be planned is left out, the rest go on.

use std::path::Path;

use keygate_mcp::{Config, NewServer, NewTransport, Setting};
use keygate_vault::{GrantStatus, Home, Vault};
use secrecy::SecretString;

use super::names::{server_base, server_candidate};
use super::report::{PlannedCredential, PlannedGrant, PlannedServer, ServerMapping};
use super::scan::{ClientScan, Definition};
use super::settings::new_server;
use crate::client::Client;
use crate::error::Result;
use crate::plan::{Launch, Plan};
use crate::sealed::ownership;

/// How many numbered choices of a name are tried before giving up on it.
pub(crate) const MAX_CHOICES: usize = 50;

/// A credential to add, with its value (never shown).
pub(crate) struct NewCredential {
    pub(crate) name: String,
    pub(crate) value: SecretString,
}

/// Everything an import will do, computed from the files and the vault as they are now.
#[derive(Default)]
pub struct Prepared {
    /// Each client's server, and the Keygate server it becomes.
    pub mappings: Vec<ServerMapping>,
    /// The `[[server]]` entries used.
    pub servers: Vec<PlannedServer>,
    /// The vault credentials used.
    pub credentials: Vec<PlannedCredential>,
    /// One grant per client imported.
    pub grants: Vec<PlannedGrant>,
    /// Clients left out, and why (their files stay as they are).
    pub skipped: Vec<(Client, String)>,
    pub(crate) new_credentials: Vec<NewCredential>,
    pub(crate) new_servers: Vec<NewServer>,
    pub(crate) config_before: Option<String>,
    pub(crate) plans: Vec<Plan>,
    /// The vault's credentials (name, value): a value already there is used, not added again.
    pub(crate) existing: Vec<(String, SecretString)>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("mappings", &self.mappings)
            .field("servers", &self.servers)
            .field("credentials", &self.credentials)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// The client file edits, in order.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }
}

/// Plan importing what `scans` found. `binary` is the `keygate` the clients will launch.
pub fn prepare(vault: &Vault, home: &Home, binary: &Path, scans: &[ClientScan]) -> Result<Prepared> {
    let config_path = home.config_path();
    let config_before = match std::fs::read_to_string(&config_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(crate::error::io_error("read", &config_path)(e)),
    };
    let config = Config::parse(config_before.as_deref().unwrap_or(""), &config_path)
        .map_err(|e| crate::error::ClientError::Gateway(format!("{e} (fix config.toml first)")))?;
    let mut existing = Vec::new();
    for info in vault.list_credentials()? {
        existing.push((info.name.clone(), vault.open_credential(&info.name)?.value));
    }
    let mut prepared = Prepared { config_before, existing, ..Prepared::default() };
    for scanned in scans {
        let Some(text) = scanned.text.as_deref() else { continue };
        if scanned.importable().next().is_none() {
            continue;
        }
        let saved = prepared.snapshot();
        if let Err(e) = plan_client(vault, home, binary, &config, scanned, text, &mut prepared) {
            prepared.restore(saved);
            prepared.skipped.push((scanned.client, e.to_string()));
        }
    }
    Ok(prepared)
}

fn plan_client(
    vault: &Vault,
    home: &Home,
    binary: &Path,
    config: &Config,
    scanned: &ClientScan,
    text: &str,
    prepared: &mut Prepared,
) -> Result<()> {
    let client = scanned.client;
    let mut tools = Vec::new();
    let mut names = Vec::new();
    for found in scanned.importable() {
        let Some(definition) = &found.definition else { continue };
        let label = format!("{client} {}", found.name);
        let server = place_server(config, definition, &found.key, &label, prepared)?;
        prepared.mappings.push(ServerMapping { client, name: found.name.clone(), server: server.clone() });
        tools.push(format!("{server}_*"));
        names.push(found.key.clone());
    }
    let owned = ownership(vault, client, &scanned.location.file)?.map(|(o, _)| o);
    // A `keygate` entry already there keeps what its grant allowed.
    if let Some(grant) =
        owned.as_ref().and_then(|o| o.args.windows(2).find(|w| w[0] == "--grant").map(|w| w[1].clone()))
        && let Some(info) = vault.grant(&grant)?.filter(|g| g.status == GrantStatus::Active)
    {
        tools.extend(info.tools);
    }
    tools.sort();
    tools.dedup();
    let grant = choose_grant(vault, client, &tools, prepared)?;
    let launch = Launch::for_binary(binary, &grant.name, home)?;
    let plan = super::edit::plan_import(client, &scanned.location, text, &names, &launch, owned.as_ref())?;
    prepared.grants.push(grant);
    prepared.plans.push(plan);
    Ok(())
}

/// The Keygate server for a client's entry: an identical one already planned or in config.toml
/// is shared; otherwise the first free name from the client's.
fn place_server(
    config: &Config,
    definition: &Definition,
    key: &str,
    label: &str,
    prepared: &mut Prepared,
) -> Result<String> {
    let base = server_base(key);
    for n in 1..=MAX_CHOICES {
        let name = server_candidate(&base, n);
        let (entry, credentials) = new_server(&name, definition, prepared)?;
        if let Some(planned) = prepared.servers.iter().find(|s| s.name == name) {
            let same = match prepared.new_servers.iter().find(|s| s.name == name) {
                Some(planned_entry) => *planned_entry == entry,
                None => config.server(&name).is_some_and(|existing| same_server(existing, &entry)),
            };
            if same && planned.credentials == credential_names(&entry) {
                note_credentials(prepared, credentials, label);
                return Ok(name);
            }
            continue;
        }
        let new = match config.server(&name) {
            Some(existing) => {
                if !same_server(existing, &entry) {
                    continue;
                }
                false
            }
            None => true,
        };
        prepared.servers.push(PlannedServer {
            name: name.clone(),
            transport: if matches!(entry.transport, NewTransport::Stdio { .. }) { "stdio" } else { "remote" },
            credentials: credential_names(&entry),
            new,
        });
        if new {
            prepared.new_servers.push(entry);
        }
        note_credentials(prepared, credentials, label);
        return Ok(name);
    }
    Err(crate::error::ClientError::Gateway(format!("no free server name for {label}")))
}

/// Whether `existing` in config.toml is what import would add as `entry`.
fn same_server(existing: &keygate_mcp::ServerEntry, entry: &NewServer) -> bool {
    keygate_mcp::add_server("", entry)
        .ok()
        .and_then(|text| Config::parse(&text, Path::new("config.toml")).ok())
        .and_then(|config| config.server(&entry.name).map(|s| s.transport == existing.transport))
        .unwrap_or(false)
}

fn credential_names(entry: &NewServer) -> Vec<String> {
    let settings = match &entry.transport {
        NewTransport::Stdio { env, .. } => env,
        NewTransport::Http { headers, .. } => headers,
    };
    settings
        .iter()
        .filter_map(|(_, s)| match s {
            Setting::Credential { credential, .. } => Some(credential.clone()),
            Setting::Plain(_) => None,
        })
        .collect()
}

/// Record where each credential's value was found; new ones are added at apply.
fn note_credentials(prepared: &mut Prepared, credentials: Vec<(String, String, Option<SecretString>)>, label: &str) {
    for (name, field, value) in credentials {
        let found_in = format!("{label} {field}");
        match prepared.credentials.iter_mut().find(|c| c.name == name) {
            Some(planned) => planned.found_in.push(found_in),
            None => {
                prepared.credentials.push(PlannedCredential {
                    name: name.clone(),
                    new: value.is_some(),
                    found_in: vec![found_in],
                });
                if let Some(value) = value {
                    prepared.new_credentials.push(NewCredential { name, value });
                }
            }
        }
    }
}

/// The client's grant: its id (or `<id>-2`, ...): reused when active with exactly these tools,
/// created anew when free (never used, revoked or expired).
fn choose_grant(vault: &Vault, client: Client, tools: &[String], prepared: &Prepared) -> Result<PlannedGrant> {
    for n in 1..=MAX_CHOICES {
        let name = if n == 1 { client.id().to_string() } else { format!("{}-{n}", client.id()) };
        if prepared.grants.iter().any(|g| g.name == name) {
            continue;
        }
        let planned = |new| PlannedGrant { client, name: name.clone(), tools: tools.to_vec(), new };
        match vault.grant(&name)? {
            Some(info) if info.status == GrantStatus::Active && info.tools == tools => return Ok(planned(false)),
            Some(info) if info.status == GrantStatus::Active => continue,
            _ => return Ok(planned(true)),
        }
    }
    Err(crate::error::ClientError::Gateway(format!("no free grant name for {client}")))
}

impl Prepared {
    fn snapshot(&self) -> (usize, usize, usize, usize, usize, Vec<Vec<String>>) {
        (
            self.mappings.len(),
            self.servers.len(),
            self.credentials.len(),
            self.new_credentials.len(),
            self.new_servers.len(),
            self.credentials.iter().map(|c| c.found_in.clone()).collect(),
        )
    }

    fn restore(
        &mut self,
        (mappings, servers, credentials, new_credentials, new_servers, found): (
            usize,
            usize,
            usize,
            usize,
            usize,
            Vec<Vec<String>>,
        ),
    ) {
        self.mappings.truncate(mappings);
        self.servers.truncate(servers);
        self.credentials.truncate(credentials);
        self.new_credentials.truncate(new_credentials);
        self.new_servers.truncate(new_servers);
        for (planned, found_in) in self.credentials.iter_mut().zip(found) {
            planned.found_in = found_in;
        }
    }
}
