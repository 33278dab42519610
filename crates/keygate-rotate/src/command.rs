//! The command rotator: a program that mints (or revokes) a key, speaking one JSON object on
//! stdin and one on stdout. Values travel only there: never argv, never the environment
//! (the child gets a cleared one). It is killed at the timeout; stdout and stderr are bounded.

use std::process::Stdio;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use zeroize::Zeroizing;

use crate::provider::Minted;
use crate::redact::redact;

/// The most bytes read of a command's stdout (one small JSON object).
pub(crate) const MAX_STDOUT: usize = 64 * 1024;
/// The most bytes of stderr kept for the error.
const MAX_STDERR: usize = 8 * 1024;

/// What the mint command prints.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintAnswer {
    value: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

/// Run `argv` with `input` on stdin; its stdout on success, else why (redacted).
pub(crate) async fn run(
    argv: &[String],
    input: &Zeroizing<String>,
    timeout: Duration,
    secrets: &[&SecretString],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let (program, args) = argv.split_first().ok_or("the command is empty")?;
    let mut command = Command::new(program);
    command.args(args).env_clear().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.kill_on_drop(true);
    for name in ["PATH", "HOME", "LANG", "TMPDIR"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", printable(program)))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let work = async {
        // A command that exits without reading its stdin is judged by its exit, not the pipe.
        let write = async {
            let _ = stdin.write_all(input.as_bytes()).await;
            drop(stdin);
        };
        let (_, out, err, status) = tokio::join!(
            write,
            read_bounded(&mut stdout, MAX_STDOUT),
            read_bounded(&mut stderr, MAX_STDERR),
            child.wait()
        );
        (out, err, status)
    };
    let (out, err, status) = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("{} did not finish within {} s and was stopped", printable(program), timeout.as_secs()))?;
    let status = status.map_err(|e| format!("cannot wait for {}: {e}", printable(program)))?;
    let (out, too_long) = out.map_err(|e| format!("cannot read its output: {e}"))?;
    if !status.success() {
        let said = String::from_utf8_lossy(&err.map(|(e, _)| e).unwrap_or_default()).to_string();
        let code = status.code().map_or("a signal".to_string(), |c| format!("status {c}"));
        return Err(format!("{} exited with {code}: {}", printable(program), redact(&said, secrets)));
    }
    if too_long {
        return Err(format!("{} printed more than {MAX_STDOUT} bytes; print one JSON object", printable(program)));
    }
    Ok(out)
}

/// Parse the mint command's answer: `{"value": ..., "id": ..., "expires_at": RFC 3339}`.
pub(crate) fn parse_minted(out: &[u8], program: &str) -> Result<Minted, String> {
    let garbage = || {
        format!(
            "{} did not print one JSON object {{\"value\": \"...\", \"id\": \"...\", \"expires_at\": \"RFC 3339\"}} \
             (its output is not shown: it may hold a key)",
            printable(program)
        )
    };
    let answer: MintAnswer = serde_json::from_slice(out).map_err(|_| garbage())?;
    let value = SecretString::from(answer.value);
    let expires_at = match answer.expires_at {
        None => None,
        Some(text) => Some(parse_rfc3339(&text).ok_or_else(|| {
            // Not shown: whatever a command prints may be a key.
            format!(
                "{} printed an expires_at that is not RFC 3339 (write e.g. 2026-12-01T00:00:00Z; its text is not shown)",
                printable(program)
            )
        })?),
    };
    if answer.id.as_ref().is_some_and(|id| id.is_empty() || id.len() > 256 || id.chars().any(char::is_control)) {
        return Err(format!(
            "{} printed an id that is empty, over 256 bytes or has control characters",
            printable(program)
        ));
    }
    if value.expose_secret().is_empty() {
        return Err(format!("{} printed an empty value", printable(program)));
    }
    Ok(Minted { value, id: answer.id, expires_at })
}

fn parse_rfc3339(text: &str) -> Option<keygate_vault::Timestamp> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some(keygate_vault::Timestamp::from_unix_millis(millis))
}

/// Read at most `limit` bytes, then drain the rest (a full pipe would hang the child).
async fn read_bounded(
    pipe: &mut (impl AsyncRead + Unpin),
    limit: usize,
) -> std::io::Result<(Zeroizing<Vec<u8>>, bool)> {
    let mut kept = Zeroizing::new(Vec::new());
    let mut buf = Zeroizing::new(vec![0u8; 8192]);
    let mut over = false;
    loop {
        let n = pipe.read(&mut buf).await?;
        if n == 0 {
            return Ok((kept, over));
        }
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        over |= n > room;
    }
}

pub(crate) fn printable(text: &str) -> String {
    text.chars().take(120).flat_map(char::escape_debug).collect()
}

#[derive(serde::Serialize)]
struct MintInput<'a> {
    credential: &'a str,
    current: &'a str,
    current_id: Option<&'a str>,
    attempt: &'a str,
}

#[derive(serde::Serialize)]
struct RevokeInput<'a> {
    credential: &'a str,
    value: &'a str,
    id: Option<&'a str>,
}

/// The mint command's stdin (serialized straight from borrowed values: no copy but this one).
pub(crate) fn mint_input(
    credential: &str,
    current: &SecretString,
    current_id: Option<&str>,
    attempt: &str,
) -> Zeroizing<String> {
    let input = MintInput { credential, current: current.expose_secret(), current_id, attempt };
    Zeroizing::new(serde_json::to_string(&input).unwrap_or_default())
}

/// The revoke command's stdin.
pub(crate) fn revoke_input(credential: &str, value: &SecretString, id: Option<&str>) -> Zeroizing<String> {
    let input = RevokeInput { credential, value: value.expose_secret(), id };
    Zeroizing::new(serde_json::to_string(&input).unwrap_or_default())
}
