//! TOML files (Codex): reading `[mcp_servers.NAME]` and editing one entry through toml_edit,
//! which keeps comments, order and layout of everything else.

use std::path::Path;

use serde_json::{Map, Value};
use toml_edit::{Array, DocumentMut, Item, Table, TableLike};

use crate::client::Entry;
use crate::error::{ClientError, Result};

fn parse(text: &str, path: &Path) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        let line = text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1;
        ClientError::Unparsable { path: path.to_path_buf(), line, detail: e.message().to_string() }
    })
}

/// The whole document as a value.
pub(crate) fn to_value(text: &str, path: &Path) -> Result<Value> {
    Ok(table_to_json(parse(text, path)?.as_table()))
}

fn servers<'a>(doc: &'a DocumentMut, key: &str, path: &Path) -> Result<Option<&'a dyn TableLike>> {
    match doc.get(key) {
        None => Ok(None),
        Some(item) => item.as_table_like().map(Some).ok_or_else(|| not_a_table(path, key)),
    }
}

/// The value of `servers_key.name`, if there is one.
pub(crate) fn entry(text: &str, servers_key: &str, name: &str, path: &Path) -> Result<Option<Value>> {
    let doc = parse(text, path)?;
    let Some(servers) = servers(&doc, servers_key, path)? else { return Ok(None) };
    Ok(servers.get(name).map(item_to_json))
}

/// `text` with `[servers_key.name]` set to `entry`, and whether the servers table was created.
pub(crate) fn set_entry(
    text: &str,
    servers_key: &str,
    name: &str,
    entry: &Entry,
    path: &Path,
) -> Result<(String, bool)> {
    let mut doc = parse(text, path)?;
    let (servers, created) = servers_mut(&mut doc, servers_key, path)?;
    let table = table_of(entry.fields().iter().map(|(key, value)| (*key, value)));
    match servers.get_mut(name) {
        // An inline `keygate = { ... }` stays inline.
        Some(Item::Value(toml_edit::Value::InlineTable(inline))) => {
            let mut new_inline = table.into_inline_table();
            new_inline.decor_mut().clone_from(inline.decor());
            *inline = new_inline;
        }
        Some(existing) => *existing = Item::Table(table),
        None => {
            servers.insert(name, Item::Table(table));
        }
    }
    Ok((doc.to_string(), created))
}

/// `text` with `[servers_key.name]` set to any table (an entry import gives back at undo).
pub(crate) fn set_value(text: &str, servers_key: &str, name: &str, value: &Value, path: &Path) -> Result<String> {
    let mut doc = parse(text, path)?;
    let (servers, _) = servers_mut(&mut doc, servers_key, path)?;
    let table = table_of(value.as_object().into_iter().flatten().map(|(key, value)| (key.as_str(), value)));
    servers.insert(name, Item::Table(table));
    Ok(doc.to_string())
}

/// The servers table, created if missing (implicit: no empty `[servers_key]` header is
/// written), and whether it was.
fn servers_mut<'a>(doc: &'a mut DocumentMut, key: &str, path: &Path) -> Result<(&'a mut dyn TableLike, bool)> {
    let created = doc.get(key).is_none();
    if created {
        let mut table = Table::new();
        table.set_implicit(true);
        doc.insert(key, Item::Table(table));
    }
    let servers = doc.get_mut(key).and_then(Item::as_table_like_mut).ok_or_else(|| not_a_table(path, key))?;
    Ok((servers, created))
}

/// A TOML table of JSON fields.
fn table_of<'v>(fields: impl Iterator<Item = (&'v str, &'v Value)>) -> Table {
    let mut table = Table::new();
    for (key, value) in fields {
        table.insert(key, json_to_item(value));
    }
    table
}

/// `text` without `servers_key.name`; the servers table goes too when `drop_empty_servers` and
/// nothing else is left in it.
pub(crate) fn remove_entry(
    text: &str,
    servers_key: &str,
    name: &str,
    drop_empty_servers: bool,
    path: &Path,
) -> Result<String> {
    let mut doc = parse(text, path)?;
    let Some(servers) = doc.get_mut(servers_key) else { return Ok(text.to_string()) };
    let servers = servers.as_table_like_mut().ok_or_else(|| not_a_table(path, servers_key))?;
    servers.remove(name);
    if drop_empty_servers && servers.is_empty() {
        doc.remove(servers_key);
    }
    Ok(doc.to_string())
}

fn json_to_item(value: &Value) -> Item {
    match value {
        Value::String(s) => toml_edit::value(s.as_str()),
        Value::Bool(b) => toml_edit::value(*b),
        Value::Array(items) => {
            let array: Array = items.iter().filter_map(|v| json_to_item(v).into_value().ok()).collect();
            toml_edit::value(array)
        }
        Value::Number(n) if n.is_i64() => toml_edit::value(n.as_i64().unwrap_or_default()),
        Value::Number(n) if n.is_f64() => toml_edit::value(n.as_f64().unwrap_or_default()),
        Value::Object(map) => {
            let inline: toml_edit::InlineTable =
                map.iter().filter_map(|(k, v)| json_to_item(v).into_value().ok().map(|v| (k.as_str(), v))).collect();
            toml_edit::value(inline)
        }
        other => toml_edit::value(other.to_string()),
    }
}

fn item_to_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(value) => value_to_json(value),
        Item::Table(table) => table_to_json(table),
        Item::ArrayOfTables(tables) => Value::Array(tables.iter().map(|t| table_to_json(t)).collect()),
    }
}

fn table_to_json(table: &dyn TableLike) -> Value {
    Value::Object(table.iter().map(|(k, v)| (k.to_string(), item_to_json(v))).collect::<Map<_, _>>())
}

fn value_to_json(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as V;
    match value {
        V::String(s) => Value::String(s.value().clone()),
        V::Integer(i) => Value::from(*i.value()),
        V::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        V::Boolean(b) => Value::Bool(*b.value()),
        V::Datetime(d) => Value::String(d.value().to_string()),
        V::Array(array) => Value::Array(array.iter().map(value_to_json).collect()),
        V::InlineTable(inline) => table_to_json(inline),
    }
}

fn not_a_table(path: &Path, key: &str) -> ClientError {
    ClientError::WrongShape { path: path.to_path_buf(), detail: format!("`{key}` is not a table") }
}
