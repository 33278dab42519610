//! The one error type of the vault. Messages name paths, ids and names, never secret values.

use std::path::PathBuf;

/// Everything that can go wrong inside the vault, each with a message that says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No Keygate home could be found (no `$KEYGATE_HOME` and no OS data directory).
    #[error("cannot find a home for the vault: set KEYGATE_HOME to a directory")]
    NoHome,

    /// `vault.db` does not exist yet.
    #[error("no vault at {}: run `keygate init` first", .path.display())]
    NoVault {
        /// Where the vault was looked for.
        path: PathBuf,
    },

    /// `init` found a vault already there.
    #[error("a vault already exists at {}: refusing to overwrite it", .path.display())]
    VaultExists {
        /// The existing vault file.
        path: PathBuf,
    },

    /// A row that decides something (a token, grant, credential, tool pin or a row of the
    /// OAuth server) does not carry a valid MAC: it was changed or inserted by someone without the master key.
    #[error(
        "{row} was changed in the vault file without the master key (its MAC does not verify), so it is refused: \
         run `keygate doctor`, then revoke or remove and re-create it"
    )]
    Tampered {
        /// The row, e.g. `token 0123456789abcdef` or `credential openai`.
        row: String,
    },

    /// The vault file is not a Keygate vault or is damaged; it was left untouched.
    #[error(
        "{} is not a readable Keygate vault ({detail}); it was left as it is: restore it from a backup or move it away and run `keygate init`",
        .path.display()
    )]
    Corrupt {
        /// The vault file.
        path: PathBuf,
        /// What SQLite or the schema check said.
        detail: String,
    },

    /// The vault was written by a newer Keygate.
    #[error("the vault has schema version {found}, newer than this keygate supports ({supported}): upgrade keygate")]
    NewerSchema {
        /// Schema version in the file.
        found: i64,
        /// Newest schema this build knows.
        supported: i64,
    },

    /// `KEYGATE_MASTER_KEY` is set but is not base64 of 32 bytes.
    #[error(
        "KEYGATE_MASTER_KEY is not valid: {reason}; it must be base64 of exactly 32 random bytes (e.g. `head -c32 /dev/urandom | base64`)"
    )]
    BadMasterKeyEnv {
        /// What is wrong with it (never the value).
        reason: String,
    },

    /// The OS keychain could not be reached or refused access.
    #[error(
        "the OS keychain is not available ({detail}): unlock your keychain or start a Secret Service (e.g. gnome-keyring), or set KEYGATE_MASTER_KEY for headless use"
    )]
    KeychainUnavailable {
        /// What the keychain said.
        detail: String,
    },

    /// The keychain holds no master key for this vault.
    #[error(
        "the OS keychain has no master key for vault {vault_id} (service `keygate`, account `{account}`): set KEYGATE_MASTER_KEY if this vault was made with one, or restore the keychain entry"
    )]
    MasterKeyMissing {
        /// The vault's id.
        vault_id: String,
        /// The keychain account looked up.
        account: String,
    },

    /// The master key does not open this vault.
    #[error(
        "the master key does not open vault {vault_id}: check KEYGATE_MASTER_KEY or the keychain entry for this vault"
    )]
    WrongMasterKey {
        /// The vault's id.
        vault_id: String,
    },

    /// Another process holds the vault's write lock for longer than we wait.
    #[error("the vault is busy (another keygate process is writing to it): retry in a moment")]
    Busy,

    /// The disk holding the vault is full; the transaction was rolled back.
    #[error("the disk holding the vault is full, so nothing was written: free some space, then retry")]
    DiskFull,

    /// The vault's files could not be written or read (read-only or immutable files, an I/O
    /// error); the transaction was rolled back.
    #[error(
        "the vault's files cannot be written or read ({detail}), so nothing was changed: check that vault.db and \
         vault.db-wal in the Keygate home are writable (not read-only or immutable) and that the disk is healthy, then retry"
    )]
    Storage {
        /// What SQLite said.
        detail: String,
    },

    /// A query does not fit the file's tables (a column or table is missing): the schema in
    /// vault.db was damaged or edited.
    #[error(
        "the vault's tables do not match this keygate ({detail}): vault.db was damaged or edited; restore it from a backup"
    )]
    SchemaMismatch {
        /// What SQLite said (never the query).
        detail: String,
    },

    /// A credential name that does not match `[a-z0-9][a-z0-9_.-]{0,63}`.
    #[error(
        "invalid credential name {name:?}: use 1-64 characters of a-z, 0-9, `_`, `.`, `-`, starting with a letter or digit"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },

    /// A credential value that cannot be stored (empty, too long, control characters).
    #[error("invalid credential value: {reason}")]
    InvalidValue {
        /// What is wrong with it (never the value).
        reason: String,
    },

    /// `max_age_days` out of range.
    #[error("invalid max age {days} days: use 1 to 3650")]
    InvalidMaxAge {
        /// The rejected number.
        days: i64,
    },

    /// A credential with this name exists already.
    #[error("credential {name} already exists: use `keygate cred rotate {name}` to give it a new value")]
    CredentialExists {
        /// The name.
        name: String,
    },

    /// A team secret has the name of a local credential holding another value.
    #[error(
        "the team has a credential named {name}, and this vault has a local one of that name with another value: \
         rename or remove the local one (`keygate cred remove {name}`), then sync again"
    )]
    TeamNameTaken {
        /// The name.
        name: String,
    },

    /// No credential with this name.
    #[error("no credential named {name}: see `keygate cred list`")]
    CredentialNotFound {
        /// The name.
        name: String,
    },

    /// Rollback asked for, but no previous version is kept.
    #[error(
        "credential {name} has no previous version to roll back to (it was never rotated, or its grace ended \
         and the previous version was erased): see `keygate cred show {name}`"
    )]
    NoPreviousVersion {
        /// The credential.
        name: String,
    },

    /// A step of a rotation named an attempt that is not the one in flight.
    #[error(
        "credential {name}'s rotation {attempt} is not the one in flight (another process finished or replaced \
         it): run `keygate cred show {name}` and rotate again if needed"
    )]
    AttemptMismatch {
        /// The credential.
        name: String,
        /// The attempt id the step named.
        attempt: String,
    },

    /// Promotion asked for, but the rotation holds no pending version yet.
    #[error("credential {name}'s rotation has no pending version to promote")]
    NoPendingVersion {
        /// The credential.
        name: String,
    },

    /// A rekey found something that does not verify under the current key.
    #[error(
        "refusing to rekey: {why}. A rekey would re-MAC it and hide the change; run `keygate doctor` and \
         deal with it first"
    )]
    RekeyRefused {
        /// What does not verify.
        why: String,
    },

    /// A grace out of range.
    #[error("invalid grace {secs} s: use 0 (erase the previous version at once) up to 365 days")]
    InvalidGrace {
        /// The rejected number of seconds.
        secs: u64,
    },

    /// A sealed value failed authentication: wrong key, moved or altered ciphertext.
    #[error(
        "credential {name} version {version} cannot be opened: its ciphertext was altered or moved from another row"
    )]
    CannotOpen {
        /// The credential.
        name: String,
        /// The version.
        version: i64,
    },

    /// A kept client config original failed authentication (altered, or moved from another row).
    #[error("the kept original of client config {id} cannot be opened: it was altered or moved from another row")]
    CannotOpenClientConfig {
        /// The row's id.
        id: String,
    },

    /// No kept client config original with this id.
    #[error("no kept client config with id {id}")]
    ClientConfigNotFound {
        /// The id asked for.
        id: String,
    },

    /// A token id that is not in the vault.
    #[error("no token with id {id}: see `keygate token list`")]
    TokenNotFound {
        /// The id asked for.
        id: String,
    },

    /// A server or tool with no pin: never listed through the gateway.
    #[error("{} has never been listed: start it (`keygate server restart {server}`) so its tools are pinned", match tool { Some(t) => format!("tool {t} of server {server}"), None => format!("server {server}") })]
    PinNotFound {
        /// The server.
        server: String,
        /// The tool, if one was named.
        tool: Option<String>,
    },

    /// Something given as a token id that is not one (never echoed: it may be a whole token).
    #[error(
        "that is not a token id: an id is 16 hex characters, as `keygate token list` shows; never pass a whole token on the command line"
    )]
    InvalidTokenId,

    /// A token request that cannot be granted as asked.
    #[error("invalid token request: {reason}")]
    InvalidTokenRequest {
        /// What is wrong.
        reason: String,
    },

    /// A grant request that cannot be granted as asked (name, tools or lifetimes).
    #[error("invalid grant: {reason}")]
    InvalidGrant {
        /// What is wrong.
        reason: String,
    },

    /// A grant's or token's stored rules do not read (written by a newer Keygate, or damaged
    /// in a way its MAC did not catch); its calls are refused rather than let through unchecked.
    #[error("the rules stored for {row} cannot be read ({detail}): recreate it with this Keygate")]
    BadStoredPolicy {
        /// The grant or token.
        row: String,
        /// What was wrong.
        detail: String,
    },

    /// An unrevoked grant with this name exists already.
    #[error(
        "a grant named {name} already exists: revoke it first (`keygate grant revoke {name}`) or pick another name"
    )]
    GrantExists {
        /// The name.
        name: String,
    },

    /// No grant with this name.
    #[error("no grant named {name}: create it with `keygate grant create {name} --tool TOOL`")]
    GrantNotFound {
        /// The name.
        name: String,
    },

    /// The grant was revoked: it mints nothing and its tokens are refused.
    #[error("grant {name} has been revoked: create a new one with `keygate grant create {name} --tool TOOL`")]
    GrantRevoked {
        /// The name.
        name: String,
    },

    /// The grant is past its expiry.
    #[error("grant {name} has expired: revoke it and create a new one (`keygate grant revoke {name}`)")]
    GrantExpired {
        /// The name.
        name: String,
    },

    /// An OAuth request was refused (the token endpoint answers with its error code).
    #[error("OAuth request refused: {0}")]
    OAuth(crate::oauth::OAuthRefusal),

    /// A client registration was refused.
    #[error("invalid OAuth client registration: {reason}")]
    InvalidOAuthClient {
        /// What is wrong.
        reason: String,
    },

    /// Every registered OAuth client has a live sign-in: none can make room for another.
    #[error("{max} OAuth clients are registered, each with a live sign-in: revoke a grant to free one")]
    OAuthClientLimit {
        /// The limit.
        max: usize,
    },

    /// `config.toml` could not be read or parsed.
    #[error("{}: {detail}", .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong and where.
        detail: String,
    },

    /// A file system operation failed.
    #[error("{action} {}: {cause}", .path.display())]
    Io {
        /// What we were doing ("cannot create", "cannot read", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error (shown in the message, so not chained as a source).
        cause: std::io::Error,
    },

    /// The OS random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Random(String),

    /// Any other SQLite failure. SQLite messages carry no bound values, so no secrets.
    #[error("vault database error: {}", one_line(&.0.to_string()))]
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for VaultError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, ReadOnly, SystemIoFailure};
        if let rusqlite::Error::SqlInputError { msg, .. } = &err {
            // Its Display carries the whole query across lines; the message alone says it.
            return VaultError::SchemaMismatch { detail: one_line(msg) };
        }
        match err.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => VaultError::Busy,
            Some(DiskFull) => VaultError::DiskFull,
            Some(ReadOnly | SystemIoFailure) => VaultError::Storage { detail: one_line(&err.to_string()) },
            _ => VaultError::Database(err),
        }
    }
}

