//! One client config file, whatever its format: reading it (bounded, UTF-8), finding the
//! `keygate` entry, setting or removing it, and checking that nothing else changed meaning.

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::client::{Client, ENTRY_NAME, Entry, Format};
use crate::error::{ClientError, Result, io_error};
use crate::{jsonc, toml_doc};

/// The largest config file Keygate edits (`~/.claude.json` keeps project history and grows).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

const BOM: &str = "\u{feff}";

/// Read `path`: `None` if it does not exist. The text may hold other servers' keys, so it is
/// wiped from memory when dropped.
pub(crate) fn read(path: &Path) -> Result<Option<Zeroizing<String>>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", path)(e)),
    };
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io_error("read", path))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ClientError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        ClientError::Unparsable { path: path.to_path_buf(), line, detail: "it is not UTF-8 text".into() }
    })?;
    Ok(Some(Zeroizing::new(text.to_string())))
}

/// Byte order marks stay where they are; the parsers never see them (toml_edit drops one).
fn split_bom(text: &str) -> (&str, &str) {
    let body = text.trim_start_matches(BOM);
    (&text[..text.len() - body.len()], body)
}

/// The whole document as a value (`{}` when there is no file).
pub(crate) fn to_value(client: Client, text: Option<&str>, path: &Path) -> Result<Value> {
    let Some(text) = text else { return Ok(Value::Object(Default::default())) };
    let (_, body) = split_bom(text);
    match client.format() {
        Format::Jsonc => jsonc::to_value(body, path),
        Format::Toml => toml_doc::to_value(body, path),
    }
}

/// Whether the text holds no value at all (an empty JSONC file, or comments only).
pub(crate) fn is_empty(client: Client, text: &str, path: &Path) -> Result<bool> {
    let (_, body) = split_bom(text);
    match client.format() {
        Format::Jsonc => jsonc::is_empty(body, path),
        Format::Toml => Ok(false),
    }
}

/// What the file holds under the client's servers key as `keygate`, if anything.
pub(crate) fn find_entry(client: Client, text: &str, path: &Path) -> Result<Option<Value>> {
    let (_, body) = split_bom(text);
    match client.format() {
        Format::Jsonc => jsonc::entry(body, client.servers_key(), ENTRY_NAME, path),
        Format::Toml => toml_doc::entry(body, client.servers_key(), ENTRY_NAME, path),
    }
}

/// The text with `entry` as `keygate`, and whether the servers object had to be created.
pub(crate) fn with_entry(client: Client, text: Option<&str>, entry: &Entry, path: &Path) -> Result<(String, bool)> {
    let Some(text) = text else { return Ok((new_file(client, entry), true)) };
    let (bom, body) = split_bom(text);
    let (edited, created) = match client.format() {
        Format::Jsonc => jsonc::set_entry(body, client.servers_key(), ENTRY_NAME, entry, path)?,
        Format::Toml => toml_doc::set_entry(body, client.servers_key(), ENTRY_NAME, entry, path)?,
    };
    Ok((format!("{bom}{edited}"), created))
}

/// The text without the `keygate` entry (and without the servers object if `drop_empty_servers`
/// and it is left empty).
pub(crate) fn without_entry(client: Client, text: &str, drop_empty_servers: bool, path: &Path) -> Result<String> {
    let (bom, body) = split_bom(text);
    let edited = match client.format() {
        Format::Jsonc => jsonc::remove_entry(body, client.servers_key(), ENTRY_NAME, drop_empty_servers, path)?,
        Format::Toml => toml_doc::remove_entry(body, client.servers_key(), ENTRY_NAME, drop_empty_servers, path)?,
    };
    Ok(format!("{bom}{edited}"))
}

/// The text without the entries `names` (the servers object stays, even if left empty).
pub(crate) fn without_entries(client: Client, text: &str, names: &[String], path: &Path) -> Result<String> {
    let (bom, body) = split_bom(text);
    let mut edited = body.to_string();
    for name in names {
        edited = match client.format() {
            Format::Jsonc => jsonc::remove_entry(&edited, client.servers_key(), name, false, path)?,
            Format::Toml => toml_doc::remove_entry(&edited, client.servers_key(), name, false, path)?,
        };
    }
    Ok(format!("{bom}{edited}"))
}

/// The text with the entry `name` set to `value` (an entry given back at undo).
pub(crate) fn with_value(client: Client, text: &str, name: &str, value: &Value, path: &Path) -> Result<String> {
    let (bom, body) = split_bom(text);
    let edited = match client.format() {
        Format::Jsonc => jsonc::set_value(body, client.servers_key(), name, value, path)?,
        Format::Toml => toml_doc::set_value(body, client.servers_key(), name, value, path)?,
    };
    Ok(format!("{bom}{edited}"))
}

/// A file made from nothing: the servers object with the one entry.
fn new_file(client: Client, entry: &Entry) -> String {
    match client.format() {
        Format::Toml => toml_doc::set_entry("", client.servers_key(), ENTRY_NAME, entry, Path::new(""))
            .map(|(text, _)| text)
            .unwrap_or_default(),
        Format::Jsonc => {
            let fields: Vec<String> = entry
                .fields()
                .iter()
                .map(|(key, value)| format!("      {}: {}", Value::from(*key), inline_json(value)))
                .collect();
            format!(
                "{{\n  {}: {{\n    {}: {{\n{}\n    }}\n  }}\n}}\n",
                Value::from(client.servers_key()),
                Value::from(ENTRY_NAME),
                fields.join(",\n")
            )
        }
    }
}

/// A value on one line, with a space after each comma of a list.
fn inline_json(value: &Value) -> String {
    match value {
        Value::Array(items) => format!("[{}]", items.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// Check that `after` means exactly `before` with the entry set to `expected` (or removed when
/// `None`): a defence against an editing bug touching anything else. An empty servers object
/// counts as none, since connect may create one and disconnect may drop it.
pub(crate) fn check_edit(
    client: Client,
    before: Option<&str>,
    after: &str,
    expected: Option<&Entry>,
    path: &Path,
) -> Result<()> {
    let change = expected.map(Entry::to_value);
    check_entries(client, before, after, &[(ENTRY_NAME, change)], path)
}

/// Check that `after` means exactly `before` with each named entry set to its value (or removed
/// when `None`), and nothing else changed.
pub(crate) fn check_entries(
    client: Client,
    before: Option<&str>,
    after: &str,
    changes: &[(&str, Option<Value>)],
    path: &Path,
) -> Result<()> {
    let failed = |detail: &str| ClientError::EditCheckFailed { path: path.to_path_buf(), detail: detail.to_string() };
    let mut want = to_value(client, before, path)?;
    let mut got = to_value(client, Some(after), path).map_err(|_| failed("the result would not parse"))?;
    let top = want.as_object_mut().ok_or_else(|| failed("the top level is not an object"))?;
    let servers = top.entry(client.servers_key()).or_insert_with(|| Value::Object(Default::default()));
    let servers = servers.as_object_mut().ok_or_else(|| failed("the servers are not an object"))?;
    for (name, value) in changes {
        match value {
            Some(value) => servers.insert((*name).to_string(), value.clone()),
            None => servers.remove(*name),
        };
    }
    drop_empty_servers(client, &mut want);
    drop_empty_servers(client, &mut got);
    if want == got { Ok(()) } else { Err(failed("other settings would have changed")) }
}

fn drop_empty_servers(client: Client, value: &mut Value) {
    if let Some(top) = value.as_object_mut()
        && top.get(client.servers_key()).and_then(Value::as_object).is_some_and(serde_json::Map::is_empty)
    {
        top.remove(client.servers_key());
    }
}
