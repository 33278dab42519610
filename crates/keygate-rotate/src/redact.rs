//! What a command or provider says, made safe for an error: every value Keygate handed it
//! (or got from it) replaced by `[redacted]`, one line, bounded.

use secrecy::{ExposeSecret, SecretString};

/// The most characters of a command's or provider's words kept in an error.
const MAX_SAID: usize = 300;

/// `said` with each of `secrets` replaced, control characters escaped, cut to `MAX_SAID`.
pub(crate) fn redact(said: &str, secrets: &[&SecretString]) -> String {
    let mut text = said.to_string();
    for secret in secrets {
        let value = secret.expose_secret();
        if !value.is_empty() {
            text = text.replace(value, "[redacted]");
        }
    }
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(MAX_SAID).flat_map(char::escape_debug).collect();
    if one_line.chars().count() > MAX_SAID {
        out.push_str("...");
    }
    if out.is_empty() { "(it said nothing)".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_and_the_text_bounded() {
        let key = SecretString::from("sk-live-123");
        assert_eq!(redact("bad key sk-live-123\nagain sk-live-123", &[&key]), "bad key [redacted] again [redacted]");
        assert_eq!(redact("", &[&key]), "(it said nothing)");
        assert!(redact(&"x".repeat(5000), &[]).len() < 400);
        assert_eq!(redact("a\u{1b}[31mb", &[]), "a\\u{1b}[31mb");
    }
}
