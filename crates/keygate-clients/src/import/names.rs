//! Names import gives: Keygate server names (`[a-z0-9-]{1,20}`, no `_`, so `<server>_<tool>`
//! splits) from whatever a client called a server, and credential names `<server>_<var>`.

/// The longest Keygate server name.
const MAX_SERVER_NAME: usize = 20;
/// The longest credential name the vault takes.
const MAX_CREDENTIAL_NAME: usize = 64;

/// A valid server name made from a client's (`GitHub_MCP.v2` -> `github-mcp-v2`).
pub(crate) fn server_base(client_name: &str) -> String {
    let mut name = String::new();
    for c in client_name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let mut name: String = name.chars().take(MAX_SERVER_NAME).collect();
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() { "server".to_string() } else { name }
}

/// The `n`th choice of server name from `base` (`base`, `base-2`, ...), within 20 characters.
pub(crate) fn server_candidate(base: &str, n: usize) -> String {
    if n <= 1 {
        return base.to_string();
    }
    let suffix = format!("-{n}");
    let keep: String = base.chars().take(MAX_SERVER_NAME - suffix.len()).collect();
    format!("{}{suffix}", keep.trim_end_matches('-'))
}

/// The `n`th choice of credential name for `var` of `server`: `<server>_<var>` lowercase, then
/// `_2`, `_3`, ...; characters the vault does not take become `_`.
pub(crate) fn credential_candidate(server: &str, var: &str, n: usize) -> String {
    let var: String = var
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-') { c } else { '_' })
        .collect();
    let suffix = if n <= 1 { String::new() } else { format!("_{n}") };
    let base: String = format!("{server}_{var}").chars().take(MAX_CREDENTIAL_NAME - suffix.len()).collect();
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_valid_and_bounded() {
        assert_eq!(server_base("GitHub_MCP.v2"), "github-mcp-v2");
        assert_eq!(server_base("brave-search"), "brave-search");
        assert_eq!(server_base("__"), "server");
        assert_eq!(server_base("é"), "server");
        assert_eq!(server_base("a-very-long-server-name-indeed"), "a-very-long-server-n");
        assert_eq!(server_candidate("a-very-long-server-n", 2), "a-very-long-server-2");
        assert_eq!(server_candidate("github", 3), "github-3");
        for name in ["GitHub_MCP.v2", "x", "------", "ÄÖÜ server 12"] {
            let made = server_base(name);
            assert!(keygate_mcp::validate_server_name(&made).is_ok(), "{made}");
        }
    }

    #[test]
    fn credential_names() {
        assert_eq!(credential_candidate("github", "GITHUB_TOKEN", 1), "github_github_token");
        assert_eq!(credential_candidate("api", "X-API-Key", 2), "api_x-api-key_2");
        assert!(keygate_vault::validate_name(&credential_candidate("s", "Ünïcode Name", 1)).is_ok());
        assert_eq!(credential_candidate("s", &"v".repeat(100), 3).len(), 64);
    }
}
