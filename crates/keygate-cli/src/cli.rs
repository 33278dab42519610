//! The command surface: `keygate <noun> <verb>`.

use clap::{Args, Parser, Subcommand};

pub use crate::client_cli::ClientCommand;
pub use crate::grant_cli::GrantCommand;
pub use crate::server_cli::ServerCommand;

/// Keygate keeps your MCP tools' API keys in an encrypted vault and gives agents short-lived,
/// scoped tokens instead.
#[derive(Debug, Parser)]
#[command(name = "keygate", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `keygate import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Only this client (repeatable): claude-desktop, claude-code, cursor, vscode, windsurf, codex, gemini, zed, cline
    #[arg(long = "client", value_name = "CLIENT")]
    pub clients: Vec<keygate_clients::Client>,
    /// Show what would happen, write nothing
    #[arg(long, conflicts_with = "undo")]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    /// Give back each file import rewrote (credentials stay in the vault; asks first, --yes to skip)
    #[arg(long)]
    pub undo: bool,
    /// With --undo: do not ask, give the files back now
    #[arg(long, requires = "undo")]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the vault and its master key (in the OS keychain, or KEYGATE_MASTER_KEY)
    Init,
    /// Add, rotate, list and remove credentials
    #[command(subcommand)]
    Cred(CredCommand),
    /// Issue, list and revoke agent tokens; or, with --grant, mint one through the running Keygate
    Token(TokenArgs),
    /// Create, list and revoke grants: named permissions agents get short-lived tokens under
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Add and remove the MCP servers Keygate fronts (config.toml's [[server]] entries)
    #[command(subcommand)]
    Server(ServerCommand),
    /// Set up agents (Claude, Cursor, VS Code, ...) to launch `keygate connect`: no secret in their config
    #[command(subcommand)]
    Client(ClientCommand),
    /// Move the plaintext keys of agents' existing MCP servers into the vault and reach those
    /// servers through Keygate (--undo gives the files back)
    Import(ImportArgs),
    /// Show the rotation log, oldest first; `log verify` checks its chain
    Log(crate::audit_cli::LogArgs),
    /// Show audited tool calls, oldest first; `audit verify` checks the chain, `--jsonl` exports
    Audit(crate::audit_cli::AuditArgs),
    /// Check this Keygate: config, vault, master key, process hardening, the running server
    Doctor,
    /// Seal the whole vault under a new master key (keychain: made and stored for you; with
    /// KEYGATE_MASTER_KEY: the new key, base64, is read from stdin)
    Rekey,
    /// One screen: the vault, the running server, agents, credentials due, held-back tools, what to do next
    Status(JsonFlag),
    /// Every tool agents can be given ([[tool]]s and fronted servers' tools): its credential and whether it is ready
    Tools(JsonFlag),
    /// Ask the running Keygate to read config.toml again now, and say what changed (or what is wrong)
    Reload(JsonFlag),
    /// Team credentials on OpenBao: log in, see the sync, sync now
    #[command(subcommand)]
    Team(TeamCommand),
    /// List the calls waiting for your approval at the running Keygate
    Approvals(JsonFlag),
    /// Let a waiting call go ahead (--for 10m: the same grant may call the same tool without asking for that long)
    Approve {
        /// The call's id, as `keygate approvals` shows it
        id: String,
        /// Also allow the same grant's calls to the same tool for this long, e.g. 10m
        #[arg(long = "for", value_name = "DURATION")]
        allow_for: Option<String>,
    },
    /// Refuse a waiting call
    Deny {
        /// The call's id, as `keygate approvals` shows it
        id: String,
    },
    /// Serve the local MCP server (Streamable HTTP on a loopback port) until Ctrl-C
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:7447 (default: [listen] bind in config.toml)
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Be a stdio MCP server that forwards to the local HTTP server (tokens minted under
    /// --grant by the running Keygate, or one token from KEYGATE_TOKEN)
    Connect {
        /// Get short-lived tokens under this grant from the running Keygate, renewed as needed
        #[arg(long, value_name = "NAME", conflicts_with = "url")]
        grant: Option<String>,
        /// The Keygate home (default: KEYGATE_HOME, else the OS data directory)
        #[arg(long, value_name = "DIR", requires = "grant")]
        home: Option<std::path::PathBuf>,
        /// The server's MCP endpoint (default: from [listen] bind in config.toml)
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredCommand {
    /// Add a credential; its value is read from stdin, or typed at a hidden prompt
    Add {
        /// Credential name: a-z, 0-9, `_`, `.`, `-`
        name: String,
        /// Rotation policy: days a value may live before it is due
        #[arg(long, value_name = "N")]
        max_age_days: Option<i64>,
        /// Write it to the team's OpenBao ([team] in config.toml), then keep a local copy
        #[arg(long)]
        team: bool,
        #[command(flatten)]
        refused: RefusedSecret,
    },
    /// List credentials (never their values)
    List(JsonFlag),
    /// Give a credential a new value, read from stdin or a hidden prompt
    Rotate {
        /// Credential name
        name: String,
        #[command(flatten)]
        refused: RefusedSecret,
    },
    /// Show one credential: its versions (current, previous, pending), created, expires; never values
    Show {
        /// Credential name
        name: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Make the previous version current again (the one it replaces is kept as previous)
    Rollback {
        /// Credential name
        name: String,
    },
    /// Change a credential's policy: its max age, and how long the previous version is kept
    Set {
        /// Credential name
        name: String,
        /// Days a value may live before it is due
        #[arg(long, value_name = "N")]
        max_age_days: Option<i64>,
        /// How long the previous version (and its key at the provider) stays usable for
        /// rollback after a rotation, e.g. 24h, 7d, 0 (then it is erased and revoked)
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
    },
    /// Remove a credential and erase all its versions (asks first; --yes to skip)
    Remove {
        /// Credential name
        name: String,
        /// Do not ask: erase every stored version now
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Keep this machine's OpenBao login in the OS keychain: a token, or with [team]
    /// approle_role_id AppRole's secret id; read from stdin or a hidden prompt, checked first
    Login {
        /// AppRole's role id, which must be the one in [team] approle_role_id
        #[arg(long, value_name = "ROLE_ID")]
        approle: Option<String>,
        #[command(flatten)]
        refused: RefusedSecret,
    },
    /// Forget the stored login
    Logout,
    /// Whether OpenBao answers and the login works, the running Keygate's last sync, the team credentials
    Status(JsonFlag),
    /// Bring the local copies of the team credentials up to date now
    Sync(JsonFlag),
}

/// `keygate token SUBCOMMAND`, or `keygate token --grant NAME --headers`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_required = false)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: Option<TokenCommand>,
    /// Mint a short-lived token under this grant through the running Keygate
    #[arg(long, value_name = "NAME", requires = "headers")]
    pub grant: Option<String>,
    /// Print it as HTTP headers, one line of JSON (for Claude Code's headersHelper)
    #[arg(long, requires = "grant")]
    pub headers: bool,
    /// The Keygate home (default: KEYGATE_HOME, else the OS data directory)
    #[arg(long, value_name = "DIR", requires = "grant")]
    pub home: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token scoped to the given tools; it is shown once
    Create {
        /// A tool the token may call (repeat for more)
        #[arg(long = "tool", value_name = "T", required = true)]
        tools: Vec<String>,
        /// Lifetime, e.g. 30m, 1h, 7d (default from config.toml, 1h)
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// A note to recognise the token by
        #[arg(long, value_name = "L")]
        label: Option<String>,
        /// An argument rule its calls must meet, `TOOL: PATH OP VALUE` (repeat for more; all must hold)
        #[arg(long = "allow", value_name = "RULE")]
        allow: Vec<String>,
        /// Every call waits for your approval (the app, or `keygate approve ID`)
        #[arg(long)]
        approve: bool,
        /// Gone: it pasted the token into a snippet; `keygate client connect` replaces it
        #[arg(long, hide = true, value_name = "CLIENT")]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets)
    List(JsonFlag),
    /// Revoke a token at once, by id
    Revoke {
        /// The token's id, as `keygate token list` shows it
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print stable, machine-readable JSON
    #[arg(long)]
    pub json: bool,
}

/// Catches a secret typed on the command line, so it can be refused without echoing it.
#[derive(Debug, Args)]
pub struct RefusedSecret {
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub positional: Vec<String>,
    #[arg(long = "value", hide = true, num_args = 0..)]
    pub option: Option<Vec<String>>,
}

impl RefusedSecret {
    pub fn is_present(&self) -> bool {
        !self.positional.is_empty() || self.option.is_some()
    }
}
