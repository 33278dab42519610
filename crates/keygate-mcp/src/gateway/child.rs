//! One running connection to a fronted server: a stdio child Keygate launched, or a remote
//! Streamable HTTP (or legacy SSE) session. Started with the vault's values put into the child's cleared
//! environment (never argv) or into request headers (never the agent's token).

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use rmcp::model::Tool;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{Peer, RoleClient, ServiceExt};
use secrecy::ExposeSecret;
use tokio::io::AsyncRead;
use tokio_util::codec::{FramedRead, LinesCodec};

use super::events::ChildEvents;
use super::legacy_sse::LegacySse;
use super::secrets::Injected;
use crate::config::{ServerEntry, Transport};
use crate::text::printable;

/// Variables a child inherits from Keygate; everything else it gets is in its `env`.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TZ",
    "SHELL",
    // What Windows programs need to run at all.
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "TEMP",
    "TMP",
];
/// Stderr lines kept for the error shown when a child fails to start.
const STDERR_TAIL_LINES: usize = 5;
/// Longest stderr line logged; the rest is cut.
const MAX_STDERR_LINE: usize = 2000;

/// A live connection to a fronted server.
pub(crate) struct Child {
    pub(crate) service: RunningService<RoleClient, ChildEvents>,
    pub(crate) pid: Option<u32>,
    pub(crate) injected: Injected,
    pub(crate) tools: Mutex<Vec<Tool>>,
    in_flight: AtomicUsize,
    last_used: Mutex<Instant>,
    started_at: Instant,
    /// Set when a call found the connection gone, before rmcp's own loop notices.
    gone: AtomicBool,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("pid", &self.pid).field("injected", &self.injected).finish_non_exhaustive()
    }
}

/// The last lines a child wrote to stderr (redacted), for a useful start error.
pub(crate) type StderrTail = Arc<Mutex<VecDeque<String>>>;

