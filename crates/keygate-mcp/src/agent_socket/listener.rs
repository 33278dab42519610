//! Serving the agent socket: one lock per home (a live Keygate's socket is never taken over,
//! a dead one's is replaced), a 0600 socket put in place by rename, the peer's uid checked on
//! every connection, one bounded request per connection.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::protocol::{MAX_REQUEST_BYTES, Minted, Refused, parse_request};
use super::{AGENT_LOCK, AGENT_SOCKET};
use crate::gate::Gate;

/// How long a peer has to send its request and read the reply.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;

/// The socket while it is served; the file is removed when the server stops.
#[derive(Debug)]
pub(crate) struct AgentSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl AgentSocket {
    /// Serve `<home>/agent.sock` until `stop`, minting through `gate` for the endpoint `url`.
    /// `None` (after a warning) if another live Keygate serves it or it cannot be made: the
    /// HTTP server works without it.
    pub(crate) fn spawn(home: &Path, gate: Gate, url: String, stop: CancellationToken) -> Option<Self> {
        let path = home.join(AGENT_SOCKET);
        let lock = match take_lock(home) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                tracing::warn!(path = %path.display(), "another Keygate serves this home's agent socket; leaving it");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot lock the agent socket; `keygate connect --grant` will not work");
                return None;
            }
        };
        let listener = match bind_private(home, &path) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot serve the agent socket");
                return None;
            }
        };
        let served = path.clone();
        let task = tokio::spawn(async move {
            accept_loop(listener, gate, Arc::from(url), stop).await;
            // Remove the file while still holding the lock, so no one else's socket is removed.
            let _ = std::fs::remove_file(&served);
            drop(lock);
        });
        tracing::info!(path = %path.display(), "agent socket ready");
        Some(Self { path, task })
    }

    /// The socket's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Wait until the socket is closed, its file removed and its lock released (after `stop`),
    /// so a server started next in this process can take it.
    pub(crate) async fn closed(self) {
        let _ = self.task.await;
    }
}

/// The home's agent lock, or `None` if a live process holds it. Held for as long as the
/// socket is served; the OS drops it when the process dies, however it dies.
fn take_lock(home: &Path) -> std::io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(home.join(AGENT_LOCK))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Bind under a temporary name, make it 0600, then rename it over `path` (replacing a dead
/// Keygate's socket atomically: a client sees the old file or the new socket, never nothing).
fn bind_private(home: &Path, path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let temp = home.join(format!(".{AGENT_SOCKET}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let listener = UnixListener::bind(&temp)?;
    let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(listener)
}

async fn accept_loop(listener: UnixListener, gate: Gate, url: Arc<str>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let own_uid = nix::unistd::geteuid().as_raw();
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "agent socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else { continue };
        let (gate, url) = (gate.clone(), Arc::clone(&url));
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, serve_peer(stream, own_uid, &gate, &url)).await;
            drop(slot);
        });
    }
}

async fn serve_peer(mut stream: UnixStream, own_uid: u32, gate: &Gate, url: &str) {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == own_uid => {}
        Ok(cred) => {
            tracing::warn!(peer_uid = cred.uid(), "agent socket: refused a process of another user");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "agent socket: cannot read the peer's credentials; refused");
            return;
        }
    }
    let mut line = Vec::with_capacity(64);
    let mut reader = BufReader::new((&mut stream).take(MAX_REQUEST_BYTES as u64 + 1));
    if reader.read_until(b'\n', &mut line).await.is_err() {
        return;
    }
    let reply = match parse_request(&line) {
        Ok(grant) => mint(gate, &grant, url),
        Err(problem) => refusal(&format!("bad request: {problem}"), "bad_request"),
    };
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

fn mint(gate: &Gate, grant: &str, url: &str) -> zeroize::Zeroizing<Vec<u8>> {
    match gate.with(|vault| vault.mint_grant_token(grant)) {
        Ok(issued) => {
            let minted =
                Minted { token: issued.token.expose_secret(), expires_at: issued.expires_at.unix_millis(), url };
            let mut line = zeroize::Zeroizing::new(Vec::with_capacity(1024));
            if serde_json::to_writer(&mut *line, &minted).is_err() {
                return refusal("cannot encode the reply", "internal");
            }
            line.push(b'\n');
            tracing::debug!(grant, token_id = %issued.id, "minted a token for a local agent");
            line
        }
        Err(e) => refusal(&e.to_string(), e.code()),
    }
}

fn refusal(error: &str, code: &str) -> zeroize::Zeroizing<Vec<u8>> {
    let mut line = serde_json::to_vec(&Refused { error, code }).unwrap_or_default();
    line.push(b'\n');
    zeroize::Zeroizing::new(line)
}
