//! The open MCP sessions: who opened each (a session is bound to its token or grant) and when
//! it was last used. A session ends after [`SESSION_IDLE`] without a request. rmcp's own idle
//! timer counts only the messages its session worker sees, and Keygate answers a session's
//! tool calls without that worker (`fast_call`, `session_calls`): left to rmcp, a session busy
//! with tool calls was ended five minutes after its last other message (seen in a 60 s load
//! run: every call of the session's next run answered 404). So rmcp's timer is off and the
//! access layer, which admits every request, keeps the time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::transport::streamable_http_server::session::SessionManager as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

/// How long a session may go without a request (rmcp's default keep-alive).
pub(crate) const SESSION_IDLE: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct OpenSession {
    owner: String,
    last_used: Instant,
}

/// Every open session, by id.
#[derive(Debug)]
pub(crate) struct SessionTable {
    open: Mutex<HashMap<String, OpenSession>>,
    idle_millis: AtomicU64,
}

impl Default for SessionTable {
    fn default() -> Self {
        Self { open: Mutex::default(), idle_millis: AtomicU64::new(millis(SESSION_IDLE)) }
    }
}

impl SessionTable {
    /// rmcp's session manager with its idle timer off (this table keeps the time).
    pub(crate) fn manager() -> LocalSessionManager {
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = None;
        manager
    }

    pub(crate) fn opened(&self, id: &str, owner: String) {
        self.lock().insert(id.to_string(), OpenSession { owner, last_used: Instant::now() });
    }

    pub(crate) fn ended(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    pub(crate) fn owner(&self, id: &str) -> Option<String> {
        self.lock().get(id).map(|s| s.owner.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether `owner` may use session `id` (an unknown one passes, for rmcp to answer 404);
    /// if it is theirs, it was just used.
    pub(crate) fn admit(&self, id: &str, owner: &str) -> bool {
        match self.lock().get_mut(id) {
            Some(session) if session.owner == owner => {
                session.last_used = Instant::now();
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// Change how long a session may idle (tests).
    pub(crate) fn set_idle(&self, idle: Duration) {
        self.idle_millis.store(millis(idle), Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_millis.load(Ordering::Relaxed))
    }

    /// Take out every session idle for longer than allowed.
    fn take_idle(&self) -> Vec<String> {
        let idle = self.idle();
        let mut open = self.lock();
        let gone: Vec<String> =
            open.iter().filter(|(_, s)| s.last_used.elapsed() > idle).map(|(id, _)| id.clone()).collect();
        for id in &gone {
            open.remove(id);
        }
        gone
    }

    /// End idle sessions, looking every second (or a tenth of a shorter idle time).
    pub(crate) fn spawn_sweeper(self: &Arc<Self>, manager: Arc<LocalSessionManager>, stop: CancellationToken) {
        let table = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let wait = (table.idle() / 10).clamp(Duration::from_millis(100), Duration::from_secs(1));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => return,
                }
                for id in table.take_idle() {
                    // One rmcp ended already (its transport closed) is not an error here.
                    let _ = manager.close_session(&id.as_str().into()).await;
                }
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, OpenSession>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmcp_never_ends_a_session_by_its_own_idle_timer() {
        assert_eq!(SessionTable::manager().session_config.keep_alive, None);
    }

    #[test]
    fn a_session_is_admitted_only_to_its_owner_and_idles_from_its_last_use() {
        let table = SessionTable::default();
        table.opened("s1", "token-a".into());
        assert!(table.admit("s1", "token-a") && !table.admit("s1", "token-b"));
        assert!(table.admit("unknown", "token-b"), "an unknown session is left to rmcp (404)");
        table.set_idle(Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(table.take_idle(), ["s1"]);
        assert_eq!(table.len(), 0);
    }
}
