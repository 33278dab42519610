//! Finding a key in what an upstream or a fronted server sends back, in the forms it gets
//! echoed in, not just the exact string: any letter case, JSON `\u` escapes (one escaped
//! character or all of them, however many backslashes deep), and base64 in the standard
//! and URL-safe alphabets at any alignment (so it is found inside a longer encoded blob).
//!
//! Cost stays linear: the text is normalized once (escapes decoded, ASCII lowercased), then
//! each form is searched with memchr's memmem; a key yields at most seven forms.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

pub(crate) const REDACTED: &str = "[redacted]";
/// Values shorter than this are not redacted: replacing every `1` in a log helps nobody, and
/// a vault value that short is not a key.
pub(crate) const MIN_REDACTED_LEN: usize = 4;
/// Base64 forms only for keys this long: shorter ones give cores short enough to match by chance.
const MIN_ENCODED_LEN: usize = 8;

/// The forms of one or more keys to look for, lowercased; zeroized when dropped.
pub(crate) struct Forms(Vec<Zeroizing<Vec<u8>>>);

impl Forms {
    /// The forms of each of `secrets` long enough to redact.
    pub(crate) fn of<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut forms: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for secret in secrets.into_iter().filter(|s| s.len() >= MIN_REDACTED_LEN) {
            // Normalized as the text is: a key holding a literal `\u0073` is searched as `s`,
            // or it would never be found (found by the `gateway_message` fuzz target).
            forms.push(Normalized::of(secret).bytes);
            if secret.len() >= MIN_ENCODED_LEN {
                for offset in 0..3 {
                    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                        let core = base64_core(secret.as_bytes(), offset, engine);
                        if !forms.iter().any(|f| **f == *core) {
                            forms.push(core);
                        }
                    }
                }
            }
        }
        Self(forms)
    }

    /// Whether `text` holds any form.
    pub(crate) fn found_in(&self, text: &str) -> bool {
        !self.0.is_empty() && !self.spans(text).is_empty()
    }

    /// `text` with every form replaced by `[redacted]`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let spans = if self.0.is_empty() { Vec::new() } else { self.spans(text) };
        if spans.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Where the forms are in `text` (byte ranges of the original, merged, in order).
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        let normal = Normalized::of(text);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for form in &self.0 {
            for_each_match(&normal.bytes, form, |found| spans.push(normal.original(found, found + form.len())));
        }
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// Texts up to this long are searched by their first byte; longer ones with memmem, whose
/// searcher costs more to build (once per form and text) than a short answer takes to scan.
const SHORT_TEXT: usize = 1024;

/// Each start of a non-overlapping occurrence of `form` in `text`, in order.
fn for_each_match(text: &[u8], form: &[u8], mut found: impl FnMut(usize)) {
    let Some(&first) = form.first() else { return };
    if text.len() > SHORT_TEXT {
        memchr::memmem::find_iter(text, form).for_each(found);
        return;
    }
    let mut from = 0;
    while let Some(at) = memchr::memchr(first, &text[from..]).map(|i| from + i) {
        if text[at..].starts_with(form) {
            found(at);
            from = at + form.len();
        } else {
            from = at + 1;
        }
    }
}

/// The base64 characters that encode only `secret`'s bits when it starts `offset` bytes
/// into a longer encoded run, lowercased.
fn base64_core(secret: &[u8], offset: usize, engine: &base64::engine::GeneralPurpose) -> Zeroizing<Vec<u8>> {
    let mut padded = Zeroizing::new(vec![0u8; offset]);
    padded.extend_from_slice(secret);
    let encoded = Zeroizing::new(engine.encode(padded.as_slice()));
    // The first character holding no bit of the leading filler, and the last holding no bit
    // of whatever follows.
    let first = (offset * 8).div_ceil(6);
    let last = (offset + secret.len()) * 8 / 6;
    Zeroizing::new(encoded.as_bytes()[first..last].to_ascii_lowercase())
}

/// `text` lowercased with `\uXXXX` escapes of ASCII decoded, and where each byte came from.
struct Normalized {
    bytes: Zeroizing<Vec<u8>>,
    /// For each byte of `bytes`, its range in the original; `None` when nothing was decoded
    /// (then positions are the same).
    from: Option<Vec<(usize, usize)>>,
}

