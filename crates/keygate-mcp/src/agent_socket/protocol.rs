//! The socket's protocol: one JSON line each way, then the connection closes.
//!
//! `{"mint":"GRANT"}` -> `{"token":"kg_...","expires_at":MILLIS,"url":"http://127.0.0.1:PORT/mcp"}`
//! or `{"error":"...","code":"grant_revoked"}`. Requests are bounded in size and time.

use serde::{Deserialize, Serialize};

/// The longest request line accepted, newline included.
pub const MAX_REQUEST_BYTES: usize = 512;
/// The longest reply line a client reads.
pub(crate) const MAX_REPLY_BYTES: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow)]
    mint: std::borrow::Cow<'a, str>,
}

/// The grant a request line asks to mint under, or why the line is refused (never echoing it).
pub fn parse_request(line: &[u8]) -> Result<String, String> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(format!("request longer than {MAX_REQUEST_BYTES} bytes"));
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let request: Request<'_> =
        serde_json::from_slice(line).map_err(|_| "expected one line of JSON: {\"mint\":\"GRANT\"}".to_string())?;
    keygate_vault::validate_grant_name(&request.mint).map_err(|e| e.to_string())?;
    Ok(request.mint.into_owned())
}

/// A successful reply, serialised straight from the borrowed token.
#[derive(Serialize)]
pub(crate) struct Minted<'a> {
    pub token: &'a str,
    pub expires_at: i64,
    pub url: &'a str,
}

/// A refusal.
#[derive(Serialize)]
pub(crate) struct Refused<'a> {
    pub error: &'a str,
    pub code: &'a str,
}

/// Either reply, as a client reads it.
#[derive(Deserialize)]
pub(crate) struct Reply {
    pub token: Option<String>,
    pub expires_at: Option<i64>,
    pub url: Option<String>,
    pub error: Option<String>,
    pub code: Option<String>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("error", &self.error).field("code", &self.code).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mint_request_names_a_valid_grant() {
        assert_eq!(parse_request(b"{\"mint\":\"cursor\"}\n"), Ok("cursor".into()));
        assert_eq!(parse_request(b"{\"mint\":\"claude-desktop\"}"), Ok("claude-desktop".into()));
        assert_eq!(parse_request(b" {\"mint\" : \"a\"} \n"), Ok("a".into()));
        assert_eq!(parse_request(b"{\"mint\":\"\\u0063ursor\"}"), Ok("cursor".into()), "escapes decode");
        for bad in [
            &b""[..],
            b"\n",
            b"{}",
            b"{\"mint\":\"Cursor\"}",
            b"{\"mint\":\"a\",\"extra\":1}",
            b"{\"mint\":1}",
            b"{\"mint\":\"a\"}\n{\"mint\":\"b\"}",
            b"[\"mint\"]",
            b"{\"mint\":\"../../etc\"}",
            b"\xff\xfe",
        ] {
            assert!(parse_request(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = format!("{{\"mint\":\"{}\"}}", "a".repeat(MAX_REQUEST_BYTES));
        assert!(parse_request(long.as_bytes()).expect_err("too long").contains("longer"));
    }

    /// Garbage of every shape: never a panic, never an accepted grant that is not a valid name,
    /// and a refusal a terminal can show as it is (no control characters).
    #[test]
    fn garbage_never_panics_or_passes() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"{}[]\":,\\ \nmint0123456789abcdefu-_\x00\xff\xc3\xa9";
        for round in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut line: Vec<u8> = if round % 2 == 0 { b"{\"mint\":\"".to_vec() } else { Vec::new() };
            line.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
            match parse_request(&line) {
                Ok(grant) => assert!(keygate_vault::validate_grant_name(&grant).is_ok(), "{grant:?}"),
                Err(message) => assert!(!message.chars().any(char::is_control), "{message:?}"),
            }
        }
    }
}
