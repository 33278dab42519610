//! `~` patterns: `*` matches any run of characters (`/` included), `?` exactly one; the rest
//! matches itself. Linear backtracking on the last `*`, so no pattern can take exponential time.

/// Whether `text` matches `pattern`.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Where to resume after the last `*`: the pattern after it and the text it has eaten to.
    let mut resume: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                resume = Some((pi, ti));
                continue;
            }
            Some(b'?') => {
                pi += 1;
                ti += char_len(t[ti]);
                continue;
            }
            Some(&b) if b == t[ti] => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        let Some((after_star, eaten)) = resume else { return false };
        // Let the `*` take one more character and try again from there.
        let next = eaten + char_len(t[eaten]);
        resume = Some((after_star, next));
        pi = after_star;
        ti = next;
    }
    p[pi..].iter().all(|b| *b == b'*')
}

/// The length of the UTF-8 character starting with `lead` (texts are valid UTF-8 and indices
/// stay on character boundaries, so a lead byte is always what is found there).
fn char_len(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("me/*", "me/app"));
        assert!(matches("me/*", "me/"));
        assert!(matches("me/*", "me/a/b"), "a star crosses slashes");
        assert!(!matches("me/*", "you/app"));
        assert!(!matches("me/*", "me"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("??", "ab"));
        assert!(!matches("??", "abc"));
        assert!(matches("*.rs", "main.rs"));
        assert!(!matches("*.rs", "main.rsx"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn a_question_mark_is_one_character_not_one_byte() {
        assert!(matches("caf?", "café"));
        assert!(matches("?", "日"));
        assert!(!matches("??", "日"));
        assert!(matches("日*語", "日本語"));
        assert!(matches("*本?", "日本語"));
    }

    #[test]
    fn long_texts_against_many_stars_stay_linear_enough() {
        let text = "a".repeat(10_000);
        assert!(!matches("*a*a*a*a*a*b", &text));
        assert!(matches("*a*a*a*a*a*", &text));
    }
}