impl Normalized {
    fn of(text: &str) -> Self {
        let raw = text.as_bytes();
        if memchr::memmem::find(raw, b"\\u").is_none() {
            return Self { bytes: Zeroizing::new(raw.to_ascii_lowercase()), from: None };
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(raw.len()));
        let mut from = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            match escaped_ascii(raw, i) {
                Some((byte, end)) => {
                    bytes.push(byte.to_ascii_lowercase());
                    from.push((i, end));
                    i = end;
                }
                None => {
                    bytes.push(raw[i].to_ascii_lowercase());
                    from.push((i, i + 1));
                    i += 1;
                }
            }
        }
        Self { bytes, from: Some(from) }
    }

    /// The original range of normalized bytes `start..end`.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.from {
            None => (start, end),
            Some(from) => (from[start].0, from[end - 1].1),
        }
    }
}

/// At `i`: one or more backslashes, `u`, four hex digits naming a printable ASCII character;
/// returns it and where the escape ends.
fn escaped_ascii(raw: &[u8], i: usize) -> Option<(u8, usize)> {
    let slashes = raw[i..].iter().take_while(|&&b| b == b'\\').count();
    let u = i + slashes;
    if slashes == 0 || raw.get(u) != Some(&b'u') {
        return None;
    }
    let hex = std::str::from_utf8(raw.get(u + 1..u + 5)?).ok()?;
    let value = u8::try_from(u32::from_str_radix(hex, 16).ok()?).ok()?;
    (0x20..0x7f).contains(&value).then_some((value, u + 5))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    use super::*;

    const KEY: &str = "sk-Live_9f8e7d6c5b4a?>";

    fn redacted(text: &str) -> String {
        Forms::of([KEY]).redact(text)
    }

    #[test]
    fn exact_and_cased_forms() {
        assert_eq!(redacted(&format!("a {KEY} b")), "a [redacted] b");
        assert_eq!(redacted(&format!("{} {}", KEY.to_lowercase(), KEY.to_uppercase())), "[redacted] [redacted]");
        assert_eq!(redacted("nothing here"), "nothing here");
    }

    #[test]
    fn json_escaped_forms() {
        let all: String = KEY.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        assert_eq!(redacted(&format!("\"{all}\"")), "\"[redacted]\"");
        assert_eq!(redacted(&format!("\"{}\"", all.to_uppercase().replace("\\U", "\\u"))), "\"[redacted]\"");
        // One character escaped, and escaped again inside a serialized string.
        let one = KEY.replacen('-', "\\u002d", 1);
        assert_eq!(redacted(&format!("x{one}y")), "x[redacted]y");
        let twice = KEY.replacen('-', "\\\\u002D", 1);
        assert_eq!(redacted(&format!("x{twice}y")), "x[redacted]y");
        // The JSON we get is still JSON after redaction.
        let value = serde_json::json!({"text": format!("key={KEY}")}).to_string();
        let out = redacted(&serde_json::to_string(&value).expect("json"));
        let back: String = serde_json::from_str(&out).expect("still JSON");
        assert!(back.contains("[redacted]") && !back.contains(KEY), "{back}");
    }

    #[test]
    fn base64_forms_at_any_alignment() {
        for prefix in ["", "u", "us", "user:"] {
            let plain = format!("{prefix}{KEY}!");
            for encoded in [STANDARD.encode(&plain), URL_SAFE.encode(&plain), STANDARD_NO_PAD.encode(&plain)] {
                let out = redacted(&format!("Authorization: Basic {encoded}"));
                assert!(out.contains("[redacted]"), "{prefix:?}: {encoded} -> {out}");
                let left = out.replace("[redacted]", "");
                assert!(left.len() < "Authorization: Basic ".len() + 12, "{out}");
            }
        }
    }

    #[test]
    fn short_and_long_texts_find_the_same_occurrences() {
        let texts = ["aaaaaa", "abababab", "xabcabcx", "", "ab", "zzabzzab"];
        for text in texts {
            for form in ["a", "aa", "ab", "aba", "abc", "zab"] {
                let mut short = Vec::new();
                for_each_match(text.as_bytes(), form.as_bytes(), |at| short.push(at));
                let memmem: Vec<usize> = memchr::memmem::find_iter(text.as_bytes(), form.as_bytes()).collect();
                assert_eq!(short, memmem, "{form:?} in {text:?}");
            }
        }
        let long = format!("{}{KEY}", "a".repeat(SHORT_TEXT));
        assert_eq!(redacted(&long), format!("{}[redacted]", "a".repeat(SHORT_TEXT)));
    }

    #[test]
    fn short_values_and_plain_text_are_left_alone() {
        assert_eq!(Forms::of(["abc"]).redact("abc abc"), "abc abc");
        // A short key is matched only as itself, never through its (short, chancy) base64 core.
        assert_eq!(Forms::of(["abcd"]).redact("YWJjZA== abcd"), "YWJjZA== [redacted]");
        assert!(!Forms::of([KEY]).found_in("\\u0041\\\\ plain"));
    }
}
