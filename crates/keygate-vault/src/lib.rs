//! Keygate's vault: everything that holds a secret. The master key (OS keychain,
//! `KEYGATE_MASTER_KEY`, or memory), AES-256-GCM sealing, the SQLite store of credentials,
//! tokens, grants, the rotation log, the audit, and the sealed originals of the client configs
//! Keygate edited. Knows nothing of HTTP, MCP, Tauri or terminals.

mod audit;
mod audit_chain;
mod chain;
mod checkpoint;
mod client_config;
mod clock;
mod config;
mod credential;
mod credential_versions;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod grant;
mod home;
mod integrity;
mod kept_rows;
mod key_source;
mod mac;
mod oauth;
mod pin;
mod random;
mod rekey;
mod retention;
mod rotation;
mod rotation_state;
mod rotation_steps;
mod rows;
mod seal;
mod store;
mod team;
mod token;
mod vault;
mod wal_index;

pub use audit::{AuditEntry, AuditId, AuditStart, CallOutcome, Decision};
pub use audit_chain::AuditRecord;
pub use chain::{ChainBreak, ChainReport};
pub use checkpoint::Checkpointer;
pub use client_config::{ClientConfigEntry, ClientConfigWrite, MAX_CLIENT_CONFIG_LEN};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::{AuditPolicy, DEFAULT_CONFIG, TokenPolicy, format_ttl, parse_ttl};
pub use credential::{
    CredentialInfo, DEFAULT_MAX_AGE_DAYS, MAX_VALUE_LEN, OpenedCredential, validate_max_age, validate_name,
    validate_value,
};
pub use credential_versions::{CredentialDetail, RetiringVersion};
pub use error::{Result, VaultError, error_chain};
pub use grant::{DEFAULT_GRANT_TOKEN_TTL, GrantInfo, GrantRequest, GrantStatus, validate_grant_name};
pub use home::Home;
pub use key_source::{KEYCHAIN_SERVICE, KeySource, MASTER_KEY_ENV, keychain_account, next_keychain_account};
pub use keygate_policy::{Policy, PolicyError, StoredPolicy, Violation};
pub use oauth::{
    CODE_TTL, CONSENT_TTL, CodeBinding, CodeExchange, ConsentRequest, MAX_CLIENT_NAME_LEN, MAX_CLIENTS,
    MAX_PENDING_CONSENTS, MAX_REDIRECT_URIS, NewConsent, NewOAuthClient, OAuthClient, OAuthRefusal, OAuthTokens,
    PendingConsent, REFRESH_TTL, RefreshExchange,
};
pub use pin::{ListedTool, PinReport, PinState, ToolPin};
pub use rekey::{MASTER_KEY_LOG_NAME, RekeyReport};
pub use retention::Retention;
pub use rotation::{DUE_SOON, LogAction, LogEntry, due_at};
pub use rotation_state::{MAX_GRACE, VersionInfo, VersionState};
pub use rotation_steps::{Attempt, MintedKey};
pub use rows::RowFinding;
pub use seal::{MASTER_KEY_LEN, MasterKey};
pub use team::{TeamChange, TeamVersion};
pub use token::{
    Denial, IssuedToken, TokenDecision, TokenGrant, TokenInfo, TokenRequest, TokenStatus, is_token_id, scope_covers,
    token_id,
};
pub use vault::{Actor, InitReport, Vault};
