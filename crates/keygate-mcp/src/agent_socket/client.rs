//! Asking the running Keygate for a token under a grant, through the agent socket.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keygate_vault::Timestamp;
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::AGENT_SOCKET;
use super::protocol::{MAX_REPLY_BYTES, Reply};

/// How long a mint may take, connection included (a vault write behind another's lock).
const MINT_DEADLINE: Duration = Duration::from_secs(10);

/// A token minted under a grant.
pub struct MintedToken {
    /// The whole token, for the Authorization header.
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// The MCP endpoint of the Keygate that minted it.
    pub url: String,
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("url", &self.url)
            .finish()
    }
}

/// Why no token came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// Nothing serves the socket: no Keygate is running for this home.
    #[error(
        "Keygate is not running (no agent socket at {}): start the Keygate app or `keygate serve`, then retry",
        .path.display()
    )]
    NotRunning {
        /// The socket looked for.
        path: PathBuf,
    },
    /// Keygate refused: no such grant, revoked, expired, ...
    #[error("{message}")]
    Refused {
        /// What Keygate said.
        message: String,
        /// Its stable code (`grant_revoked`, `grant_not_found`, ...).
        code: String,
    },
    /// The socket answered something that is not a reply, or too late.
    #[error("the Keygate agent socket at {}: {detail}", .path.display())]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

impl MintError {
    /// Whether asking again later could succeed (Keygate down or slow, not a refusal).
    pub fn is_transient(&self) -> bool {
        match self {
            MintError::Refused { code, .. } => code == "busy",
            _ => true,
        }
    }
}

/// The agent socket of the Keygate home `home`.
pub fn socket_path(home: &Path) -> PathBuf {
    home.join(AGENT_SOCKET)
}

/// Ask the Keygate serving `home` for a token under `grant`.
pub async fn mint_token(home: &Path, grant: &str) -> Result<MintedToken, MintError> {
    let path = socket_path(home);
    match tokio::time::timeout(MINT_DEADLINE, exchange(&path, grant)).await {
        Ok(result) => result,
        Err(_) => Err(MintError::Protocol { path, detail: "no answer in time".into() }),
    }
}

async fn exchange(path: &Path, grant: &str) -> Result<MintedToken, MintError> {
    let protocol = |detail: String| MintError::Protocol { path: path.to_path_buf(), detail };
    let mut stream = match UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            return Err(MintError::NotRunning { path: path.to_path_buf() });
        }
        Err(e) => return Err(protocol(format!("cannot connect: {e}"))),
    };
    // The token must come from a process of our own user, not a socket someone else put there.
    let own_uid = nix::unistd::geteuid().as_raw();
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == own_uid => {}
        Ok(cred) => return Err(protocol(format!("served by another user (uid {}); refusing it", cred.uid()))),
        Err(e) => return Err(protocol(format!("cannot check who serves it: {e}"))),
    }
    let request = serde_json::json!({ "mint": grant }).to_string() + "\n";
    stream.write_all(request.as_bytes()).await.map_err(|e| protocol(format!("cannot send: {e}")))?;
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(MAX_REPLY_BYTES + 1));
    let mut reader = BufReader::new((&mut stream).take(MAX_REPLY_BYTES as u64 + 1));
    reader.read_until(b'\n', &mut line).await.map_err(|e| protocol(format!("cannot read: {e}")))?;
    if line.is_empty() {
        return Err(protocol("it closed without answering".into()));
    }
    if line.len() > MAX_REPLY_BYTES {
        return Err(protocol("its answer is too long".into()));
    }
    let reply: Reply = serde_json::from_slice(&line).map_err(|_| protocol("its answer is not JSON".into()))?;
    into_minted(reply).map_err(|problem| problem.unwrap_or_else(|| protocol("its answer lacks a token".into())))
}

fn into_minted(reply: Reply) -> Result<MintedToken, Option<MintError>> {
    if let Some(message) = reply.error {
        let message = crate::text::printable(&message, 400);
        return Err(Some(MintError::Refused { message, code: reply.code.unwrap_or_default() }));
    }
    match (reply.token, reply.expires_at, reply.url) {
        (Some(token), Some(expires_at), Some(url)) if keygate_vault::token_id(&token).is_some() => Ok(MintedToken {
            token: SecretString::from(token),
            expires_at: Timestamp::from_unix_millis(expires_at),
            url,
        }),
        _ => Err(None),
    }
}
