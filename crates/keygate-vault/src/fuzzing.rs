//! Entry points for the fuzz targets in `crates/keygate-vault/fuzz` and for the stable test
//! that replays their corpora (`tests/fuzz_corpus.rs`): one function per target, so the
//! nightly fuzzer and `cargo test` run exactly the same code. Each returns normally for any
//! input and panics only when a property the vault promises does not hold.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use secrecy::ExposeSecret;
use sha2::Digest as _;

use crate::seal::{Binding, Sealer};
use crate::{
    Actor, Clock, Home, KeySource, ManualClock, MasterKey, Timestamp, TokenDecision, TokenPolicy, TokenRequest, Vault,
};

/// The master key every fuzzed vault is opened with (the committed vault seeds were made
/// with it, so the fuzzer starts from files that open).
pub const FUZZ_MASTER_KEY: [u8; 32] = [0x4b; 32];

/// 2025-10-09T08:53:20Z, the fixed time every fuzzed vault sees.
const T0: Timestamp = Timestamp::from_unix_millis(1_760_000_000_000);

fn fuzz_key() -> KeySource {
    KeySource::Given(MasterKey::from_bytes(&FUZZ_MASTER_KEY).expect("a 32-byte key"))
}

fn fuzz_clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(T0))
}

/// `data` as a home's `vault.db`, opened through `Vault::open`: a clear error, or a vault
/// whose reads and writes work (or fail with an error); never a panic. Whether it opened.
pub fn vault_open(data: &[u8]) -> bool {
    let dir = tempfile::tempdir().expect("a temp dir");
    let home = Home::at(dir.path());
    std::fs::write(home.vault_path(), data).expect("write the fuzzed vault file");
    match Vault::open(&home, fuzz_key(), fuzz_clock(), Actor::Server) {
        Ok(mut vault) => {
            use_vault(&mut vault);
            true
        }
        Err(error) => {
            assert!(!error.to_string().is_empty(), "an error that says nothing");
            false
        }
    }
}

/// A vault made with the fuzz key holding one of everything (credential, token, grant,
/// audit rows, a rotation, pins, a kept client config), as one file of `page_size`-byte
/// pages in rollback-journal mode: small, so mutations land on its structure.
pub fn seed_vault(page_size: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let home = Home::at(dir.path());
    Vault::init(&home, fuzz_key(), fuzz_clock().as_ref()).expect("init");
    let mut vault = Vault::open(&home, fuzz_key(), fuzz_clock(), Actor::Cli).expect("open");
    fill(&mut vault);
    drop(vault);
    let conn = rusqlite::Connection::open(home.vault_path()).expect("reopen");
    conn.pragma_update(None, "journal_mode", "DELETE").expect("leave WAL");
    conn.pragma_update(None, "page_size", page_size).expect("page size");
    conn.execute_batch("VACUUM").expect("vacuum");
    drop(conn);
    std::fs::read(home.vault_path()).expect("read the seed")
}

fn fill(vault: &mut Vault) {
    let value = secrecy::SecretString::from("sk-fuzz-0123456789abcdef".to_string());
    vault.add_credential("fuzz_key", &value, Some(90)).expect("credential");
    vault.rotate_credential("fuzz_key", &value).expect("rotation");
    let request = TokenRequest { tools: vec!["web_search".into(), "fz_*".into()], ttl: None, label: Some("l".into()) };
    let token = vault.issue_token(&request).expect("token");
    let grant = crate::GrantRequest::new("fuzz-grant", vec!["fz_*".into()]);
    vault.create_grant(&grant).expect("grant");
    vault.mint_grant_token("fuzz-grant").expect("grant token");
    let start = crate::AuditStart {
        token_id: Some(&token.id),
        server: Some("fz"),
        tool: "fz_echo",
        credential: Some("fuzz_key"),
        credential_version: Some(2),
        team_version: None,
        decision: crate::Decision::Allowed,
        status: None,
    };
    let id = vault.begin_audit(&start).expect("audit");
    vault.finish_audit(id, "ok", std::time::Duration::from_millis(5)).expect("finish");
    let definition = r#"{"inputSchema":{"type":"object"},"name":"echo"}"#.to_string();
    let sha256 = sha2::Sha256::digest(definition.as_bytes()).into();
    let tool = crate::ListedTool { tool: "echo".into(), sha256, definition };
    vault.record_tool_listing("fz", &[tool]).expect("pins");
    let original = secrecy::SecretString::from("{}".to_string());
    let write = crate::ClientConfigWrite {
        client: "cursor",
        path: "/h/.cursor/mcp.json",
        action: "connect",
        record: "{}",
        original: Some(&original),
    };
    vault.keep_client_config(&write).expect("client config");
}

