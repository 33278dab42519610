//! Masking what looks secret before a diff is shown: other servers' `env` and `headers`
//! values, values under secret-sounding names, bearer tokens and well-known key prefixes.
//! It errs on the side of masking: a hidden harmless value costs nothing.

use serde_json::Value;

/// What replaces a masked value.
pub const MASK: &str = "********";

/// Objects whose every string value is a secret (the usual homes of keys in client configs).
const SECRET_CONTAINERS: [&str; 5] = ["env", "headers", "http_headers", "env_http_headers", "requestinit"];
/// Parts of names that mark their value secret.
const SECRET_NAMES: [&str; 12] = [
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "api-key",
    "authorization",
    "credential",
    "private",
    "access_key",
    "bearer",
];
/// Prefixes of well-known key formats.
const KEY_PREFIXES: [&str; 16] = [
    "sk-",
    "sk_",
    "pk_live",
    "rk_live",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "AIza",
    "ya29.",
    "kg_",
];
/// Shorter values are only masked where their name says they are secret (masking every "1"
/// or "true" in a diff would make it unreadable).
const MIN_SUBSTRING_LEN: usize = 6;

/// Whether a key name marks its value secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|part| lower.contains(part))
}

/// Whether a string looks like a credential by its form alone.
pub(crate) fn looks_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("bearer ") || lower.starts_with("basic ") || lower.starts_with("token ") {
        return true;
    }
    if KEY_PREFIXES.iter().any(|p| text.starts_with(p)) && text.len() >= 10 {
        return true;
    }
    // Long, unbroken runs of key alphabet with letters and digits mixed: most API keys.
    text.len() >= 20
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'=' | b'.'))
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().any(|b| b.is_ascii_alphabetic())
        && !text.contains("..")
}

/// Every secret-looking string in `value`.
pub(crate) fn secrets_in(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, false, &mut found);
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found.dedup();
    found
}

fn collect(value: &Value, secret: bool, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if secret || looks_secret(s) {
                found.push(s.clone());
            } else if let Some(password) = url_password(s) {
                found.push(password.to_string());
            } else if let Some((name, rest)) = s.split_once('=')
                && is_secret_name(name)
            {
                found.push(rest.to_string());
            }
        }
        Value::Array(items) => {
            let mut after_secret_flag = false;
            for item in items {
                collect(item, secret || after_secret_flag, found);
                after_secret_flag = item.as_str().is_some_and(|s| s.starts_with('-') && is_secret_name(s));
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let container = SECRET_CONTAINERS.contains(&key.to_ascii_lowercase().as_str());
                collect(item, secret || container || is_secret_name(key), found);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The password of a URL written `scheme://user:password@host...`.
fn url_password(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("://")?;
    let userinfo = &rest[..rest.find('@')?];
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty() && !password.contains('/')).then_some(password)
}

/// `text` with every occurrence of the secrets (as written, or escaped as JSON or TOML would
/// write them) masked, and then, line by line, any value after a secret-sounding name or a
/// `Bearer ` masked whatever its length.
pub(crate) fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= MIN_SUBSTRING_LEN) {
        let escaped = Value::from(secret.as_str()).to_string();
        let escaped = &escaped[1..escaped.len() - 1];
        for form in [secret.as_str(), escaped] {
            if out.contains(form) {
                out = out.replace(form, MASK);
            }
        }
    }
    out.split_inclusive('\n').map(mask_line).collect()
}

/// One line of JSON or TOML: `"name": "value"` / `name = "value"` with a secret-sounding name,
/// and `Bearer xyz`, get their value masked.
fn mask_line(line: &str) -> String {
    let mut out = line.to_string();
    if let Some(at) = out.to_ascii_lowercase().find("bearer ") {
        let start = at + "bearer ".len();
        let end = out[start..].find(['"', '\'', ' ', ',', '\n']).map_or(out.len(), |i| start + i);
        if end > start {
            out.replace_range(start..end, MASK);
        }
    }
    let Some(sep) = out.find([':', '=']) else { return out };
    let name = out[..sep].trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '+' | '-' | '@'));
    if !is_secret_name(name) {
        return out;
    }
    let rest = &out[sep + 1..];
    let Some(open) = rest.find(['"', '\'']) else { return out };
    let quote = rest.as_bytes()[open] as char;
    let value_start = sep + 1 + open + 1;
    let Some(len) = out[value_start..].find(quote) else { return out };
    if len > 0 && &out[value_start..value_start + len] != MASK {
        out.replace_range(value_start..value_start + len, MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_env_headers_flags_and_key_shapes() {
        let doc = json!({ "mcpServers": {
            "a": { "command": "npx", "args": ["-y", "srv", "--api-key", "plainkey1", "--token=tok-123456"],
                   "env": { "BRAVE_API_KEY": "BSAvalue", "DEBUG": "verbose-mode" } },
            "b": { "url": "https://x.example/mcp", "headers": { "Authorization": "Bearer abc.def" } },
            "c": { "command": "node", "args": ["/opt/srv/index.js", "sk-live-0123456789"] },
            "d": { "command": "x", "args": ["postgresql://app:pgpass99@localhost/app"] }
        }});
        let secrets = secrets_in(&doc);
        for s in ["pgpass99", "plainkey1", "BSAvalue", "verbose-mode", "Bearer abc.def", "sk-live-0123456789"] {
            assert!(secrets.iter().any(|x| x == s), "{s} not found in {secrets:?}");
        }
        for s in ["npx", "-y", "/opt/srv/index.js", "https://x.example/mcp"] {
            assert!(!secrets.iter().any(|x| x == s), "{s} taken for a secret");
        }
    }

    #[test]
    fn masks_values_lines_and_bearer_tokens() {
        let text = "+  \"KEY\": \"sk-live-0123456789\",\n   \"password\": \"pw\",\n-  \"h\": \"Bearer zzz\"\n";
        let masked = mask(text, &["sk-live-0123456789".to_string()]);
        assert!(!masked.contains("sk-live") && !masked.contains("\"pw\"") && !masked.contains("zzz"), "{masked}");
        assert_eq!(masked.lines().count(), 3);
        assert!(masked.contains("\"password\": \"********\""), "{masked}");
    }

    #[test]
    fn masks_the_json_escaped_form() {
        let secret = "ab\"cd\\ef-ghij".to_string();
        let masked = mask(r#"  "x": "ab\"cd\\ef-ghij""#, &[secret]);
        assert!(!masked.contains("ghij"), "{masked}");
    }
}
