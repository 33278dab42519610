//! The server's door to the vault: one connection behind a mutex, shared by every request.
//!
//! Vault calls take microseconds (measured in BENCHMARKS.md), so they run inline on the thread
//! that serves the request (`serving.rs`): handing them to another thread cost more than the
//! calls themselves. The worst case is a wait for another process's write lock, bounded by the
//! vault's busy timeout.

use std::sync::{Arc, Mutex, PoisonError};

use keygate_vault::Vault;

/// A shared, open vault.
#[derive(Debug, Clone)]
pub struct Gate {
    vault: Arc<Mutex<Vault>>,
}

impl Gate {
    /// Share `vault` with the server.
    pub fn new(vault: Vault) -> Self {
        Self { vault: Arc::new(Mutex::new(vault)) }
    }

    /// Run `f` with the vault locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut Vault) -> T) -> T {
        // A panic elsewhere cannot leave the vault half-written (SQLite rolls back), so a
        // poisoned lock is safe to take over.
        f(&mut self.vault.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
