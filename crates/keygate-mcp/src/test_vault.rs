//! Unit tests' vaults: a real SQLite file in a temp dir, opened as the server opens it.

use std::sync::Arc;

use keygate_vault::{Actor, Home, KeySource, MasterKey, SystemClock, TokenRequest, Vault};

/// A new vault in `dir` under a random master key, opened by the server.
pub(crate) fn open_new(dir: &std::path::Path) -> Vault {
    let home = Home::at(dir);
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("random");
    let key = || KeySource::Given(MasterKey::from_bytes(&raw).expect("key"));
    Vault::init(&home, key(), &SystemClock).expect("init");
    Vault::open(&home, key(), Arc::new(SystemClock), Actor::Server).expect("open")
}

/// A new vault in `dir` with one token for tool `t`, and the token's id.
pub(crate) fn with_token(dir: &std::path::Path) -> (Vault, String) {
    let mut vault = open_new(dir);
    let request = TokenRequest { tools: vec!["t".into()], ttl: None, label: None };
    let token_id = vault.issue_token(&request).expect("token").id;
    (vault, token_id)
}
