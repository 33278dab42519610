//! Editing config.toml's `[[server]]` list in place, for `keygate server add` and `remove`:
//! every other byte (comments, blank lines, layout) stays as the user wrote it, and an edit
//! that `Config::parse` would refuse is never returned, so it is never written.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::{Config, Setting};
use crate::error::McpError;

/// The name used in messages about the text being edited.
const CONFIG_NAME: &str = "config.toml";

/// A `[[server]]` entry to add, as the user gave it; `Config::parse` judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServer {
    /// `[a-z0-9-]{1,20}`.
    pub name: String,
    /// A local command or a remote URL.
    pub transport: NewTransport,
    /// `idle_minutes` (local servers only).
    pub idle_minutes: Option<u64>,
    /// `timeout_secs`.
    pub timeout_secs: Option<u64>,
}

/// How the new server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewTransport {
    /// `command`, `args` and `env`.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its environment, in order.
        env: Vec<(String, Setting)>,
    },
    /// `url` and `headers`.
    Http {
        /// The MCP endpoint.
        url: String,
        /// Headers, in order.
        headers: Vec<(String, Setting)>,
    },
}

/// `text` with `entry` appended after the last `[[server]]` (or at the end), an old-style
/// `[server]` table renamed `[listen]`; or why not, in `Config::parse`'s words.
pub fn add_server(text: &str, entry: &NewServer) -> Result<String, String> {
    let (text, crlf) = lf_only(text);
    Config::parse(&text, Path::new(CONFIG_NAME)).map_err(|e| format!("{e} (fix this first)"))?;
    let mut doc = parse_document(&text)?;
    rename_legacy_server_table(&mut doc);
    if server_names(&doc)?.contains(&entry.name) {
        return Err(format!(
            "server {0} is already in {CONFIG_NAME}: pick another name, or first run `keygate server remove {0}`",
            entry.name
        ));
    }
    append_server(&mut doc, server_table(entry)?);
    let edited = doc.to_string();
    Config::parse(&edited, Path::new(CONFIG_NAME)).map_err(|e| match e {
        // The line is in text not yet written; the message names the server and the fix.
        McpError::Config { message, .. } => message,
        other => other.to_string(),
    })?;
    Ok(with_line_endings(edited, crlf))
}

/// `text` without the `[[server]]` named `name`, nor the comments touching it from above or
/// closing it from below; the rest stays byte for byte.
pub fn remove_server(text: &str, name: &str) -> Result<String, String> {
    let (text, crlf) = lf_only(text);
    let mut doc = parse_document(&text)?;
    let names = server_names(&doc)?;
    let Some(index) = names.iter().position(|n| n == name) else {
        let known = if names.is_empty() {
            "it has none".to_string()
        } else {
            let shown: Vec<String> = names.iter().map(|n| crate::text::printable(n, 40)).collect();
            format!("it has {}", shown.join(", "))
        };
        return Err(format!("no server {:?} in {CONFIG_NAME}: {known}", crate::text::printable(name, 40)));
    };
    let servers = doc.get_mut("server").and_then(Item::as_array_of_tables_mut).ok_or("internal: no [[server]]")?;
    let removed = servers.remove(index);
    if servers.is_empty() {
        doc.remove("server");
    }
    let end = last_position(&removed);
    let at_end = is_at_end(&doc, end);
    let (_its_trailing_comments, rest) = split_trailing_comments(&text_after(&doc, end), at_end);
    let above = comments_above(removed.decor().prefix().and_then(|p| p.as_str()).unwrap_or(""));
    // Comments that closed the table above stay apart from the next header's own.
    let starts_blank = rest.split_inclusive('\n').next().is_some_and(is_blank);
    let gap = if above.is_empty() || at_end || starts_blank { "" } else { "\n" };
    set_text_after(&mut doc, end, format!("{above}{gap}{rest}"));
    let mut edited = doc.to_string();
    if !text.starts_with('\n') {
        // The first entry gone, the blank line that followed it would open the file.
        edited = edited.trim_start_matches('\n').to_string();
    }
    Ok(with_line_endings(edited, crlf))
}

