//! `keygate grant ...`: named, revocable permissions for agents, which mint short-lived tokens.

use clap::Subcommand;

use crate::cli::JsonFlag;

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Create a grant: a named, revocable scope for one agent (e.g. cursor)
    Create {
        /// Grant name: a-z, 0-9, `-`, up to 32 characters
        name: String,
        /// A tool its tokens may call, or SERVER_* for every tool of a server (repeat for more)
        #[arg(long = "tool", value_name = "T", required = true)]
        tools: Vec<String>,
        /// Lifetime of each token minted under it, e.g. 2m, 15m, 1h (default 15m)
        #[arg(long, value_name = "DURATION")]
        token_ttl: Option<String>,
        /// When the grant itself ends, e.g. 90d (default: never; revoke it to end it)
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// An argument rule its calls must meet, e.g. 'web_search: num_results <= 10' (repeat for
        /// more; all rules on a tool must hold; a tool with none is allowed as scoped)
        #[arg(long = "allow", value_name = "RULE")]
        allow: Vec<String>,
        /// Every call under it waits for your approval (the app, or `keygate approve ID`)
        #[arg(long)]
        approve: bool,
        #[arg(long)]
        json: bool,
    },
    /// List grants, revoked ones included
    List(JsonFlag),
    /// Show one grant: its tools, lifetimes and argument rules
    Show {
        /// The grant's name
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a grant: every token minted under it fails on its next request (asks first; --yes to skip)
    Revoke {
        /// The grant's name
        name: String,
        /// Do not ask: revoke it now
        #[arg(long)]
        yes: bool,
    },
}
