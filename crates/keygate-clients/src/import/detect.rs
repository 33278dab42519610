//! What counts as a secret in a client's server entry, and what is a reference the client
//! resolves itself (`${VAR}`, `${env:X}`, `${input:x}`, `$VAR`, `op://...`), left alone.

/// Parts of an env or header name that mark its value secret (compared in upper case).
const SECRET_WORDS: [&str; 8] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "BEARER"];
/// Prefixes of well-known key formats.
const KEY_PREFIXES: [&str; 22] = [
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "github_pat_",
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "pk_live_",
    "xoxb-",
    "xoxp-",
    "xapp-",
    "glpat-",
    "hf_",
    "AKIA",
    "ASIA",
    "lin_api_",
    "AIza",
    "ya29.",
    "npm_",
    "pplx-",
];
/// Query parameters that carry keys in URLs.
const URL_KEY_PARAMS: [&str; 8] = ["apikey", "api_key", "api-key", "key", "token", "access_token", "auth", "secret"];

/// Whether a name (env variable, header, flag) says its value is secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| upper.contains(word))
}

/// Whether a value has the form of a known key (a prefix, a JWT, or an auth scheme).
pub(crate) fn is_key_format(value: &str) -> bool {
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("bearer ") || lower.starts_with("basic ") || lower.starts_with("token ") {
        return true;
    }
    (value.len() >= 12 && KEY_PREFIXES.iter().any(|p| value.starts_with(p))) || is_jwt(value)
}

fn is_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && value.starts_with("eyJ")
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Whether a value is a reference the client (or a password manager) resolves: nothing to move.
pub(crate) fn is_reference(value: &str) -> bool {
    let value = value.trim();
    if value.contains("${") || value.starts_with("op://") || value.contains("{env:") {
        return true;
    }
    let mut chars = value.chars();
    chars.next() == Some('$') && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// A header whose value is secret by its name alone.
pub(crate) fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "authorization" | "proxy-authorization" | "x-api-key" | "api-key" | "x-auth-token")
        || is_secret_name(name)
}

/// Whether an argument list carries a key: `--api-key=V`, `--token V`, `-H "Authorization: V"`,
/// or a value in a key format. Names the first offending argument's position.
pub(crate) fn secret_argument(args: &[String]) -> Option<usize> {
    for (i, arg) in args.iter().enumerate() {
        if is_reference(arg) {
            continue;
        }
        if let Some((flag, value)) = arg.split_once('=')
            && flag.starts_with('-')
            && is_secret_name(flag)
            && !value.is_empty()
            && !is_reference(value)
        {
            return Some(i);
        }
        let next = args.get(i + 1).filter(|v| !v.starts_with('-') && !is_reference(v));
        if arg.starts_with('-') && !arg.contains('=') && is_secret_name(arg) && next.is_some() {
            return Some(i + 1);
        }
        if matches!(arg.as_str(), "-H" | "--header")
            && let Some(header) = next
            && let Some((name, value)) = header.split_once(':')
            && is_secret_header(name.trim())
            && !is_reference(value)
        {
            return Some(i + 1);
        }
        if is_key_format(arg) || header_in_arg(arg) || (arg.contains("://") && url_has_credentials(arg)) {
            return Some(i);
        }
    }
    None
}

/// `Authorization: Bearer ...` passed as one argument.
fn header_in_arg(arg: &str) -> bool {
    arg.split_once(':').is_some_and(|(name, value)| {
        !name.contains(' ') && is_secret_header(name.trim()) && !value.trim().is_empty() && !is_reference(value)
    })
}

/// Whether a URL carries credentials: `user:pass@host` or a key-named query parameter.
pub(crate) fn url_has_credentials(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return true;
    }
    let Some((_, query)) = url.split_once('?') else { return false };
    query.split(['&', '#']).any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.to_ascii_lowercase();
        !value.is_empty() && !is_reference(value) && (URL_KEY_PARAMS.contains(&name.as_str()) || is_secret_name(&name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_formats_and_references() {
        for secret in ["GITHUB_PERSONAL_ACCESS_TOKEN", "OPENAI_API_KEY", "db_password", "X_AUTH"] {
            assert!(is_secret_name(secret), "{secret}");
        }
        assert!(!is_secret_name("LOG_LEVEL"));
        for key in [
            "ghp_abcdefghijklmnop",
            "sk-proj-abcdefghij",
            "xoxb-1234-5678-abcd",
            "AKIAABCDEFGHIJKLMNOP",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "Bearer abc",
        ] {
            assert!(is_key_format(key), "{key}");
        }
        assert!(!is_key_format("production") && !is_key_format("sk-"));
        for reference in ["${GITHUB_TOKEN}", "${env:X}", "${input:api-key}", "$TOKEN", "op://vault/item/field"] {
            assert!(is_reference(reference), "{reference}");
        }
        assert!(!is_reference("$") && !is_reference("a$b") && !is_reference("ghp_x"));
    }

    #[test]
    fn arguments_and_urls() {
        assert_eq!(secret_argument(&args(&["-y", "pkg", "--api-key=abc123"])), Some(2));
        assert_eq!(secret_argument(&args(&["--token", "abc123"])), Some(1));
        assert_eq!(secret_argument(&args(&["-H", "Authorization: Bearer x"])), Some(1));
        assert_eq!(secret_argument(&args(&["--token", "${TOKEN}", "pkg"])), None);
        assert_eq!(secret_argument(&args(&["-y", "@modelcontextprotocol/server-github"])), None);
        assert_eq!(secret_argument(&args(&["pkg", "postgresql://app:pw@localhost/app"])), Some(1));
        assert!(url_has_credentials("https://user:pw@example.test/mcp"));
        assert!(url_has_credentials("https://example.test/mcp?apikey=abc"));
        assert!(!url_has_credentials("https://example.test/mcp?apikey=${KEY}"));
        assert!(!url_has_credentials("https://example.test/mcp?page=2"));
    }
}