impl VaultError {
    /// Whether the vault as a whole could not be written just now (another writer holds the
    /// lock, the disk is full, the files are read-only or failing), rather than this request
    /// being wrong: the same write may succeed later, unchanged.
    pub fn is_transient(&self) -> bool {
        matches!(self, VaultError::Busy | VaultError::DiskFull | VaultError::Storage { .. })
    }

    /// A stable, machine-readable name for the kind of error, for fronts (the app's UI) that
    /// must act on the kind without matching message text.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::NoHome => "no_home",
            VaultError::NoVault { .. } => "no_vault",
            VaultError::VaultExists { .. } => "vault_exists",
            VaultError::Corrupt { .. } => "corrupt",
            VaultError::Tampered { .. } => "tampered",
            VaultError::NewerSchema { .. } => "newer_schema",
            VaultError::BadMasterKeyEnv { .. } => "bad_master_key_env",
            VaultError::KeychainUnavailable { .. } => "keychain_unavailable",
            VaultError::MasterKeyMissing { .. } => "master_key_missing",
            VaultError::WrongMasterKey { .. } => "wrong_master_key",
            VaultError::Busy => "busy",
            VaultError::DiskFull => "disk_full",
            VaultError::Storage { .. } => "storage",
            VaultError::SchemaMismatch { .. } => "schema_mismatch",
            VaultError::InvalidName { .. } => "invalid_name",
            VaultError::InvalidValue { .. } => "invalid_value",
            VaultError::InvalidMaxAge { .. } => "invalid_max_age",
            VaultError::CredentialExists { .. } => "credential_exists",
            VaultError::CredentialNotFound { .. } => "credential_not_found",
            VaultError::TeamNameTaken { .. } => "team_name_taken",
            VaultError::NoPreviousVersion { .. } => "no_previous_version",
            VaultError::AttemptMismatch { .. } => "attempt_mismatch",
            VaultError::NoPendingVersion { .. } => "no_pending_version",
            VaultError::InvalidGrace { .. } => "invalid_grace",
            VaultError::RekeyRefused { .. } => "rekey_refused",
            VaultError::CannotOpen { .. } => "cannot_open",
            VaultError::CannotOpenClientConfig { .. } => "cannot_open_client_config",
            VaultError::ClientConfigNotFound { .. } => "client_config_not_found",
            VaultError::TokenNotFound { .. } => "token_not_found",
            VaultError::PinNotFound { .. } => "pin_not_found",
            VaultError::InvalidTokenId => "invalid_token_id",
            VaultError::InvalidTokenRequest { .. } => "invalid_token_request",
            VaultError::InvalidGrant { .. } => "invalid_grant",
            VaultError::BadStoredPolicy { .. } => "bad_stored_policy",
            VaultError::GrantExists { .. } => "grant_exists",
            VaultError::GrantNotFound { .. } => "grant_not_found",
            VaultError::GrantRevoked { .. } => "grant_revoked",
            VaultError::GrantExpired { .. } => "grant_expired",
            VaultError::OAuth(_) => "oauth_refused",
            VaultError::InvalidOAuthClient { .. } => "invalid_oauth_client",
            VaultError::OAuthClientLimit { .. } => "oauth_client_limit",
            VaultError::Config { .. } => "config",
            VaultError::Io { .. } => "io",
            VaultError::Random(_) => "random",
            VaultError::Database(_) => "database",
        }
    }
}

