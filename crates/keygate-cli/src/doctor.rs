//! `keygate doctor`: one line per check, `ok` or `problem`, exit 1 if any problem. A check is
//! a function from the shared `Context` to a `Finding`; add one by writing it and listing it
//! in `CHECKS`. The context opens the vault at most once for every check that needs it.

use std::sync::Arc;

use anyhow::Result;
use keygate_vault::{Actor, Home, KeySource, MASTER_KEY_ENV, SystemClock, Vault, VaultError};

use crate::output;

/// What one check found.
pub enum Finding {
    /// Fine, and what was seen.
    Ok(String),
    /// Wrong, what is wrong and what to do.
    Problem(String),
}

/// One named check.
struct Check {
    name: &'static str,
    run: fn(&mut Context) -> Finding,
}

/// The checks, in the order they print.
const CHECKS: &[Check] = &[
    Check { name: "config", run: config },
    Check { name: "vault", run: vault },
    Check { name: "master key", run: master_key },
    Check { name: "rows", run: rows },
    Check { name: "audit", run: audit_chain },
    Check { name: "rotation log", run: rotation_chain },
    Check { name: "rotators", run: crate::cred_commands::doctor_rotators },
    Check { name: "process", run: process },
    Check { name: "agent socket", run: agent_socket },
];

/// What the checks share: the home, and the vault opened once.
pub struct Context {
    home: Home,
    opened: Option<std::result::Result<Vault, VaultError>>,
}

impl Context {
    /// The Keygate home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The vault, opened on first use with the configured key source.
    pub fn vault(&mut self) -> std::result::Result<&mut Vault, &VaultError> {
        let home = &self.home;
        let opened = self
            .opened
            .get_or_insert_with(|| Vault::open(home, KeySource::from_env()?, Arc::new(SystemClock), Actor::Cli));
        opened.as_mut().map_err(|e| &*e)
    }
}

pub fn doctor() -> Result<()> {
    let mut context = Context { home: Home::from_env()?, opened: None };
    let mut problems = 0;
    let mut lines = Vec::with_capacity(CHECKS.len());
    for check in CHECKS {
        let (word, text) = match (check.run)(&mut context) {
            Finding::Ok(text) => ("ok", text),
            Finding::Problem(text) => {
                problems += 1;
                ("problem", text)
            }
        };
        lines.push(format!("{word:<8} {}: {}", check.name, keygate_mcp::printable(&text, 400)));
    }
    output::lines(lines)?;
    match problems {
        0 => Ok(()),
        1 => anyhow::bail!("1 problem found"),
        n => anyhow::bail!("{n} problems found"),
    }
}

fn config(context: &mut Context) -> Finding {
    let path = context.home.config_path();
    match keygate_mcp::Config::load(&path) {
        Ok(config) => Finding::Ok(format!(
            "{} parses ({} tools, {} servers)",
            path.display(),
            config.tools.len(),
            config.servers.len()
        )),
        Err(e) => Finding::Problem(format!("{e}; fix it and run `keygate doctor` again")),
    }
}

fn vault(context: &mut Context) -> Finding {
    let path = context.home.vault_path();
    match context.vault() {
        Ok(vault) => match vault.list_credentials() {
            Ok(credentials) => Finding::Ok(format!("{} opens ({} credentials)", path.display(), credentials.len())),
            Err(e) => Finding::Problem(format!("{} opens but cannot be read: {e}", path.display())),
        },
        Err(e) => Finding::Problem(format!("{} does not open: {e}", path.display())),
    }
}

/// Rows that decide something (tokens, grants, credentials, pins, the OAuth server's rows)
/// carry MACs; a row that does not verify was changed without the master key.
fn rows(context: &mut Context) -> Finding {
    let findings = match context.vault() {
        Ok(vault) => vault.verify_rows().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match findings {
        Ok(findings) if findings.is_empty() => {
            Finding::Ok("every token, grant, credential, pin and OAuth row verifies".into())
        }
        Ok(findings) => {
            let named: Vec<String> = findings
                .iter()
                .take(5)
                .map(|f| format!("{}: {}", keygate_mcp::printable(&f.row, 80), keygate_mcp::printable(&f.problem, 120)))
                .collect();
            Finding::Problem(format!(
                "{} row(s) changed outside Keygate ({}): restore vault.db from a backup, or revoke and re-add them",
                findings.len(),
                named.join("; ")
            ))
        }
        Err(e) => Finding::Problem(format!("cannot check the rows: {e}")),
    }
}

fn audit_chain(context: &mut Context) -> Finding {
    let report = match context.vault() {
        Ok(vault) => vault.verify_audit().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    chain_finding(report, "keygate audit verify")
}

fn rotation_chain(context: &mut Context) -> Finding {
    let report = match context.vault() {
        Ok(vault) => vault.verify_rotation_log().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    chain_finding(report, "keygate log verify")
}

fn chain_finding(report: Result<keygate_vault::ChainReport, String>, command: &str) -> Finding {
    match report {
        Ok(report) if report.is_intact() => Finding::Ok(format!("intact ({report})")),
        Ok(report) => Finding::Problem(format!("{report}: rows were edited, removed or inserted; see `{command}`")),
        Err(e) => Finding::Problem(format!("cannot verify it: {e}")),
    }
}

fn master_key(context: &mut Context) -> Finding {
    match KeySource::from_env() {
        Ok(KeySource::Given(_)) => Finding::Ok(format!("from {MASTER_KEY_ENV}; the OS keychain is not used")),
        Ok(_) => match context.vault() {
            Ok(_) => Finding::Ok("the OS keychain is reachable and holds this vault's key".into()),
            Err(e @ (VaultError::KeychainUnavailable { .. } | VaultError::MasterKeyMissing { .. })) => {
                Finding::Problem(e.to_string())
            }
            Err(_) => Finding::Ok("not checked: the vault did not open (see above)".into()),
        },
        Err(e) => Finding::Problem(e.to_string()),
    }
}

fn process(_: &mut Context) -> Finding {
    // `main` hardened this process as it does every keygate process (serve and connect too).
    let state = keygate_mcp::process_hardening();
    let mut seen = Vec::new();
    match state.core_dumps_off {
        Some(true) => seen.push("core dumps off"),
        Some(false) => seen.push("core dumps ON (RLIMIT_CORE could not be set to 0)"),
        None => {}
    }
    match state.not_dumpable {
        Some(true) => seen.push("not dumpable (no ptrace or /proc memory reads by other processes)"),
        Some(false) => seen.push("dumpable (PR_SET_DUMPABLE 0 was refused)"),
        None => {}
    }
    if seen.is_empty() {
        return Finding::Ok("this OS offers no core-dump or dumpable switch Keygate uses".into());
    }
    let text = seen.join(", ");
    if state.complete() { Finding::Ok(text) } else { Finding::Problem(text) }
}

/// Not a valid grant name, so the server answers `bad_request` and never mints.
const PROBE: &str = "doctor probe";

fn agent_socket(context: &mut Context) -> Finding {
    let path = keygate_mcp::socket_path(context.home.dir());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return Finding::Problem(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(keygate_mcp::mint_token(context.home.dir(), PROBE)) {
        Err(keygate_mcp::MintError::Refused { code, .. }) if code == "bad_request" => {
            Finding::Ok(format!("{} answers: Keygate is serving this home", path.display()))
        }
        Err(e) => Finding::Problem(e.to_string()),
        Ok(_) => Finding::Problem(format!("{} minted a token for an invalid grant name", path.display())),
    }
}