/// Replace `path` with `text` all at once: a temp file beside it, synced and owner-only,
/// renamed over it. A crash or a full disk leaves the old file (or none), never half of one.
pub fn write_config_atomically(path: &Path, text: &str) -> Result<(), McpError> {
    let failed = |e: std::io::Error| McpError::Config {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot write it: {e}"),
    };
    // Through a symlink (a dotfiles checkout, say) the target is replaced, not the link.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new().prefix(".config-").suffix(".tmp").tempfile_in(dir).map_err(failed)?;
    owner_only(temp.as_file()).map_err(failed)?;
    temp.write_all(text.as_bytes()).and_then(|()| temp.as_file().sync_all()).map_err(failed)?;
    temp.persist(&target).map_err(|e| failed(e.error))?;
    sync_dir(dir);
    Ok(())
}

fn owner_only(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Make the rename itself durable; best effort, as the file is already complete either way.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// toml_edit ends the lines it writes with `\n`; a CRLF file is edited as LF and converted back.
fn lf_only(text: &str) -> (Cow<'_, str>, bool) {
    if text.contains("\r\n") { (Cow::Owned(text.replace("\r\n", "\n")), true) } else { (Cow::Borrowed(text), false) }
}

fn with_line_endings(text: String, crlf: bool) -> String {
    if crlf { text.replace('\n', "\r\n") } else { text }
}

fn parse_document(text: &str) -> Result<DocumentMut, String> {
    text.parse().map_err(|e: toml_edit::TomlError| format!("{CONFIG_NAME} is not valid TOML: {}", e.message()))
}

/// Configs written before the gateway kept `bind` in a `[server]` table; `[[server]]` needs the
/// name, so the table becomes `[listen]`, in place and with its comments.
fn rename_legacy_server_table(doc: &mut DocumentMut) {
    let legacy = match doc.get("server") {
        Some(Item::Table(_)) => true,
        Some(Item::Value(value)) => value.is_inline_table(),
        _ => false,
    };
    if legacy && let Some(item) = doc.remove("server") {
        doc.insert("listen", item);
    }
}

fn server_names(doc: &DocumentMut) -> Result<Vec<String>, String> {
    match doc.get("server") {
        None | Some(Item::Table(_) | Item::None) => Ok(Vec::new()),
        Some(Item::ArrayOfTables(servers)) => {
            Ok(servers.iter().map(|s| s.get("name").and_then(Item::as_str).unwrap_or_default().to_string()).collect())
        }
        Some(Item::Value(value)) if value.is_inline_table() => Ok(Vec::new()),
        Some(Item::Value(_)) => {
            Err(format!("{CONFIG_NAME} writes `server = [...]` inline: rewrite each entry as a [[server]] table"))
        }
    }
}

fn server_table(entry: &NewServer) -> Result<Table, String> {
    let mut table = Table::new();
    table.insert("name", toml_edit::value(&entry.name));
    match &entry.transport {
        NewTransport::Stdio { command, args, env } => {
            table.insert("command", toml_edit::value(command));
            if !args.is_empty() {
                table.insert("args", toml_edit::value(args.iter().map(String::as_str).collect::<Array>()));
            }
            if !env.is_empty() {
                table.insert("env", toml_edit::value(settings_table("env", env, false)?));
            }
        }
        NewTransport::Http { url, headers } => {
            table.insert("url", toml_edit::value(url));
            if !headers.is_empty() {
                table.insert("headers", toml_edit::value(settings_table("header", headers, true)?));
            }
        }
    }
    for (key, number) in [("idle_minutes", entry.idle_minutes), ("timeout_secs", entry.timeout_secs)] {
        if let Some(number) = number {
            let number = i64::try_from(number).map_err(|_| format!("{key} {number} is too large"))?;
            table.insert(key, toml_edit::value(number));
        }
    }
    Ok(table)
}

/// `{ VAR = "text", TOKEN = { credential = "name" } }`, as a person would write it.
fn settings_table(what: &str, settings: &[(String, Setting)], ignore_case: bool) -> Result<InlineTable, String> {
    let mut table = InlineTable::new();
    for (key, setting) in settings {
        let same = |k: &str| if ignore_case { k.eq_ignore_ascii_case(key) } else { k == key };
        if table.iter().any(|(k, _)| same(k)) {
            return Err(format!("{what} {} is given twice", crate::text::printable(key, 40)));
        }
        let value = match setting {
            Setting::Plain(text) => Value::from(text.as_str()),
            Setting::Credential { credential, prefix } => {
                let mut reference = InlineTable::new();
                reference.insert("credential", credential.as_str().into());
                if !prefix.is_empty() {
                    reference.insert("prefix", prefix.as_str().into());
                }
                Value::InlineTable(reference)
            }
        };
        table.insert(key, value);
    }
    Ok(table)
}

/// Put `table` after the last `[[server]]` and the comments that close it, or else at the very
/// end, with one blank line before it.
fn append_server(doc: &mut DocumentMut, mut table: Table) {
    let last_server = doc.get("server").and_then(Item::as_array_of_tables).and_then(|s| s.iter().last());
    let (above, position) = match last_server.map(last_position) {
        Some(end) => {
            let (its_trailing_comments, rest) = split_trailing_comments(&text_after(doc, end), is_at_end(doc, end));
            set_text_after(doc, end, rest);
            // Equal to the last server's: the document's stable sort keeps array order.
            (its_trailing_comments, end)
        }
        None => {
            let everything_after = doc.trailing().as_str().unwrap_or_default().to_string();
            doc.set_trailing("");
            (everything_after, last_position(doc.as_table()) + 1)
        }
    };
    let mut prefix = above;
    if !prefix.is_empty() && !prefix.ends_with('\n') {
        prefix.push('\n');
    }
    if !(prefix.is_empty() && doc.to_string().is_empty()) {
        prefix.push('\n');
    }
    table.decor_mut().set_prefix(prefix);
    table.set_position(Some(position));
    let servers = doc.entry("server").or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    if let Some(servers) = servers.as_array_of_tables_mut() {
        servers.push(table);
    }
}

/// What a removed entry leaves of the text above its header: all but its own comment lines
/// (those touching the header) and the one blank line that set it apart.
fn comments_above(prefix: &str) -> String {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let mut keep = lines.len();
    while keep > 0 && is_comment(lines[keep - 1]) {
        keep -= 1;
    }
    if keep > 0 && is_blank(lines[keep - 1]) {
        keep -= 1;
    }
    lines[..keep].concat()
}

/// Split the text after a table into the comment lines that close it (those right under its
/// last line, set apart from what follows by a blank line or the end of the file) and the rest.
fn split_trailing_comments(text: &str, at_end: bool) -> (String, String) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let count = lines.iter().take_while(|line| is_comment(line)).count();
    let closes_it = count > 0 && lines.get(count).map_or(at_end, |line| is_blank(line));
    let split = if closes_it { count } else { 0 };
    (lines[..split].concat(), lines[split..].concat())
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The highest document position in `table` and the tables nested in it.
fn last_position(table: &Table) -> isize {
    let mut last = table.position().unwrap_or(0);
    each_header_table(table, &mut |t| last = last.max(t.position().unwrap_or(0)));
    last
}

/// Each table nested in `table` that is written with a header of its own.
fn each_header_table<'a>(table: &'a Table, visit: &mut dyn FnMut(&'a Table)) {
    for (_, item) in table.iter() {
        let nested: Vec<&Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(tables) => tables.iter().collect(),
            _ => Vec::new(),
        };
        for t in nested {
            if !t.is_dotted() && !t.is_implicit() {
                visit(t);
            }
            each_header_table(t, visit);
        }
    }
}

