//! What the app holds while it runs: its home, its own connection to the vault (or why there
//! is none), the background server, and the rotation reminders already sent.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use keygate_vault::{Actor, Clock, Home, KEYCHAIN_SERVICE, KeySource, Vault};

use crate::agents::ClientEnvironment;
use crate::error::AppError;
use crate::reminders::ReminderLog;
use crate::server::ServerHost;

/// Where the master key comes from: the OS keychain (or `KEYGATE_MASTER_KEY`) in the app, a
/// fixed key in tests. Asked again on every open, so a retry sees an unlocked keychain.
pub type KeyProvider = Box<dyn Fn() -> keygate_vault::Result<KeySource> + Send + Sync>;

/// The app's state, shared by commands, the tray and the watcher.
pub struct AppState {
    home: Home,
    keys: Arc<KeyProvider>,
    clock: Arc<dyn Clock>,
    vault: Mutex<Result<Vault, AppError>>,
    created_notice: Mutex<Option<String>>,
    server: ServerHost,
    /// Which credentials were already reminded of, and when.
    pub reminders: Mutex<ReminderLog>,
    changed_here: AtomicBool,
    client_environment: Option<ClientEnvironment>,
    /// Plaintext keys in client configs at the agent's last scan (for the tray).
    plaintext_keys: AtomicUsize,
}

impl AppState {
    /// State for `home`; the vault is not opened until [`AppState::open_vault`]. The MCP
    /// server runs in this process unless `server` says it runs in the agent.
    pub fn new(home: Home, keys: KeyProvider, clock: Arc<dyn Clock>, server: ServerHost) -> Self {
        let not_yet = AppError::new("starting", "Keygate is opening the vault");
        let reminders = Mutex::new(ReminderLog::load(home.dir()));
        Self {
            home,
            keys: Arc::new(keys),
            clock,
            vault: Mutex::new(Err(not_yet)),
            created_notice: Mutex::new(None),
            server,
            reminders,
            changed_here: AtomicBool::new(false),
            client_environment: None,
            plaintext_keys: AtomicUsize::new(0),
        }
    }

    /// Find client configs in `environment` and write its `keygate` into them, instead of the
    /// user's own (tests).
    pub fn with_client_environment(mut self, environment: ClientEnvironment) -> Self {
        self.client_environment = Some(environment);
        self
    }

    /// Where client configs are, when not the user's own.
    pub fn client_environment(&self) -> Option<&ClientEnvironment> {
        self.client_environment.as_ref()
    }

    /// The Keygate home (vault and config).
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Where the MCP server runs.
    pub fn server_host(&self) -> &ServerHost {
        &self.server
    }

    /// The clock everything in the app reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A fresh master key source.
    pub fn key_source(&self) -> Result<KeySource, AppError> {
        Ok((self.keys)()?)
    }

    /// The key provider, for a thread that opens a vault of its own (scheduled rotations).
    pub fn key_source_fn(&self) -> Arc<KeyProvider> {
        Arc::clone(&self.keys)
    }

    /// Open the vault, creating it first (as `keygate init` does) if there is none. On failure
    /// the app keeps running and shows the error until a retry succeeds.
    pub fn open_vault(&self) -> Result<(), AppError> {
        let opened = self
            .create_if_missing()
            .and_then(|()| Ok(Vault::open(&self.home, self.key_source()?, Arc::clone(&self.clock), Actor::App)?));
        let outcome = opened.as_ref().map(|_| ()).map_err(Clone::clone);
        if let Err(e) = &outcome {
            tracing::warn!(code = %e.code, "vault not available: {}", e.message);
        }
        *lock(&self.vault) = opened;
        outcome
    }

    fn create_if_missing(&self) -> Result<(), AppError> {
        if self.home.vault_path().exists() {
            return Ok(());
        }
        let report = Vault::init(&self.home, self.key_source()?, self.clock.as_ref())?;
        let key = match &report.keychain_account {
            Some(account) => {
                format!("its master key is in the OS keychain (service {KEYCHAIN_SERVICE}, account {account})")
            }
            None => "its master key comes from KEYGATE_MASTER_KEY".to_string(),
        };
        let notice = format!("Created a new vault at {}; {key}.", report.vault_path.display());
        tracing::info!("{notice}");
        *lock(&self.created_notice) = Some(notice);
        Ok(())
    }

    /// Whether the vault is open, or the error that keeps it closed.
    pub fn vault_error(&self) -> Option<AppError> {
        lock(&self.vault).as_ref().err().cloned()
    }

    /// What first start created, to tell the user once.
    pub fn created_notice(&self) -> Option<String> {
        lock(&self.created_notice).clone()
    }

    /// Run `f` on the open vault.
    pub fn with_vault<T>(&self, f: impl FnOnce(&mut Vault) -> keygate_vault::Result<T>) -> Result<T, AppError> {
        match &mut *lock(&self.vault) {
            Ok(vault) => Ok(f(vault)?),
            Err(e) => Err(e.clone()),
        }
    }

    /// Whether the vault is open (not waiting for the keychain or refused).
    pub fn vault_is_open(&self) -> bool {
        lock(&self.vault).is_ok()
    }

    /// Run `f`, which may fail with more than a vault error, on the open vault.
    pub fn with_open_vault<T>(&self, f: impl FnOnce(&mut Vault) -> Result<T, AppError>) -> Result<T, AppError> {
        match &mut *lock(&self.vault) {
            Ok(vault) => f(vault),
            Err(e) => Err(e.clone()),
        }
    }

    /// Plaintext keys in client configs at the last scan.
    pub fn plaintext_keys(&self) -> usize {
        self.plaintext_keys.load(Ordering::Acquire)
    }

    /// Record a scan's count; whether it differs from the last one.
    pub fn set_plaintext_keys(&self, count: usize) -> bool {
        self.plaintext_keys.swap(count, Ordering::AcqRel) != count
    }

    /// Note a change made through the app, which the vault's change marker does not show to
    /// the app's own connection; the watcher picks it up.
    pub fn mark_changed(&self) {
        self.changed_here.store(true, Ordering::Release);
    }

    /// Whether the app changed the vault since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed_here.swap(false, Ordering::AcqRel)
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("home", &self.home.dir()).finish_non_exhaustive()
    }
}

/// Lock a mutex; a panic elsewhere never leaves the app unable to go on.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
