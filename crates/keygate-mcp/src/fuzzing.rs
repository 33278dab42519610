//! Entry points for the fuzz targets in `crates/keygate-mcp/fuzz` and for the stable test
//! that replays their corpora (`tests/fuzz_corpus.rs`): one function per target, so the
//! nightly fuzzer and `cargo test` run exactly the same code. Each returns normally for any
//! input and panics only when a property Keygate promises does not hold.

mod fast;
mod front;
mod gateway;

use std::path::Path;

use crate::config::{Config, NewServer, NewTransport, add_server, parse_bind, remove_server};

pub use fast::fast_call;
pub use front::server_front;
pub use gateway::gateway_message;

/// `config.toml` as the server and the vault read it, and as `keygate server add` / `remove`
/// edit it: a config or an error naming the file; an edit of a valid file parses again and
/// changes exactly the server it was asked to.
pub fn config_toml(data: &[u8]) {
    keygate_vault::fuzzing::config_toml(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/fuzz/config.toml");
    team_section(text, path);
    let config = match Config::parse(text, path) {
        Ok(config) => config,
        Err(error) => {
            assert!(error.to_string().contains("/fuzz/config.toml"), "an error without the file: {error}");
            return;
        }
    };
    for server in &config.servers {
        let _ = (server.credentials(), server.kind(), server.exposed_name("tool"));
    }
    for line in text.lines() {
        if let Ok(addr) = parse_bind(line) {
            assert!(addr.ip().is_loopback(), "a bind address off this machine was accepted: {addr}");
        }
    }
    edits_keep_the_rest(text, &config);
}

/// `[team]`: an error names the file; an accepted address is https, or http to this machine,
/// with nothing but scheme, host, port and path; mount and path hold no `..`.
fn team_section(text: &str, path: &Path) {
    match keygate_team::TeamConfig::parse(text, path) {
        Err(error) => assert!(error.to_string().contains("/fuzz/config.toml"), "an error without the file: {error}"),
        Ok(None) => {}
        Ok(Some(team)) => {
            let url = reqwest::Url::parse(&team.address).expect("an accepted address parses");
            let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
                || url.host_str().and_then(|h| h.parse::<std::net::IpAddr>().ok()).is_some_and(|ip| ip.is_loopback());
            assert!(url.scheme() == "https" || (url.scheme() == "http" && local), "accepted {}", team.address);
            assert!(url.username().is_empty() && url.password().is_none() && url.query().is_none());
            for segment in team.mount.split('/').chain(team.path.split('/')) {
                assert!(!segment.is_empty() && segment != ".." && segment != ".", "{}/{}", team.mount, team.path);
            }
        }
    }
}

fn server_names(config: &Config) -> Vec<String> {
    config.servers.iter().map(|s| s.name.clone()).collect()
}

fn reparse(text: &str, what: &str) -> Config {
    Config::parse(text, Path::new("config.toml")).unwrap_or_else(|e| panic!("{what} gave a config that fails: {e}"))
}

/// Adding a server then removing it, and removing each existing one.
fn edits_keep_the_rest(text: &str, config: &Config) {
    let before = server_names(config);
    let new = NewServer {
        name: "fuzz-added".into(),
        transport: NewTransport::Stdio { command: "npx".into(), args: vec!["-y".into(), "x".into()], env: Vec::new() },
        idle_minutes: None,
        timeout_secs: None,
    };
    if let Ok(added) = add_server(text, &new) {
        let mut expected = before.clone();
        expected.push(new.name.clone());
        assert_eq!(server_names(&reparse(&added, "server add")), expected, "server add changed other servers");
        let back = remove_server(&added, &new.name).expect("a server just added can be removed");
        assert_eq!(server_names(&reparse(&back, "server remove")), before, "add then remove changed the servers");
    }
    for name in &before {
        let removed = remove_server(text, name).unwrap_or_else(|e| panic!("server {name} is listed but: {e}"));
        let expected: Vec<String> = before.iter().filter(|n| *n != name).cloned().collect();
        assert_eq!(server_names(&reparse(&removed, "server remove")), expected, "remove took the wrong servers");
    }
}
