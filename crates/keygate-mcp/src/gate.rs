//! The server's door to the vault: one connection behind a mutex, used on the blocking pool
//! so a slow disk or another process's write lock never stalls the async workers.

use std::sync::{Arc, Mutex};

use keygate_vault::Vault;

/// A shared, open vault.
#[derive(Debug, Clone)]
pub struct Gate {
    vault: Arc<Mutex<Vault>>,
}

/// The vault call could not run (its thread panicked or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the vault is unavailable: {0}")]
pub struct GateError(String);

impl Gate {
    /// Share `vault` with the server.
    pub fn new(vault: Vault) -> Self {
        Self { vault: Arc::new(Mutex::new(vault)) }
    }

    /// Run `f` with the vault on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Vault) -> T + Send + 'static,
    {
        let vault = Arc::clone(&self.vault);
        tokio::task::spawn_blocking(move || {
            // A panic elsewhere cannot leave the vault half-written (SQLite rolls back), so a
            // poisoned lock is safe to take over.
            let mut guard = vault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| GateError(e.to_string()))
    }
}