/// The position of the first table written after position `end`, if any.
fn next_position(doc: &DocumentMut, end: isize) -> Option<isize> {
    let mut next: Option<isize> = None;
    each_header_table(doc.as_table(), &mut |t| {
        if let Some(p) = t.position().filter(|&p| p > end) {
            next = Some(next.map_or(p, |n| n.min(p)));
        }
    });
    next
}

fn is_at_end(doc: &DocumentMut, end: isize) -> bool {
    next_position(doc, end).is_none()
}

/// The comments and blank lines between position `end` and the next header (or the end).
fn text_after(doc: &DocumentMut, end: isize) -> String {
    let Some(next) = next_position(doc, end) else { return doc.trailing().as_str().unwrap_or_default().to_string() };
    let mut text = String::new();
    each_header_table(doc.as_table(), &mut |t| {
        if t.position() == Some(next) {
            text = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or_default().to_string();
        }
    });
    text
}

fn set_text_after(doc: &mut DocumentMut, end: isize, text: String) {
    match next_position(doc, end) {
        Some(next) => {
            if let Some(table) = header_table_at(doc.as_table_mut(), next) {
                table.decor_mut().set_prefix(text);
            }
        }
        None => doc.set_trailing(text),
    }
}

fn header_table_at(table: &mut Table, position: isize) -> Option<&mut Table> {
    for (_, item) in table.iter_mut() {
        let nested: Vec<&mut Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(tables) => tables.iter_mut().collect(),
            _ => Vec::new(),
        };
        for t in nested {
            if t.position() == Some(position) && !t.is_dotted() && !t.is_implicit() {
                return Some(t);
            }
            if let Some(found) = header_table_at(t, position) {
                return Some(found);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio(name: &str) -> NewServer {
        NewServer {
            name: name.into(),
            transport: NewTransport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "@modelcontextprotocol/server-github".into()],
                env: vec![
                    (
                        "GITHUB_TOKEN".into(),
                        Setting::Credential { credential: "github_token".into(), prefix: String::new() },
                    ),
                    ("TOOLSETS".into(), Setting::Plain("repos".into())),
                ],
            },
            idle_minutes: Some(10),
            timeout_secs: None,
        }
    }

    fn remote(name: &str) -> NewServer {
        let auth = Setting::Credential { credential: "notion_key".into(), prefix: "Bearer ".into() };
        NewServer {
            name: name.into(),
            transport: NewTransport::Http {
                url: "https://mcp.notion.example/mcp".into(),
                headers: vec![("Authorization".into(), auth)],
            },
            idle_minutes: None,
            timeout_secs: Some(30),
        }
    }

    /// Comments above, inside, under and between entries, and a line without a newline at the end.
    const HAND_WRITTEN: &str = "# My Keygate setup\n\n[listen]\nbind = \"127.0.0.1:7447\" # the usual port\n\n\
        # GitHub, for triage\n[[server]]\nname = \"gh\"   # short\ncommand = \"npx\"\n# args = [\"--debug\"]\n\n\
        # Search tool\n[[tool]]\nname = \"t\"\ndescription = \"d\"\ncredential = \"k\"\nmethod = \"GET\"\n\
        url = \"http://127.0.0.1:9/x\"\ncredential_header = \"x-api-key\"\ninput_schema = { type = \"object\" }\n\n\
        # the end\n";

    #[test]
    fn a_new_entry_is_written_as_a_person_would() {
        let text = add_server("", &stdio("github")).expect("added");
        assert_eq!(
            text,
            "[[server]]\nname = \"github\"\ncommand = \"npx\"\nargs = [\"-y\", \"@modelcontextprotocol/server-github\"]\n\
             env = { GITHUB_TOKEN = { credential = \"github_token\" }, TOOLSETS = \"repos\" }\nidle_minutes = 10\n"
        );
        let text = add_server(&text, &remote("notion")).expect("added");
        assert!(text.ends_with(
            "idle_minutes = 10\n\n[[server]]\nname = \"notion\"\nurl = \"https://mcp.notion.example/mcp\"\n\
             headers = { Authorization = { credential = \"notion_key\", prefix = \"Bearer \" } }\ntimeout_secs = 30\n"
        ));
    }

    #[test]
    fn comments_and_layout_survive_add_and_remove() {
        let added = add_server(HAND_WRITTEN, &stdio("github")).expect("added");
        // After the last server and the comment that closes it, before the next section's comment.
        let (before, after) = HAND_WRITTEN.split_at(HAND_WRITTEN.find("\n# Search tool").expect("fixture"));
        let entry = "\n[[server]]\nname = \"github\"\ncommand = \"npx\"\nargs = [\"-y\", \"@modelcontextprotocol/server-github\"]\n\
                     env = { GITHUB_TOKEN = { credential = \"github_token\" }, TOOLSETS = \"repos\" }\nidle_minutes = 10\n";
        assert_eq!(added, format!("{before}{entry}{after}"));

        let first_gone = remove_server("# on a\n[[server]]\nname = \"a\"\n\n[listen]\n", "a").expect("removed");
        assert_eq!(first_gone, "[listen]\n");

        let removed = remove_server(&added, "gh").expect("removed");
        assert!(!removed.contains("GitHub, for triage") && !removed.contains("--debug"), "{removed}");
        assert!(removed.contains("# the usual port\n\n[[server]]\nname = \"github\""), "{removed}");
        for kept in ["# My Keygate setup", "# Search tool", "# the end", "bind = \"127.0.0.1:7447\" # the usual port"] {
            assert!(removed.contains(kept), "{kept} lost: {removed}");
        }
    }

    #[test]
    fn add_then_remove_gives_back_the_original_text() {
        let nested = "[[server]]\nname = \"a\"\ncommand = \"x\"\n[server.env]\nA = \"1\"\n# closing\n\n[tokens]\n";
        let no_servers_trailing_comment = "[listen]\nbind = \"127.0.0.1:7447\"\n# last words";
        let files = [
            "",
            keygate_vault::DEFAULT_CONFIG,
            HAND_WRITTEN,
            nested,
            "[[server]]\nname = \"a\"\ncommand = \"x\"\n# attached to tokens\n[tokens]\n",
            &HAND_WRITTEN.replace('\n', "\r\n"),
        ];
        for original in files {
            for entry in [stdio("new"), remote("new")] {
                let added = add_server(original, &entry).expect("added");
                assert_eq!(remove_server(&added, "new").expect("removed"), original, "after adding to {original:?}");
            }
        }
        let added = add_server(no_servers_trailing_comment, &stdio("new")).expect("added");
        assert_eq!(remove_server(&added, "new").expect("removed"), format!("{no_servers_trailing_comment}\n"));
    }

    #[test]
    fn removing_keeps_every_other_byte() {
        let two = add_server(HAND_WRITTEN, &stdio("second")).expect("added");
        let three = add_server(&two, &remote("third")).expect("added");
        assert_eq!(remove_server(&three, "third").expect("removed"), two);
        let without_second = remove_server(&three, "second").expect("removed");
        assert_eq!(remove_server(&without_second, "third").expect("removed"), HAND_WRITTEN);
        let config = Config::parse(&without_second, Path::new("c.toml")).expect("valid");
        assert_eq!(config.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["gh", "third"]);
    }

    #[test]
    fn a_duplicate_name_is_refused() {
        let err = add_server(HAND_WRITTEN, &stdio("gh")).expect_err("duplicate");
        assert!(
            err.contains("server gh is already in config.toml") && err.contains("keygate server remove gh"),
            "{err}"
        );
    }

    #[test]
    fn removing_an_unknown_name_lists_the_known_ones() {
        let text = add_server(HAND_WRITTEN, &stdio("github")).expect("added");
        let err = remove_server(&text, "gitlab").expect_err("unknown");
        assert_eq!(err, "no server \"gitlab\" in config.toml: it has gh, github");
        let err = remove_server(keygate_vault::DEFAULT_CONFIG, "gh").expect_err("none");
        assert!(err.ends_with("it has none"), "{err}");
    }

    #[test]
    fn an_old_style_server_table_becomes_listen_with_its_comments() {
        let legacy =
            "# top\n[server]\n# only here\nbind = \"127.0.0.1:9999\" # mine\n\n[tokens]\ndefault_ttl = \"1h\"\n";
        let added = add_server(legacy, &stdio("github")).expect("added");
        assert!(
            added.starts_with("# top\n[listen]\n# only here\nbind = \"127.0.0.1:9999\" # mine\n\n[tokens]\n"),
            "{added}"
        );
        let config = Config::parse(&added, Path::new("c.toml")).expect("valid");
        assert_eq!((config.bind.port(), config.servers.len()), (9999, 1));
    }

    #[test]
    fn an_invalid_entry_is_refused_in_config_parse_words() {
        let mut bad_credential = stdio("github");
        if let NewTransport::Stdio { env, .. } = &mut bad_credential.transport {
            env[0].1 = Setting::Credential { credential: "Bad Name".into(), prefix: String::new() };
        }
        let mut remote_with_user = remote("notion");
        if let NewTransport::Http { url, .. } = &mut remote_with_user.transport {
            *url = "https://me:pw@mcp.example/mcp".into();
        }
        let cases = [
            (stdio("git_hub"), "server name \"git_hub\" is invalid"),
            (stdio(&"x".repeat(21)), "is invalid: use 1-20 characters"),
            (bad_credential, "server github: env GITHUB_TOKEN: \"Bad Name\" is not a valid credential name"),
            (remote_with_user, "put the secret in the vault"),
            (NewServer { timeout_secs: Some(0), ..stdio("github") }, "timeout_secs 0 is out of range"),
            (NewServer { idle_minutes: Some(u64::MAX), ..stdio("github") }, "is too large"),
        ];
        for (entry, needle) in cases {
            let err = add_server(HAND_WRITTEN, &entry).expect_err(needle);
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
        let twice = NewTransport::Stdio {
            command: "x".into(),
            args: Vec::new(),
            env: vec![("A".into(), Setting::Plain("1".into())), ("A".into(), Setting::Plain("2".into()))],
        };
        let err = add_server("", &NewServer { transport: twice, ..stdio("github") }).expect_err("twice");
        assert_eq!(err, "env A is given twice");
    }

    #[test]
    fn a_file_already_invalid_is_named_not_edited() {
        let err = add_server("[listen]\nbind = \"0.0.0.0:1\"\n", &stdio("github")).expect_err("invalid");
        assert!(err.starts_with("config.toml:2:") && err.ends_with("(fix this first)"), "{err}");
        assert!(add_server("[[server]\n", &stdio("github")).is_err());
        assert!(remove_server("= oops", "github").expect_err("syntax").starts_with("config.toml is not valid TOML"));
    }

    #[test]
    fn the_config_is_replaced_whole_and_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        write_config_atomically(&path, "first\n").expect("created");
        write_config_atomically(&path, "second\n").expect("replaced");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "second\n");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1, "a temp file was left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let missing = dir.path().join("no-such-dir").join("config.toml");
        let err = write_config_atomically(&missing, "x").expect_err("no directory").to_string();
        assert!(err.contains("no-such-dir") && err.contains("cannot write it"), "{err}");
    }
}
