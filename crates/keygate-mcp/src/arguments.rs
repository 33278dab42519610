//! Tool arguments: checked against the tool's JSON Schema, with top-level defaults applied,
//! before anything is sent upstream.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// How many schema violations one error message lists.
const MAX_REPORTED: usize = 3;

/// A tool's compiled input schema.
#[derive(Clone)]
pub struct ArgumentSchema {
    validator: Arc<jsonschema::Validator>,
    defaults: Map<String, Value>,
}

impl fmt::Debug for ArgumentSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgumentSchema").field("defaults", &self.defaults).finish_non_exhaustive()
    }
}

impl ArgumentSchema {
    /// Compile a schema; it must describe an object (MCP tool arguments are one).
    pub fn compile(schema: &Map<String, Value>) -> Result<Self, String> {
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(
                "must be an object schema: write input_schema = { type = \"object\", properties = { ... } }".into()
            );
        }
        let validator = jsonschema::validator_for(&Value::Object(schema.clone()))
            .map_err(|e| format!("is not a valid JSON Schema: {e}"))?;
        let defaults = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props.iter().filter_map(|(name, prop)| prop.get("default").map(|d| (name.clone(), d.clone()))).collect()
            })
            .unwrap_or_default();
        Ok(Self { validator: Arc::new(validator), defaults })
    }

    /// Apply defaults for missing top-level properties, then validate.
    pub fn prepare(&self, arguments: Option<Map<String, Value>>) -> Result<Map<String, Value>, String> {
        let mut arguments = arguments.unwrap_or_default();
        for (name, default) in &self.defaults {
            arguments.entry(name.clone()).or_insert_with(|| default.clone());
        }
        let instance = Value::Object(arguments);
        let problems: Vec<String> = self
            .validator
            .iter_errors(&instance)
            .take(MAX_REPORTED)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
            })
            .collect();
        if !problems.is_empty() {
            return Err(format!("invalid arguments: {}", problems.join("; ")));
        }
        let Value::Object(arguments) = instance else {
            return Err("invalid arguments: they must be a JSON object".into());
        };
        Ok(arguments)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> ArgumentSchema {
        let value = json!({
            "type": "object",
            "properties": { "query": { "type": "string" }, "num_results": { "type": "integer", "default": 5 } },
            "required": ["query"]
        });
        ArgumentSchema::compile(value.as_object().expect("object")).expect("compile")
    }

    fn args(value: Value) -> Option<Map<String, Value>> {
        value.as_object().cloned()
    }

    #[test]
    fn defaults_are_applied_and_given_values_kept() {
        let s = schema();
        assert_eq!(
            Value::Object(s.prepare(args(json!({"query": "rust"}))).expect("ok")),
            json!({"query": "rust", "num_results": 5})
        );
        let kept = s.prepare(args(json!({"query": "rust", "num_results": 9}))).expect("ok");
        assert_eq!(kept["num_results"], 9);
    }

    #[test]
    fn invalid_arguments_name_the_problem() {
        let s = schema();
        let missing = s.prepare(None).expect_err("query is required");
        assert!(missing.contains("query"), "{missing}");
        let wrong = s.prepare(args(json!({"query": "x", "num_results": "many"}))).expect_err("wrong type");
        assert!(wrong.contains("/num_results"), "{wrong}");
    }

    #[test]
    fn schemas_that_are_not_objects_or_not_valid_are_refused() {
        let not_object = json!({"type": "string"});
        assert!(ArgumentSchema::compile(not_object.as_object().expect("object")).is_err());
        let invalid = json!({"type": "object", "properties": {"q": {"type": "no-such-type"}}});
        assert!(ArgumentSchema::compile(invalid.as_object().expect("object")).is_err());
    }
}