/// Every read a front makes of an opened vault, then one write whose result is checked.
fn use_vault(vault: &mut Vault) {
    let _ = vault.list_credentials().map(|list| {
        for info in list {
            let _ = vault.open_credential(&info.name);
            // The rotation state and every stored version, as `cred show` and a rotator read them.
            if let Ok(detail) = vault.credential_detail(&info.name) {
                for version in detail.versions {
                    let _ = vault.open_version(&info.name, version.version);
                }
            }
            let _ = vault.retiring_version(&info.name, true);
        }
    });
    let _ = vault.list_tokens();
    let _ = vault.list_grants();
    let _ = vault.verify_rows();
    let _ = vault.verify_audit();
    let _ = vault.verify_rotation_log();
    let _ = vault.audit_log();
    let _ = vault.rotation_log();
    let _ = vault.export_audit(None, |record| {
        // As `keygate audit --jsonl` writes it.
        serde_json::to_string(&record)
            .map(drop)
            .map_err(|e| crate::VaultError::Corrupt { path: "audit".into(), detail: e.to_string() })
    });
    let _ = vault.client_config_history();
    let _ = vault.list_pending_consents();
    let _ = vault.tool_pins("fuzz");
    let _ = vault.check_token(&format!("kg_{}_{}", "0".repeat(16), "0".repeat(64)), Some("fuzz_tool"));
    let request = TokenRequest { tools: vec!["fuzz_tool".into()], ttl: None, label: None };
    if let Ok(issued) = vault.issue_token(&request) {
        // A token the vault just issued is either usable or refused as tampered (a fuzzed
        // file can hold rows that make the new row fail its check), never silently widened.
        match vault.check_token(issued.token.expose_secret(), Some("other_tool")) {
            Ok(TokenDecision::Allowed(grant)) => panic!("a token for fuzz_tool was allowed other_tool: {grant:?}"),
            Ok(TokenDecision::Denied { .. }) | Err(_) => {}
        }
    }
}

/// A sealed blob opened with a fixed key (the first byte picks the binding): `None` for
/// anything the key did not seal; and the rest of `data`, sealed then opened, comes back
/// exactly, and never opens under another binding.
pub fn sealed_value(data: &[u8]) {
    let Some((&selector, blob)) = data.split_first() else { return };
    let sealer = Sealer::new(&MasterKey::from_bytes(&FUZZ_MASTER_KEY).expect("a 32-byte key"));
    let text = String::from_utf8_lossy(blob);
    let binding = match selector % 3 {
        0 => Binding::KeyCheck { vault_id: "0123456789abcdef" },
        1 => Binding::Credential { vault_id: "0123456789abcdef", name: &text, version: i64::from(selector) },
        _ => Binding::ClientConfig { vault_id: "0123456789abcdef", id: "a1", client: &text, path: "/h/mcp.json" },
    };
    assert!(sealer.open(binding, blob).is_none(), "a blob the key never sealed opened");
    let sealed = sealer.seal(binding, blob).expect("seal");
    let opened = sealer.open(binding, &sealed).expect("a freshly sealed blob opens");
    assert_eq!(opened.as_slice(), blob, "sealing then opening changed the value");
    let other = Binding::Credential { vault_id: "0123456789abcdef", name: "other", version: -1 };
    assert!(sealer.open(other, &sealed).is_none(), "a blob opened under another binding");
    if let Ok(text) = std::str::from_utf8(blob) {
        master_key_text(text);
    }
}

/// `KEYGATE_MASTER_KEY`'s parser: a key, or one of two fixed reasons (never any of the text).
fn master_key_text(text: &str) {
    if let Err(reason) = MasterKey::from_base64(text) {
        let counted = reason.strip_prefix("it decodes to ").and_then(|r| r.strip_suffix(" bytes, not 32"));
        assert!(
            reason == "it is not valid base64" || counted.is_some_and(|n| n.parse::<usize>().is_ok()),
            "a reason that may carry the text: {reason}"
        );
    }
}