/// The vault's result type.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// Text from SQLite (which may quote a damaged schema, newlines, control bytes and all) as one
/// printable line of at most 160 characters, for an error message.
pub(crate) fn one_line(text: &str) -> String {
    const MAX: usize = 160;
    let spaced: Vec<&str> = text.split_whitespace().collect();
    let printable: String = spaced.join(" ").chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    match printable.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &printable[..cut]),
        None => printable,
    }
}

/// Helper to attach a path and an action to an I/O error.
pub(crate) fn io_error(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> VaultError {
    let path = path.to_path_buf();
    move |cause| VaultError::Io { action, path, cause }
}

/// An error and its causes as one line ("a: b: c"): an HTTP client's `Display` alone hides
/// why (refused, reset, a certificate). For errors that never carry a secret, or whose text
/// is redacted after.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: std::os::raw::c_int) -> VaultError {
        VaultError::from(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None))
    }

    #[test]
    fn storage_failures_say_what_happened_and_what_to_do() {
        let full = sqlite(rusqlite::ffi::SQLITE_FULL);
        assert!(matches!(full, VaultError::DiskFull) && full.to_string().contains("free some space"), "{full}");
        for code in [rusqlite::ffi::SQLITE_READONLY, rusqlite::ffi::SQLITE_IOERR, rusqlite::ffi::SQLITE_IOERR_WRITE] {
            let error = sqlite(code);
            assert_eq!(error.code(), "storage", "{error}");
            assert!(error.to_string().contains("vault.db-wal") && error.to_string().contains("nothing was changed"));
        }
        assert!(
            [full, sqlite(rusqlite::ffi::SQLITE_BUSY), sqlite(rusqlite::ffi::SQLITE_IOERR)]
                .iter()
                .all(VaultError::is_transient)
        );
        assert!(!sqlite(rusqlite::ffi::SQLITE_CONSTRAINT).is_transient());
        assert!(!sqlite(rusqlite::ffi::SQLITE_CORRUPT).is_transient());
    }

    #[test]
    fn sqlite_text_becomes_one_bounded_printable_line() {
        assert_eq!(one_line("malformed (t) - \"a,\n    b\tc\u{1b}\""), "malformed (t) - \"a, b c?\"");
        let long = one_line(&"x".repeat(500));
        assert!(long.ends_with("...") && long.chars().count() == 163, "{long}");
    }

    #[test]
    fn a_query_that_no_longer_fits_the_file_is_one_line_without_the_query() {
        let error = VaultError::from(rusqlite::Error::SqlInputError {
            error: rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            msg: "no such column: c.rotated_at".into(),
            sql: "SELECT c.name,\n  c.rotated_at FROM credential c".into(),
            offset: 16,
        });
        let text = error.to_string();
        assert_eq!(error.code(), "schema_mismatch");
        assert!(text.contains("no such column: c.rotated_at") && text.contains("restore it from a backup"), "{text}");
        assert!(!text.contains('\n') && !text.contains("SELECT"), "{text}");
    }
}
