//! Text from outside (tool names, server output, config values) made safe to show: control
//! and invisible formatting characters escaped, length bounded, so nothing an agent or a
//! child sends can drive a terminal, hide text from the person reading it, or flood a log.

/// The longest tool name Keygate can serve (a `[[tool]]` name; fronted tools are shorter).
pub const MAX_TOOL_NAME_LEN: usize = 128;

/// Whether `name` could name a tool Keygate serves: 1-128 characters of `A-Z a-z 0-9 _ - .`.
/// Anything else is refused before it is looked up or audited as a name.
pub fn is_tool_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    !name.is_empty() && name.len() <= MAX_TOOL_NAME_LEN && name.chars().all(allowed)
}

/// `text` with control characters escaped (`\n`, `\u{1b}`) and cut to about `max` characters.
/// Bidirectional overrides and zero-width characters are escaped too: they reorder or hide
/// what a terminal shows.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 8);
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible_format(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Format characters that change how the text around them is shown (Unicode Cf that matter).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

#[cfg(test)]
mod tests {
    use super::{is_tool_name, printable};

    #[test]
    fn control_characters_are_escaped_and_length_bounded() {
        assert_eq!(printable("plain", 10), "plain");
        assert_eq!(printable("a\nb\u{1b}[31m", 20), "a\\nb\\u{1b}[31m");
        assert_eq!(printable(&"x".repeat(100), 5), "xxxxx…");
        assert_eq!(printable("", 5), "");
        assert_eq!(printable("ab\u{202E}cd", 10), "ab\\u{202e}cd");
    }

    #[test]
    fn tool_names_are_bounded_and_plain() {
        for ok in ["web_search", "github_list-issues", "a.b", &"x".repeat(128)] {
            assert!(is_tool_name(ok), "{ok}");
        }
        for bad in ["", "has space", "a\u{1b}[31m", "a\nb", &"x".repeat(129), "é", "a/b"] {
            assert!(!is_tool_name(bad), "{bad:?}");
        }
    }
}