impl Child {
    /// Start `entry` and complete the MCP handshake, within the server's timeout.
    pub(crate) async fn start(entry: &ServerEntry, injected: Injected, events: ChildEvents) -> Result<Self, String> {
        let tail: StderrTail = Arc::default();
        let started = tokio::time::timeout(entry.timeout, connect(entry, &injected, events, &tail)).await;
        let last_words = || {
            let lines = tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join(" | ")).unwrap_or_default();
            if lines.is_empty() { String::new() } else { format!("; it said: {lines}") }
        };
        let (service, pid) = match started {
            Ok(Ok(connected)) => connected,
            Ok(Err(e)) => return Err(format!("server {} did not start: {e}{}", entry.name, last_words())),
            Err(_) => {
                return Err(format!(
                    "server {} did not answer the MCP handshake within {}s: check that it runs and speaks MCP{}",
                    entry.name,
                    entry.timeout.as_secs(),
                    last_words()
                ));
            }
        };
        Ok(Self {
            service,
            pid,
            injected,
            tools: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            gone: AtomicBool::new(false),
            started_at: Instant::now(),
        })
    }

    pub(crate) fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// Whether the connection is gone (the child exited or the remote closed it).
    pub(crate) fn is_closed(&self) -> bool {
        self.gone.load(Ordering::SeqCst) || self.service.is_closed() || self.peer().is_transport_closed()
    }

    /// Whether a credential it was started with has been rotated since (or, for a team copy,
    /// now holds another team version: the audit must name the one in use).
    pub(crate) fn keys_rotated(&self, vault: &keygate_vault::Vault) -> bool {
        let versions = self.injected.versions();
        versions.iter().zip(self.injected.team_versions()).any(|((name, version), team_version)| {
            vault.current_versions(name).ok().flatten() != Some((*version, *team_version))
        })
    }

    /// How long it has been running.
    pub(crate) fn uptime(&self) -> std::time::Duration {
        self.started_at.elapsed()
    }

    /// A call found the connection gone: the next call starts a new one.
    pub(crate) fn mark_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
    }

    /// Mark a call as started; the guard marks it done.
    pub(crate) fn begin_call(self: &Arc<Self>) -> CallGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        CallGuard { child: Arc::clone(self) }
    }

    pub(crate) fn calls_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// How long since a call last ended (or the child started).
    pub(crate) fn idle_for(&self) -> std::time::Duration {
        self.last_used.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

impl Drop for Child {
    /// A stdio child leads its own process group: end the whole group, so whatever the server
    /// started (`npx` starts node, a server may start helpers) goes with it.
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.pid.and_then(|pid| i32::try_from(pid).ok()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// A call in flight on a child.
pub(crate) struct CallGuard {
    child: Arc<Child>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Ok(mut last) = self.child.last_used.lock() {
            *last = Instant::now();
        }
        self.child.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn connect(
    entry: &ServerEntry,
    injected: &Injected,
    events: ChildEvents,
    tail: &StderrTail,
) -> Result<(RunningService<RoleClient, ChildEvents>, Option<u32>), String> {
    match &entry.transport {
        Transport::Stdio { command, args, env } => {
            let (process, stderr) = spawn(command, args, env, injected)?;
            let pid = process.id();
            if let Some(stderr) = stderr {
                tokio::spawn(log_stderr(entry.name.clone(), stderr, injected.clone(), Arc::clone(tail)));
            }
            let ordered = events.in_order(process);
            let service = events.serve(ordered).await.map_err(|e| format!("the MCP handshake failed ({e})"))?;
            Ok((service, pid))
        }
        Transport::Http { url, headers } => {
            let mut custom = HashMap::new();
            for (name, setting) in headers {
                let mut value = http::HeaderValue::from_str(injected.resolve(setting).expose_secret())
                    .map_err(|_| format!("the value for header {name} is not valid in an HTTP header"))?;
                value.set_sensitive(true);
                custom.insert(name.clone(), value);
            }
            // Never follow a redirect: it would carry the key to wherever the server points.
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                .map_err(|e| format!("cannot build an HTTP client ({e})"))?;
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(custom.clone());
            let transport = StreamableHttpClientTransport::with_client(client.clone(), config);
            let streamable = match events.clone().serve(events.in_order(transport)).await {
                Ok(service) => return Ok((service, None)),
                Err(e) => without_type_names(&e.to_string()),
            };
            // A server that only speaks the 2024-11-05 HTTP+SSE transport refuses the POST;
            // its event stream tells us so.
            let legacy = LegacySse::connect(client, url, &custom).await.map_err(|legacy| {
                format!(
                    "cannot connect to {url}: Streamable HTTP failed ({streamable}) and there is no legacy SSE \
                     stream either ({legacy}); check `url`"
                )
            })?;
            let ordered = events.in_order(legacy);
            let service = events.serve(ordered).await.map_err(|e| format!("cannot connect to {url} over SSE ({e})"))?;
            Ok((service, None))
        }
    }
}

/// rmcp's transport errors name Rust types (`Transport [rmcp::...] error: ...`): keep what
/// a person can act on.
/// What follows may quote the server's answer, so it is bounded and escaped.
fn without_type_names(error: &str) -> String {
    printable(error.rsplit_once("] error: ").map_or(error, |(_, detail)| detail), 300)
}

/// Launch a stdio child: cleared environment, its own process group, killed with Keygate.
fn spawn(
    command: &str,
    args: &[String],
    env: &[(String, crate::config::Setting)],
    injected: &Injected,
) -> Result<(TokioChildProcess, Option<tokio::process::ChildStderr>), String> {
    let program = find_program(command)?;
    let mut cmd = guarded_command(&program, args);
    cmd.env_clear();
    for name in INHERITED_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    for (name, setting) in env {
        cmd.env(name, injected.resolve(setting).expose_secret());
    }
    let mut wrapped = process_wrap::tokio::CommandWrap::from(cmd);
    #[cfg(unix)]
    wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
    wrapped.wrap(process_wrap::tokio::KillOnDrop);
    TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?} ({e}): check the command and that it is on PATH", printable(command, 80)))
}

/// The program to run: a path as given, or a bare name looked up on PATH, so a typo is
/// reported as such instead of as a failed handshake.
fn find_program(command: &str) -> Result<std::path::PathBuf, String> {
    let given = std::path::Path::new(command);
    let found = if given.components().count() > 1 {
        given.is_file().then(|| given.to_path_buf())
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).map(|dir| dir.join(command)).find(|candidate| candidate.is_file())
    };
    found.ok_or_else(|| {
        format!("cannot run {:?}: no such program (check `command`, and that it is on PATH)", printable(command, 80))
    })
}

/// On Linux the child runs under a guard shell that gets SIGTERM when Keygate dies (even by
/// kill -9, through the parent-death signal) and then kills the child's whole process group,
/// so `npx` and the node process it starts never outlive Keygate. The guard passes stdin on
/// explicitly: a background job's stdin would otherwise be /dev/null.
fn guarded_command(command: &std::path::Path, args: &[String]) -> tokio::process::Command {
    const GUARD: &str = "trap 'kill -KILL 0' TERM; exec 3<&0; \"$@\" <&3 3<&- & wait $!";
    const SETPRIV: &str = "/usr/bin/setpriv";
    if cfg!(target_os = "linux") && std::path::Path::new(SETPRIV).exists() {
        let mut cmd = tokio::process::Command::new(SETPRIV);
        cmd.args(["--pdeathsig", "TERM", "--", "/bin/sh", "-c", GUARD, "keygate-guard"]).arg(command).args(args);
        cmd
    } else {
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(args);
        cmd
    }
}

/// Log what a child writes to stderr, line by line, redacted and escaped.
async fn log_stderr(server: String, stderr: impl AsyncRead + Unpin, injected: Injected, tail: StderrTail) {
    // A bounded codec: a child that writes one endless line cannot make Keygate buffer it.
    let mut lines = FramedRead::new(stderr, LinesCodec::new_with_max_length(MAX_STDERR_LINE));
    while let Some(line) = lines.next().await {
        let Ok(line) = line else {
            tracing::info!(target: "keygate::gateway::stderr", server = %server, "(a line over {MAX_STDERR_LINE} bytes, not shown)");
            continue;
        };
        let line = printable(&injected.redact(&line), MAX_STDERR_LINE);
        tracing::info!(target: "keygate::gateway::stderr", server = %server, "{line}");
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    // The codec may stop after an error; keep draining so the child never blocks on a full pipe.
    let _ = tokio::io::copy(&mut lines.into_inner(), &mut tokio::io::sink()).await;
}