thread_local! {
    /// One real vault per fuzzing thread, with one issued token: checking a token costs a
    /// query, not a new vault.
    static TOKEN_VAULT: RefCell<Option<(tempfile::TempDir, Vault, String)>> = const { RefCell::new(None) };
}

fn with_token_vault(f: impl FnOnce(&mut Vault, &str)) {
    TOKEN_VAULT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (_, vault, token) = slot.get_or_insert_with(|| {
            let dir = tempfile::tempdir().expect("a temp dir");
            let home = Home::at(dir.path());
            Vault::init(&home, fuzz_key(), fuzz_clock().as_ref()).expect("init a vault");
            let mut vault = Vault::open(&home, fuzz_key(), fuzz_clock(), Actor::Server).expect("open it");
            let request = TokenRequest { tools: vec!["web_search".into(), "docs_*".into()], ttl: None, label: None };
            let token = vault.issue_token(&request).expect("issue a token").token.expose_secret().to_string();
            (dir, vault, token)
        });
        f(vault, token);
    });
}

/// A bearer token as an agent presents it: the shape check agrees with a rebuild of the
/// token from its parts, and a real vault refuses it (nobody guesses a 256-bit secret)
/// unless it is the vault's own token. The rest of the input is tried as scope patterns.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (presented, tools) = text.split_once('\n').unwrap_or((&text, ""));
    if let Some((id, secret)) = crate::token::parse(presented) {
        assert_eq!(format!("kg_{id}_{secret}"), presented, "parse does not split the token it accepted");
        assert!(crate::is_token_id(id), "an id that is not an id");
        assert_eq!(crate::token_id(presented), Some(id));
    } else {
        assert_eq!(crate::token_id(presented), None);
    }
    let tool = tools.lines().next().unwrap_or("web_search");
    with_token_vault(|vault, token| match vault.check_token(presented, Some(tool)) {
        Ok(TokenDecision::Allowed(grant)) => {
            assert_eq!(presented, token, "a token the vault never issued was allowed");
            assert!(grant.allows(tool), "allowed a tool outside the token's scope");
        }
        Ok(TokenDecision::Denied { token_id, .. }) => {
            assert!(token_id.is_none() || presented == token, "a guess was attributed to a real token");
        }
        Err(error) => panic!("a token check failed instead of deciding: {error}"),
    });
    scopes(tools);
}

/// Scope patterns as `token create --tool` and grants take them.
fn scopes(tools: &str) {
    let list: Vec<String> = tools.lines().map(str::to_string).collect();
    if let Ok(valid) = crate::token::validate_tools(&list) {
        assert!(valid.windows(2).all(|w| w[0] < w[1]), "validated tools not sorted and unique");
        for scope in &valid {
            for tool in &list {
                let _ = crate::scope_covers(scope, tool);
            }
        }
    }
}

/// `config.toml` as the vault reads it (`[tokens]`, `[audit]`): a policy or an error naming
/// the file; an accepted policy never has a default longer than its maximum.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("/fuzz/config.toml");
    match TokenPolicy::parse(text, path) {
        Ok(policy) => assert!(policy.default_ttl <= policy.max_ttl, "default_ttl past max_ttl: {policy:?}"),
        Err(error) => assert!(error.to_string().contains("/fuzz/config.toml"), "error without the file: {error}"),
    }
    match crate::AuditPolicy::parse(text, path) {
        Ok(policy) => assert!(policy.keep_days.is_none_or(|d| (1..=36_500).contains(&d)), "{policy:?}"),
        Err(error) => assert!(error.to_string().contains("/fuzz/config.toml"), "error without the file: {error}"),
    }
    for line in text.lines() {
        if let Ok(ttl) = crate::parse_ttl(line) {
            assert!(ttl.as_secs() >= 1, "a ttl under a second passed: {line:?}");
            let _ = crate::format_ttl(ttl);
        }
    }
}

/// Feed every file of `fuzz/corpus/<target>` and `fuzz/regressions/<target>` under
/// `crate_dir` to `entry`, the function the fuzz target calls: how `cargo test` replays the
/// committed corpora on stable. Returns how many inputs ran; panics if none did (a corpus
/// that went missing must not pass as an empty one).
pub fn replay_corpus(crate_dir: &Path, target: &str, mut entry: impl FnMut(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let dir = crate_dir.join("fuzz").join(kind).join(target);
        let Ok(listing) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<_> = listing.map(|e| e.expect("a directory entry").path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
            entry(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no fuzz inputs for {target} under {}", crate_dir.display());
    count
}
