//! Tokens of a rule's condition, each with the character column it starts at.

use serde_json::Number;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a key, `has`, `in`, `true`, `false`, `null`.
    Word(String),
    /// A double-quoted string, escapes resolved.
    Str(String),
    /// A JSON number.
    Num(Number),
    Op(Op),
    Dot,
    Comma,
    Open,
    Close,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Glob,
}

impl Op {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Glob => "~",
        }
    }
}

/// A token and the column (in characters, from 0) where it starts.
pub(crate) type Spanned = (Tok, usize);

/// A lexing problem: the column and what was wrong.
pub(crate) type LexError = (usize, String);

/// Whether `c` may appear in a bare word (a key or keyword). Any letter or digit, so keys in
/// any script need no quotes.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Split `chars` (the condition, starting at column `base`) into tokens.
pub(crate) fn lex(chars: &[char], base: usize) -> Result<Vec<Spanned>, LexError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = base + i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, len) = match c {
            '.' => (Tok::Dot, 1),
            ',' => (Tok::Comma, 1),
            '[' => (Tok::Open, 1),
            ']' => (Tok::Close, 1),
            '~' => (Tok::Op(Op::Glob), 1),
            '=' | '!' | '<' | '>' => operator(chars, i).ok_or_else(|| (at, bad_operator(chars, i)))?,
            '"' => string(chars, i, base)?,
            // After a `.`, digits are an array index (`items.0.name`), not a decimal.
            '0'..='9' if matches!(out.last(), Some((Tok::Dot, _))) => {
                let len = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                (Tok::Word(chars[i..i + len].iter().collect()), len)
            }
            '-' | '0'..='9' if starts_number(chars, i) => number(chars, i, base)?,
            c if is_word_char(c) => {
                let len = chars[i..].iter().take_while(|c| is_word_char(**c)).count();
                (Tok::Word(chars[i..i + len].iter().collect()), len)
            }
            other => return Err((at, format!("unexpected character {other:?}"))),
        };
        out.push((tok, at));
        i += len;
    }
    Ok(out)
}

fn operator(chars: &[char], i: usize) -> Option<(Tok, usize)> {
    let next = chars.get(i + 1).copied();
    let op = match (chars[i], next) {
        ('=', Some('=')) => (Op::Eq, 2),
        ('!', Some('=')) => (Op::Ne, 2),
        ('<', Some('=')) => (Op::Le, 2),
        ('>', Some('=')) => (Op::Ge, 2),
        ('<', _) => (Op::Lt, 1),
        ('>', _) => (Op::Gt, 1),
        _ => return None,
    };
    Some((Tok::Op(op.0), op.1))
}

fn bad_operator(chars: &[char], i: usize) -> String {
    match chars[i] {
        '=' => "a single `=`: write `==` to compare".into(),
        _ => "a lone `!`: write `!=` to compare".into(),
    }
}

/// A `-` starts a number only when a digit follows (`-` alone is part of a word).
fn starts_number(chars: &[char], i: usize) -> bool {
    match chars[i] {
        '-' => chars.get(i + 1).is_some_and(char::is_ascii_digit),
        _ => true,
    }
}

fn number(chars: &[char], i: usize, base: usize) -> Result<(Tok, usize), LexError> {
    let mut len = 0;
    while let Some(&c) = chars.get(i + len) {
        let sign_ok = c == '-' && (len == 0 || matches!(chars[i + len - 1], 'e' | 'E'));
        if !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+') || sign_ok) {
            break;
        }
        len += 1;
    }
    let text: String = chars[i..i + len].iter().collect();
    // A word right after digits (`10abc`) is a typo, not a number and a key.
    if chars.get(i + len).is_some_and(|c| is_word_char(*c)) {
        return Err((base + i, format!("{text:?} followed by letters is not a number")));
    }
    match serde_json::from_str::<Number>(&text) {
        Ok(n) => Ok((Tok::Num(n), len)),
        Err(_) if text.parse::<f64>().is_ok_and(f64::is_infinite) => Err((base + i, format!("{text} is out of range"))),
        Err(_) => Err((base + i, format!("{text:?} is not a number (write numbers as JSON does: 10, -2.5, 1e3)"))),
    }
}

fn string(chars: &[char], i: usize, base: usize) -> Result<(Tok, usize), LexError> {
    let mut text = String::new();
    let mut k = i + 1;
    loop {
        let Some(&c) = chars.get(k) else {
            return Err((base + i, "this string has no closing `\"`".into()));
        };
        match c {
            '"' => return Ok((Tok::Str(text), k + 1 - i)),
            '\\' => {
                let escaped = match chars.get(k + 1) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    _ => return Err((base + k, "unknown escape: use \\\" \\\\ \\n or \\t".into())),
                };
                text.push(escaped);
                k += 2;
            }
            c if c.is_control() => return Err((base + k, "a control character inside a string".into())),
            c => {
                text.push(c);
                k += 1;
            }
        }
    }
}
