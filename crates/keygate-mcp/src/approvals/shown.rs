//! A waiting call's arguments as a person sees them: pretty-printed JSON, each long string
//! cut, the whole bounded, so a huge argument cannot flood a notification or a list.

use rmcp::model::JsonObject;
use serde_json::Value;

/// Characters kept of one string value.
const MAX_VALUE_CHARS: usize = 200;
/// Characters kept of the whole text.
const MAX_TEXT_CHARS: usize = 4000;

/// The arguments (none: `{}`), pretty-printed with long values cut.
pub(crate) fn arguments(arguments: Option<&JsonObject>) -> String {
    let mut value = Value::Object(arguments.cloned().unwrap_or_default());
    cut_strings(&mut value);
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into());
    if text.chars().count() <= MAX_TEXT_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
    cut.push_str("\n… (cut)");
    cut
}

fn cut_strings(value: &mut Value) {
    match value {
        Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
            let mut cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
            cut.push('…');
            *s = cut;
        }
        Value::Array(items) => items.iter_mut().for_each(cut_strings),
        Value::Object(map) => map.values_mut().for_each(cut_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn long_values_are_cut_and_the_rest_kept_pretty() {
        let long = "x".repeat(500);
        let args = json!({"repo": "me/app", "body": long, "nested": {"list": [long]}});
        let shown = arguments(args.as_object());
        assert!(shown.contains("\"repo\": \"me/app\""), "{shown}");
        assert!(shown.contains(&format!("{}…", "x".repeat(200))), "{shown}");
        assert!(!shown.contains(&"x".repeat(201)), "a long value was kept whole");
        assert_eq!(arguments(None), "{}");
    }

    #[test]
    fn the_whole_text_is_bounded() {
        let many: serde_json::Map<String, Value> =
            (0..500).map(|i| (format!("k{i}"), json!("v".repeat(100)))).collect();
        let shown = arguments(Some(&many));
        assert!(shown.chars().count() <= MAX_TEXT_CHARS + 10 && shown.ends_with("(cut)"), "{}", shown.len());
    }
}
