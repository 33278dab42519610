//! `keygate tools`: every tool agents could be given, its credentials, and whether it is
//! ready; the rule is keygate_mcp::tool_readiness, which the app's Tools view uses too.

use anyhow::Result;
use keygate_mcp::{Config, Readiness, ToolReadiness};
use keygate_vault::Home;

use crate::output;

pub fn list_tools(json: bool) -> Result<()> {
    let home = Home::from_env()?;
    let config = Config::load(&home.config_path())?;
    if !home.vault_path().exists() {
        anyhow::bail!("no vault at {} yet: run `keygate init` first", home.vault_path().display());
    }
    let vault = crate::commands::open_vault()?;
    let rows = keygate_mcp::tool_readiness(&config, &vault)?;
    if json {
        return Ok(output::json(&rows)?);
    }
    let cells: Vec<Vec<String>> = rows.iter().map(cells).collect();
    let empty = format!(
        "No tools yet: add a [[tool]] to {} or front a server with `keygate server add NAME -- COMMAND`",
        home.config_path().display()
    );
    output::table(&["TOOL", "FROM", "CREDENTIAL", "STATUS"], &cells, &empty)?;
    let waiting = rows.iter().filter(|r| r.readiness != Readiness::Ready).count();
    if waiting > 0 {
        output::lines([format!("{waiting} of {} not ready; each line above says what to do", rows.len())])?;
    }
    Ok(())
}

fn cells(row: &ToolReadiness) -> Vec<String> {
    let from = row.server.as_deref().map_or_else(|| "[[tool]]".to_string(), |s| format!("server {s}"));
    let credentials = if row.credentials.is_empty() { "-".to_string() } else { row.credentials.join(", ") };
    vec![row.tool.clone(), from, credentials, row.detail.clone()]
}
