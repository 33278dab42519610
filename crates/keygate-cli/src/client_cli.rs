//! `keygate client …`: write (and remove) the entry that makes an agent launch
//! `keygate connect --grant NAME`, in the agent's own config file.

use std::path::PathBuf;

use clap::Subcommand;
use keygate_clients::Client;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List the agents found here, their config files, and whether Keygate is in them
    List {
        /// Also list the project config files of DIR (Claude Code, Cursor, VS Code, Codex, Gemini, Zed)
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Print stable, machine-readable JSON
        #[arg(long)]
        json: bool,
    },
    /// Add a `keygate` entry to an agent's config that launches `keygate connect --grant NAME`
    Connect {
        /// claude-desktop, claude-code, cursor, vscode, windsurf, codex, gemini, zed or cline
        client: Client,
        /// The grant the agent's tokens are minted under
        #[arg(long, value_name = "NAME")]
        grant: String,
        /// Write the config of the project in DIR instead (.mcp.json, .cursor/, .vscode/, .codex/, ...)
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Replace a `keygate` entry Keygate did not write (e.g. a pasted token)
        #[arg(long)]
        replace: bool,
        /// Show the change (secrets masked) and write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove the `keygate` entry Keygate added to an agent's config, and nothing else (asks first; --yes to skip)
    Disconnect {
        /// The agent, as for `connect`
        client: Client,
        /// The project directory, if it was connected with --project
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Show the change (secrets masked) and write nothing
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
        /// Do not ask: remove the entry now
        #[arg(long)]
        yes: bool,
    },
}
