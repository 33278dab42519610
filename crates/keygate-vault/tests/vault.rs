//! Integration tests of the vault against real SQLite files in a temp dir, with a master key
//! given in memory and a clock moved by hand. One test binary; the tests live in `vault/`.

mod common;

#[path = "vault/audit.rs"]
mod audit;
#[path = "vault/chains.rs"]
mod chains;
#[path = "vault/checkpoint.rs"]
mod checkpoint;
#[path = "vault/client_configs.rs"]
mod client_configs;
#[path = "vault/credentials.rs"]
mod credentials;
#[path = "vault/flips.rs"]
mod flips;
#[path = "vault/grants.rs"]
mod grants;
#[path = "vault/kept_rows.rs"]
mod kept_rows;
#[path = "vault/oauth.rs"]
mod oauth;
#[path = "vault/oauth_rows.rs"]
mod oauth_rows;
#[path = "vault/opening.rs"]
mod opening;
#[path = "vault/policy.rs"]
mod policy;
#[path = "vault/redaction.rs"]
mod redaction;
#[path = "vault/rekey.rs"]
mod rekey;
#[path = "vault/rotation_steps.rs"]
mod rotation_steps;
#[path = "vault/rows.rs"]
mod rows;
#[path = "vault/team.rs"]
mod team;
#[path = "vault/team_audit.rs"]
mod team_audit;
#[path = "vault/tokens.rs"]
mod tokens;
