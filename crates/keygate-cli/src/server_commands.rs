//! `keygate server add` and `remove`: edit config.toml's `[[server]]` list in place, so nobody
//! hand-edits TOML. Secrets stay out of argv: the flags name vault credentials, never values.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use keygate_mcp::{Config, NewServer, NewTransport, Setting, Transport};
use keygate_vault::{Actor, Home, KeySource, SystemClock, Vault, VaultError};

use crate::UsageError;
use crate::output;
use crate::server_cli::{AddServer, ServerCommand};

/// Parts of a name that mark a value as a secret, which belongs in the vault.
const SECRET_WORDS: [&str; 6] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH", "CREDENTIAL"];

pub fn run_server(command: ServerCommand) -> Result<()> {
    match command {
        ServerCommand::Add(flags) => add_server(flags),
        ServerCommand::Remove { name, yes } => remove_server(&name, yes),
        ServerCommand::List(flag) => crate::server_state::list_servers(flag.json),
        ServerCommand::Tools { name, json } => crate::server_state::show_tools(&name, json),
        ServerCommand::Approve { name, tool } => crate::server_state::approve_tools(&name, tool.as_deref()),
        ServerCommand::Restart { name } => crate::server_state::restart_server(&name),
    }
}

fn add_server(flags: AddServer) -> Result<()> {
    let entry = new_server(flags)?;
    let home = Home::from_env()?;
    let path = home.config_path();
    let text = read_config(&path)?;
    // Named with its full path here; add_server only knows the text.
    Config::parse(&text, &path)?;
    let edited = keygate_mcp::add_server(&text, &entry).map_err(anyhow::Error::msg)?;
    let config = Config::parse(&edited, &path)?;
    let Some(server) = config.server(&entry.name) else { anyhow::bail!("internal: server {} not added", entry.name) };
    home.ensure_dir()?;
    keygate_mcp::write_config_atomically(&path, &edited)?;
    warn_of_missing_credentials(&home, &server.credentials());
    let reached = match &server.transport {
        Transport::Stdio { command, .. } => format!("stdio: {}", keygate_mcp::printable(command, 60)),
        // Only the host: a URL's path or query is no business of the terminal's scrollback.
        Transport::Http { url, .. } => format!("remote: {}", url.host_str().unwrap_or_default()),
    };
    output::lines([format!("Added server {0} ({reached}); its tools appear as {0}_<tool>", server.name)])?;
    Ok(())
}

fn remove_server(name: &str, yes: bool) -> Result<()> {
    let path = Home::from_env()?.config_path();
    let text = read_config(&path)?;
    // Computed first, so an unknown name is refused without a question.
    let edited = keygate_mcp::remove_server(&text, name).map_err(anyhow::Error::msg)?;
    crate::confirm::confirm(
        &format!("Remove server {name} from {} (its tools disappear for every agent)", path.display()),
        yes,
        &format!("kept server {name}: config.toml is unchanged"),
    )?;
    keygate_mcp::write_config_atomically(&path, &edited)?;
    output::lines([format!("Removed server {name} from {}", path.display())])?;
    Ok(())
}

/// The config text; none yet is an empty file, which `server add` creates.
fn read_config(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        read => read.with_context(|| format!("cannot read {}", path.display())),
    }
}

fn new_server(flags: AddServer) -> Result<NewServer> {
    let transport = match flags.url {
        Some(url) => {
            let mut headers = plain_settings("--header", "--secret-header", &flags.headers)?;
            let prefix = flags.header_prefix.unwrap_or_default();
            headers.extend(credential_settings("--secret-header", &flags.secret_headers, &prefix)?);
            NewTransport::Http { url, headers }
        }
        None => {
            let (command, args) = flags.command.split_first().ok_or_else(|| {
                UsageError("give the server's command after `--` (e.g. `-- npx -y PACKAGE`), or --url".into())
            })?;
            let mut env = plain_settings("--env", "--secret-env", &flags.env)?;
            env.extend(credential_settings("--secret-env", &flags.secret_env, "")?);
            NewTransport::Stdio { command: command.clone(), args: args.to_vec(), env }
        }
    };
    Ok(NewServer { name: flags.name, transport, idle_minutes: flags.idle_minutes, timeout_secs: flags.timeout_secs })
}

/// `NAME=VALUE` pairs written as plain text; a name that smells of a secret is refused, and
/// the value is never repeated back.
fn plain_settings(flag: &str, secret_flag: &str, pairs: &[String]) -> Result<Vec<(String, Setting)>> {
    let mut settings = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (name, value) = split_pair(flag, pair)?;
        let shown = keygate_mcp::printable(name, 40);
        let upper = name.to_ascii_uppercase();
        if SECRET_WORDS.iter().any(|word| upper.contains(word)) {
            return Err(UsageError(format!(
                "refusing {flag} {shown}=…: it looks like a secret, and the command line is readable by every \
                 process: put the value in the vault with `keygate cred add NAME` and pass `{secret_flag} {shown}=NAME`"
            ))
            .into());
        }
        settings.push((name.to_string(), Setting::Plain(value.to_string())));
    }
    Ok(settings)
}

/// `NAME=CREDENTIAL` pairs: the value is a vault credential's name, checked here so that a
/// secret typed by mistake is refused without being repeated back.
fn credential_settings(flag: &str, pairs: &[String], prefix: &str) -> Result<Vec<(String, Setting)>> {
    let mut settings = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (name, credential) = split_pair(flag, pair)?;
        if keygate_vault::validate_name(credential).is_err() {
            return Err(UsageError(format!(
                "{flag} {}=…: that is not a credential name (a-z, 0-9, `_`, `.`, `-`): it takes the name of a \
                 vault credential, never its value; add the value with `keygate cred add NAME`",
                keygate_mcp::printable(name, 40)
            ))
            .into());
        }
        settings.push((name.to_string(), Setting::Credential { credential: credential.into(), prefix: prefix.into() }));
    }
    Ok(settings)
}

/// Split at the first `=`; the errors never show the value, which may be a secret.
fn split_pair<'a>(flag: &str, pair: &'a str) -> Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name, value)),
        _ => Err(UsageError(format!("{flag} takes NAME=VALUE, the name first (the value is not shown here)")).into()),
    }
}

/// A warning per credential the vault lacks, when the vault opens without fuss; when it
/// cannot be opened (no vault yet, no key at hand), nothing is said: the server reports a
/// missing credential when it starts anyway.
fn warn_of_missing_credentials(home: &Home, credentials: &[&str]) {
    if credentials.is_empty() || !home.vault_path().exists() {
        return;
    }
    let Ok(source) = KeySource::from_env() else { return };
    let Ok(vault) = Vault::open(home, source, Arc::new(SystemClock), Actor::Cli) else { return };
    for name in credentials {
        if let Err(VaultError::CredentialNotFound { .. }) = vault.credential_info(name) {
            let _ = writeln!(
                std::io::stderr(),
                "keygate: warning: credential {name} is not in the vault yet: add it with `keygate cred add {name}`"
            );
        }
    }
}
