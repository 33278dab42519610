//! JSONC files (JSON with comments and trailing commas): reading the servers list and editing
//! one entry of it through jsonc-parser's CST, which keeps every comment, blank line and comma
//! the author wrote.

use std::path::Path;

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};
use serde_json::Value;

use crate::client::Entry;
use crate::error::{ClientError, Result};

/// Comments and trailing commas, as these editors accept; nothing looser (a missing comma or a
/// single-quoted string is a broken file, not something to guess about).
fn options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn parse(text: &str, path: &Path) -> Result<CstRootNode> {
    CstRootNode::parse(text, &options()).map_err(|e| ClientError::Unparsable {
        path: path.to_path_buf(),
        line: e.line_display(),
        detail: e.kind().to_string(),
    })
}

/// The whole document as a value; `{}` for a file with no value (empty, or comments only).
pub(crate) fn to_value(text: &str, path: &Path) -> Result<Value> {
    let root = parse(text, path)?;
    match root.value() {
        None => Ok(Value::Object(Default::default())),
        Some(node) => node.to_serde_value().ok_or_else(|| wrong_shape(path, "its value cannot be read")),
    }
}

/// Whether the text holds no value at all (empty, or only comments).
pub(crate) fn is_empty(text: &str, path: &Path) -> Result<bool> {
    Ok(parse(text, path)?.value().is_none())
}

/// The object holding the servers, if the file has one.
fn servers(root: &CstRootNode, key: &str, path: &Path) -> Result<Option<CstObject>> {
    let Some(top) = top_object(root, path)? else { return Ok(None) };
    let Some(prop) = top.get(key) else { return Ok(None) };
    prop.object_value().map(Some).ok_or_else(|| wrong_shape(path, &format!("`{key}` is not an object")))
}

fn top_object(root: &CstRootNode, path: &Path) -> Result<Option<CstObject>> {
    match root.value() {
        None => Ok(None),
        Some(node) => node.as_object().map(Some).ok_or_else(|| wrong_shape(path, "its top level is not an object")),
    }
}

/// The value of `servers_key.name`, if there is one.
pub(crate) fn entry(text: &str, servers_key: &str, name: &str, path: &Path) -> Result<Option<Value>> {
    let root = parse(text, path)?;
    let Some(servers) = servers(&root, servers_key, path)? else { return Ok(None) };
    Ok(servers.get(name).and_then(|prop| prop.value()).and_then(|node| node.to_serde_value()))
}

/// `text` with `servers_key.name` set to `entry` (replaced in place, or appended to the servers,
/// or in a new servers object at the end of the file). Also says whether the servers object
/// was created.
pub(crate) fn set_entry(
    text: &str,
    servers_key: &str,
    name: &str,
    entry: &Entry,
    path: &Path,
) -> Result<(String, bool)> {
    let input = CstInputValue::Object(entry.fields().iter().map(|(k, v)| ((*k).to_string(), to_input(v))).collect());
    set_input(text, servers_key, name, input, path)
}

/// `text` with `servers_key.name` set to any value (an entry import gives back at undo).
pub(crate) fn set_value(text: &str, servers_key: &str, name: &str, value: &Value, path: &Path) -> Result<String> {
    set_input(text, servers_key, name, to_input(value), path).map(|(text, _)| text)
}

fn set_input(text: &str, servers_key: &str, name: &str, input: CstInputValue, path: &Path) -> Result<(String, bool)> {
    let root = parse(text, path)?;
    let top = match top_object(&root, path)? {
        Some(top) => top,
        None => root.object_value_or_set(),
    };
    let (comma_at, created) = match top.get(servers_key) {
        Some(prop) => {
            let servers =
                prop.object_value().ok_or_else(|| wrong_shape(path, &format!("`{servers_key}` is not an object")))?;
            match servers.get(name) {
                Some(existing) => {
                    existing.set_value(input);
                    return Ok((root.to_string(), false));
                }
                None => (append_in_style(&servers, name, input), false),
            }
        }
        None => (append_in_style(&top, servers_key, CstInputValue::Object(vec![(name.to_string(), input)])), true),
    };
    let mut text = root.to_string();
    if let Some(at) = comma_at {
        text.insert(at, ',');
    }
    Ok((text, created))
}

/// Append `name` as the last property of `object`; if the author ended the object with a
/// trailing comma, where the new property's own comma must go (jsonc-parser infers the style
/// only from objects with spaces inside, and removing a last property without its own comma
/// takes the comma before it, so the author's comma would be lost at disconnect).
fn append_in_style(object: &CstObject, name: &str, input: CstInputValue) -> Option<usize> {
    let ended_with_comma = object.properties().last().is_some_and(|last| last.trailing_comma().is_some());
    let added = object.append(name, input);
    (ended_with_comma && added.trailing_comma().is_none()).then(|| end_offset(&added.into()))
}

/// The byte offset in the document's text just past `node`.
fn end_offset(node: &CstNode) -> usize {
    let before = |n: &CstNode| n.previous_siblings().map(|s| s.to_string().len()).sum::<usize>();
    let mut offset = node.to_string().len() + before(node);
    let mut parent = node.parent();
    while let Some(container) = parent {
        let container = CstNode::from(container);
        offset += before(&container);
        parent = container.parent();
    }
    offset
}

/// `text` without `servers_key.name`; the servers object goes too when `drop_empty_servers`
/// and nothing else is left in it.
pub(crate) fn remove_entry(
    text: &str,
    servers_key: &str,
    name: &str,
    drop_empty_servers: bool,
    path: &Path,
) -> Result<String> {
    let root = parse(text, path)?;
    let Some(servers) = servers(&root, servers_key, path)? else { return Ok(text.to_string()) };
    if let Some(prop) = servers.get(name) {
        prop.remove();
    }
    if drop_empty_servers
        && servers.properties().is_empty()
        && let Some(top) = top_object(&root, path)?
        && let Some(prop) = top.get(servers_key)
    {
        prop.remove();
    }
    Ok(root.to_string())
}

fn to_input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        Value::Object(map) => CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), to_input(v))).collect()),
    }
}

fn wrong_shape(path: &Path, detail: &str) -> ClientError {
    ClientError::WrongShape { path: path.to_path_buf(), detail: detail.to_string() }
}
