//! Text from outside (tool names, server output, config values) made safe to show: control
//! characters escaped, length bounded, so nothing an agent or a child sends can drive a
//! terminal or flood a log.

/// `text` with control characters escaped (`\n`, `\u{1b}`) and cut to about `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 8);
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_length_bounded() {
        assert_eq!(printable("plain", 10), "plain");
        assert_eq!(printable("a\nb\u{1b}[31m", 20), "a\\nb\\u{1b}[31m");
        assert_eq!(printable(&"x".repeat(100), 5), "xxxxx…");
        assert_eq!(printable("", 5), "");
    }
}
