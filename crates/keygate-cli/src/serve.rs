//! `keygate serve` and `keygate connect`: the MCP server, and the stdio bridge to it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use keygate_mcp::Config;
use keygate_vault::{Actor, Home, KeySource, SystemClock, Vault};
use secrecy::{ExposeSecret, SecretString};

use crate::UsageError;

/// The environment variable `keygate connect` reads its token from.
const TOKEN_ENV: &str = "KEYGATE_TOKEN";

pub fn serve(bind: Option<String>) -> Result<()> {
    // rmcp logs three lines at info for every request it serves without a session ("Service
    // initialized", "input stream terminated", "serve finished"): a formatted write to
    // stderr per call, and nothing a user needs. Its warnings stay.
    init_logging("info,rmcp=warn");
    let home = Home::from_env()?;
    let config = Config::load(&home.config_path())?;
    let vault = Vault::open(&home, KeySource::from_env()?, Arc::new(SystemClock), Actor::Server)?;
    runtime()?.block_on(async {
        let server = keygate_mcp::start(config, vault, bind.as_deref()).await?;
        server.follow_home(home.config_path());
        crate::scheduled::spawn(&home);
        // The first line on stdout names the endpoint, so scripts can bind port 0 and find it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "Keygate MCP server on {} (Ctrl-C to stop)", server.url())?;
        out.flush()?;
        drop(out);
        let stop = server.stop_handle();
        tokio::spawn(async move {
            shutdown_signal().await;
            stop.cancel();
        });
        server.wait().await?;
        Ok(())
    })
}

pub fn connect(url: Option<String>) -> Result<()> {
    // The agent shows our stderr to the user; the one-line error says it all, so rmcp's own
    // transport logs stay off unless RUST_LOG asks for them.
    init_logging("warn,rmcp=off");
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()).ok_or_else(|| {
        UsageError(format!(
            "set {TOKEN_ENV} to a token from `keygate token create` (it is read from the environment so it never appears in argv)"
        ))
    })?;
    let token = SecretString::from(token);
    let url = match url {
        Some(url) => url,
        None => keygate_mcp::endpoint_url(Config::load(&Home::from_env()?.config_path())?.bind),
    };
    runtime()?.block_on(keygate_mcp::run_bridge(&url, &token))?;
    Ok(())
}

/// `keygate connect --grant NAME`: tokens come from the running Keygate, which alone opens
/// the vault, so this needs no keychain, no session bus, no HOME and no particular cwd.
pub fn connect_grant(home: Option<PathBuf>, grant: &str) -> Result<()> {
    init_logging("warn,rmcp=off");
    keygate_vault::validate_grant_name(grant).map_err(|e| UsageError(e.to_string()))?;
    let home = grant_home(home)?;
    runtime()?.block_on(keygate_mcp::run_grant_bridge(home, grant))?;
    Ok(())
}

/// `keygate token --grant NAME --headers`: one line of JSON headers for Claude Code's
/// `headersHelper`, with a token minted by the running Keygate.
pub fn print_grant_headers(home: Option<PathBuf>, grant: &str) -> Result<()> {
    keygate_vault::validate_grant_name(grant).map_err(|e| UsageError(e.to_string()))?;
    let home = grant_home(home)?;
    let minted = current_thread_runtime()?.block_on(keygate_mcp::mint_token(&home, grant))?;
    let headers = zeroize::Zeroizing::new(
        serde_json::json!({ "Authorization": format!("Bearer {}", minted.token.expose_secret()) }).to_string(),
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", headers.as_str())?;
    out.flush()?;
    Ok(())
}

/// The home named on the command line, else KEYGATE_HOME, else the OS data directory.
fn grant_home(home: Option<PathBuf>) -> Result<PathBuf> {
    Ok(match home {
        Some(dir) => dir,
        None => Home::from_env()?.dir().to_path_buf(),
    })
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Logs go to stderr (stdout is the MCP channel for `connect`); RUST_LOG overrides `default`.
fn init_logging(default: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
