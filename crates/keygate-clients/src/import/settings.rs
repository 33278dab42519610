//! The `[[server]]` entry a client's server becomes: plain values stay in config.toml, each
//! secret becomes a reference to a vault credential (one per value, reused across clients and
//! runs), an auth scheme (`Bearer `) stays as the reference's prefix.

use keygate_mcp::{NewServer, NewTransport, Setting};
use secrecy::{ExposeSecret, SecretString};

use super::names::credential_candidate;
use super::prepare::{MAX_CHOICES, Prepared};
use super::scan::{Definition, Val};
use crate::error::Result;

/// The `[[server]]` `name` would be, and its credentials: (name, field, value if new).
#[allow(clippy::type_complexity)]
pub(crate) fn new_server(
    name: &str,
    definition: &Definition,
    prepared: &Prepared,
) -> Result<(NewServer, Vec<(String, String, Option<SecretString>)>)> {
    let mut credentials: Vec<(String, String, Option<SecretString>)> = Vec::new();
    let mut settings = |values: &[(String, Val)], strip_scheme: bool| -> Result<Vec<(String, Setting)>> {
        let mut out = Vec::with_capacity(values.len());
        for (var, value) in values {
            let setting = match value {
                Val::Plain(text) => Setting::Plain(text.clone()),
                Val::Secret(secret) => {
                    let (prefix, bare) =
                        if strip_scheme { split_scheme(secret.expose_secret()) } else { ("", secret.expose_secret()) };
                    let bare = SecretString::from(bare);
                    let (credential, new) = credential_for(name, var, &bare, prepared, &credentials)?;
                    credentials.push((credential.clone(), var.clone(), new.then_some(bare)));
                    Setting::Credential { credential, prefix: prefix.to_string() }
                }
            };
            out.push((var.clone(), setting));
        }
        Ok(out)
    };
    let transport = match definition {
        Definition::Stdio { command, args, env } => {
            NewTransport::Stdio { command: command.clone(), args: args.clone(), env: settings(env, false)? }
        }
        Definition::Remote { url, headers } => {
            NewTransport::Http { url: url.clone(), headers: settings(headers, true)? }
        }
    };
    Ok((NewServer { name: name.to_string(), transport, idle_minutes: None, timeout_secs: None }, credentials))
}

/// `Bearer abc` -> (`Bearer `, `abc`): the scheme stays in config.toml, the key goes to the vault.
fn split_scheme(value: &str) -> (&str, &str) {
    for scheme in ["Bearer ", "Basic ", "Token "] {
        if value.len() > scheme.len() && value[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return value.split_at(scheme.len());
        }
    }
    ("", value)
}

/// The credential holding `value`: one already planned or in the vault with this value, or
/// the first free `<server>_<var>` name. Says whether it is new.
fn credential_for(
    server: &str,
    var: &str,
    value: &SecretString,
    prepared: &Prepared,
    pending: &[(String, String, Option<SecretString>)],
) -> Result<(String, bool)> {
    let same = |other: &SecretString| other.expose_secret() == value.expose_secret();
    let planned = prepared.new_credentials.iter().map(|c| (&c.name, &c.value));
    let pending_new = pending.iter().filter_map(|(n, _, v)| v.as_ref().map(|v| (n, v)));
    let existing = prepared.existing.iter().map(|(n, v)| (n, v));
    if let Some((name, _)) = planned.clone().chain(pending_new.clone()).chain(existing.clone()).find(|(_, v)| same(v)) {
        return Ok((name.clone(), false));
    }
    for n in 1..=MAX_CHOICES {
        let name = credential_candidate(server, var, n);
        if !planned.clone().chain(pending_new.clone()).chain(existing.clone()).any(|(taken, _)| *taken == name) {
            return Ok((name, true));
        }
    }
    Err(crate::error::ClientError::Gateway(format!("no free credential name for {server} {var}")))
}
