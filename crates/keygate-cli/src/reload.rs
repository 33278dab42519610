//! `keygate reload`: the running Keygate (serve or the app's agent) reads config.toml again
//! now and says what changed; a broken file is named with its line and the old config stays.
//! Keygate also follows the file by itself within a second; this is for "now, and tell me".

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use keygate_mcp::{Config, ReloadReport};
use keygate_vault::Home;
use serde::Serialize;

use crate::output;

/// How long to wait for the running Keygate (it looks for requests once a second).
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The JSON shape: the report, and whether a running Keygate made it.
#[derive(Serialize)]
struct Reloaded<'a> {
    running: bool,
    #[serde(flatten)]
    report: &'a ReloadReport,
}

pub fn reload(json: bool) -> Result<()> {
    let home = Home::from_env()?;
    let running = crate::status::running_server(home.dir()).is_some();
    let report = if running { ask_running(&home)? } else { check_only(&home) };
    if json {
        output::json(&Reloaded { running, report: &report })?;
    }
    if let Some(error) = &report.error {
        let kept =
            if running { "Keygate keeps serving the previous config" } else { "Keygate would not start with it" };
        anyhow::bail!("config.toml not reloaded ({kept}): {error}; fix it and run `keygate reload` again");
    }
    if !json {
        print(&report, running)?;
    }
    Ok(())
}

fn ask_running(home: &Home) -> Result<ReloadReport> {
    let pending = keygate_mcp::request_reload(home.dir()).context("cannot ask the running Keygate to reload")?;
    let deadline = Instant::now() + ANSWER_WAIT;
    loop {
        if let Some(report) = pending.answer() {
            return Ok(report);
        }
        if Instant::now() >= deadline {
            pending.cancel();
            anyhow::bail!(
                "the running Keygate did not answer within {}s: is it still running? (`keygate status`)",
                ANSWER_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// No Keygate runs: check the file, so a mistake is found before the next start.
fn check_only(home: &Home) -> ReloadReport {
    let config = home.config_path();
    let error = Config::load(&config).err().map(|e| e.to_string());
    ReloadReport { config, changes: Vec::new(), error }
}

fn print(report: &ReloadReport, running: bool) -> Result<()> {
    let path = report.config.display();
    if !running {
        return Ok(output::lines([format!(
            "{path} is valid. Keygate is not running: it is read when Keygate starts (`keygate serve` or the app)"
        )])?);
    }
    if report.changes.is_empty() {
        return Ok(output::lines([format!("Reloaded {path}: nothing changed since Keygate last read it")])?);
    }
    let mut lines = vec![format!("Reloaded {path}:")];
    lines.extend(report.changes.iter().map(|c| format!("  {}", keygate_mcp::printable(c, 200))));
    Ok(output::lines(lines)?)
}
