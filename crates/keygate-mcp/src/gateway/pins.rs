//! A tool's pinned identity: the SHA-256 of its canonical definition (name, title,
//! description, input and output schemas, annotations), with object keys sorted so the same
//! definition always hashes the same, whatever order the server wrote it in.

use keygate_vault::ListedTool;
use rmcp::model::Tool;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The parts of a definition that change what a tool does or how a model is told to use it.
const PINNED_FIELDS: &[&str] = &["name", "title", "description", "inputSchema", "outputSchema", "annotations"];

/// The canonical JSON of `tool`'s pinned fields.
pub(crate) fn canonical_definition(tool: &Tool) -> String {
    let full = serde_json::to_value(tool).unwrap_or(Value::Null);
    let mut pinned = Map::new();
    for field in PINNED_FIELDS {
        if let Some(value) = full.get(*field) {
            pinned.insert((*field).to_string(), sorted(value));
        }
    }
    Value::Object(pinned).to_string()
}

/// `value` with every object's keys in sorted order (whatever serde_json's map keeps).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// What the vault pins for a listed tool.
pub(crate) fn listed(tool: &Tool) -> ListedTool {
    let definition = canonical_definition(tool);
    let sha256 = Sha256::digest(definition.as_bytes()).into();
    ListedTool { tool: tool.name.to_string(), sha256, definition }
}

/// A tool back from its pinned definition, under the name agents see.
pub(crate) fn tool_from_definition(definition: &str, exposed: &str) -> Option<Tool> {
    let mut value: Value = serde_json::from_str(definition).ok()?;
    value.as_object_mut()?.insert("name".into(), Value::String(exposed.to_string()));
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(json: &str) -> Tool {
        serde_json::from_str(json).expect("tool")
    }

    #[test]
    fn key_order_does_not_change_the_pin_but_a_description_does() {
        let a = tool(
            r#"{"name":"t","description":"d","inputSchema":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}}}}"#,
        );
        let b = tool(
            r#"{"inputSchema":{"properties":{"b":{"type":"number"},"a":{"type":"string"}},"type":"object"},"description":"d","name":"t"}"#,
        );
        assert_eq!(listed(&a).sha256, listed(&b).sha256);
        let c = tool(r#"{"name":"t","description":"d (changed)","inputSchema":{"type":"object"}}"#);
        assert_ne!(listed(&a).sha256, listed(&c).sha256);
    }

    #[test]
    fn a_pinned_definition_comes_back_under_the_exposed_name() {
        let original = tool(r#"{"name":"echo","description":"Echo","inputSchema":{"type":"object"}}"#);
        let back = tool_from_definition(&listed(&original).definition, "fx_echo").expect("parses");
        assert_eq!(back.name, "fx_echo");
        assert_eq!(back.description.as_deref(), Some("Echo"));
    }
}
