//! `keygate server …`: the MCP servers Keygate fronts, kept as `[[server]]` entries in config.toml.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Front an MCP server: a local one started by COMMAND (after `--`), or a remote one at --url
    Add(AddServer),
    /// Stop fronting a server: remove its [[server]] entry from config.toml (asks first; --yes to skip)
    Remove {
        /// The server's name
        name: String,
        /// Do not ask: remove the entry now
        #[arg(long)]
        yes: bool,
    },
    /// List the fronted servers: kind, state, pid, tools, held-back tools, last error
    List(crate::cli::JsonFlag),
    /// Show a server's pinned tools: exposed name, approved | pending | changed, sha256
    Tools {
        /// The server's name
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a server's new or changed tool definitions (all of them, or one with --tool)
    Approve {
        /// The server's name
        name: String,
        /// Approve only this tool (its name on the server, e.g. create_issue)
        #[arg(long, value_name = "T")]
        tool: Option<String>,
    },
    /// Start a server again and re-list (and re-check) its tools
    Restart {
        /// The server's name
        name: String,
    },
}

/// The flags of `keygate server add`; secrets are named (vault credentials), never given.
#[derive(Debug, Args)]
pub struct AddServer {
    /// Server name: a-z, 0-9 and `-`, at most 20 characters; its tools appear as NAME_<tool>
    pub name: String,
    /// A plain environment variable for the local server (repeat for more); never a secret
    #[arg(long = "env", value_name = "VAR=VALUE", conflicts_with = "url")]
    pub env: Vec<String>,
    /// An environment variable filled from a vault credential (repeat for more)
    #[arg(long = "secret-env", value_name = "VAR=CREDENTIAL", conflicts_with = "url")]
    pub secret_env: Vec<String>,
    /// Stop the local server after N minutes unused (default: keep it running)
    #[arg(long, value_name = "N", conflicts_with = "url")]
    pub idle_minutes: Option<u64>,
    /// The remote server's MCP endpoint (Streamable HTTP), instead of a COMMAND
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A plain header for the remote server (repeat for more); never a secret
    #[arg(long = "header", value_name = "NAME=VALUE", requires = "url", conflicts_with = "command")]
    pub headers: Vec<String>,
    /// A header filled from a vault credential (repeat for more)
    #[arg(long = "secret-header", value_name = "NAME=CREDENTIAL", requires = "url", conflicts_with = "command")]
    pub secret_headers: Vec<String>,
    /// Text put before each --secret-header value, e.g. 'Bearer '
    #[arg(long, value_name = "TEXT", requires = "secret_headers", conflicts_with = "command")]
    pub header_prefix: Option<String>,
    /// Longest a call may take, in seconds (default 60)
    #[arg(long, value_name = "N")]
    pub timeout_secs: Option<u64>,
    /// The local server's program and its arguments, after `--`
    #[arg(last = true, value_name = "COMMAND", required_unless_present = "url", conflicts_with = "url")]
    pub command: Vec<String>,
}
