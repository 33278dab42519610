//! Rules from text: `TOOL: CONDITION`, checked whole before anything is stored.

use serde_json::{Number, Value};

use crate::error::PolicyError;
use crate::lex::{Op, Spanned, Tok, is_word_char, lex};

/// The most rules one grant or token carries.
pub const MAX_RULES: usize = 64;
/// The longest rule, in characters.
pub const MAX_RULE_CHARS: usize = 1000;
/// The most keys in one path (`a.b.c` is 3).
const MAX_PATH_DEPTH: usize = 16;
/// The most values in one `in [...]` list.
const MAX_LIST: usize = 256;
/// The longest tool name (as the vault's scopes allow).
const MAX_TOOL_CHARS: usize = 128;

/// A set of rules, compiled. Cheap to check against a call's arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    pub(crate) rules: Vec<Rule>,
}

/// One rule: the tool it applies to and its condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The tool's name, or `SERVER_*` for every tool of a fronted server.
    pub(crate) tool: String,
    /// The rule as written (trimmed), for messages and the audit.
    pub(crate) text: String,
    pub(crate) path: Vec<String>,
    pub(crate) test: Test,
}

/// What a rule checks at its path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    /// The path exists (any value, `null` included).
    Has,
    /// `==` or `!=` a JSON scalar.
    Equals { value: Value, negated: bool },
    /// Equal to one of these.
    In(Vec<Value>),
    /// A string matching this glob.
    Glob(String),
    /// A number compared with this one.
    Compare { op: Op, bound: f64 },
}

impl Rule {
    /// The tool (or `SERVER_*` pattern) this rule applies to.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// The rule as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Policy {
    /// Parse rules, one per entry. Every problem is reported with the rule's number and the
    /// column where it starts.
    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<Self, PolicyError> {
        if rules.len() > MAX_RULES {
            return Err(PolicyError::TooMany { count: rules.len(), max: MAX_RULES });
        }
        let rules = rules.iter().enumerate().map(|(i, r)| parse_rule(i, r.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn parse_rule(index: usize, raw: &str) -> Result<Rule, PolicyError> {
    let chars: Vec<char> = raw.chars().collect();
    let err = |at: usize, message: String| PolicyError::malformed(index, raw, at, message);
    if chars.len() > MAX_RULE_CHARS {
        return Err(err(MAX_RULE_CHARS, format!("the rule is longer than {MAX_RULE_CHARS} characters")));
    }
    if let Some(at) = chars.iter().position(|c| c.is_control() && *c != '\t') {
        return Err(err(at, "a control character (a rule is one line)".into()));
    }
    let Some(colon) = chars.iter().position(|c| *c == ':') else {
        return Err(err(0, "no `:`: write `TOOL: CONDITION`, e.g. `web_search: num_results <= 10`".into()));
    };
    let tool = parse_tool(&chars[..colon]).map_err(|(at, m)| err(at, m))?;
    let tokens = lex(&chars[colon + 1..], colon + 1).map_err(|(at, m)| err(at, m))?;
    let mut parser = Parser { tokens: &tokens, next: 0, end: chars.len() };
    let (path, test) = parser.condition().map_err(|(at, m)| err(at, m))?;
    if let Some((tok, at)) = parser.peek() {
        return Err(err(*at, format!("unexpected {} after the condition (one condition per rule)", describe(tok))));
    }
    let text = raw.trim().to_string();
    Ok(Rule { tool, text, path, test })
}

/// The tool before the colon: `[A-Za-z0-9_.-]`, or `SERVER_*`.
fn parse_tool(chars: &[char]) -> Result<String, (usize, String)> {
    let start = chars.iter().position(|c| !c.is_whitespace()).unwrap_or(chars.len());
    let tool: String = chars[start..].iter().collect::<String>().trim_end().to_string();
    if tool.is_empty() {
        return Err((start, "no tool before `:`: write `TOOL: CONDITION`".into()));
    }
    let name = tool.strip_suffix("_*").unwrap_or(&tool);
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if let Some(bad) = name.chars().position(|c| !ok(c)) {
        return Err((start + bad, "a tool name is A-Z, a-z, 0-9, `_`, `-`, `.` (or SERVER_* for a server)".into()));
    }
    if name.is_empty() || tool.chars().count() > MAX_TOOL_CHARS {
        return Err((start, format!("a tool name is 1-{MAX_TOOL_CHARS} characters")));
    }
    Ok(tool)
}

type Parsed<T> = Result<T, (usize, String)>;

struct Parser<'t> {
    tokens: &'t [Spanned],
    next: usize,
    /// The rule's length: where "the end of the rule" is pointed at.
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) -> Option<&Spanned> {
        let tok = self.tokens.get(self.next);
        self.next += 1;
        tok
    }

    /// An error at the next token (or the end), saying what was expected there.
    fn expected<T>(&self, what: &str) -> Parsed<T> {
        Err(match self.peek() {
            Some((tok, at)) => (*at, format!("expected {what}, found {}", describe(tok))),
            None => (self.end, format!("expected {what}, found the end of the rule")),
        })
    }

    fn condition(&mut self) -> Parsed<(Vec<String>, Test)> {
        let is_has = matches!(self.peek(), Some((Tok::Word(w), _)) if w == "has")
            && matches!(self.tokens.get(self.next + 1), Some((Tok::Word(_) | Tok::Str(_), _)));
        if is_has {
            self.next += 1;
            return Ok((self.path()?, Test::Has));
        }
        let path = self.path()?;
        let test = match self.peek().cloned() {
            Some((Tok::Word(w), _)) if w == "in" => {
                self.next += 1;
                Test::In(self.list()?)
            }
            Some((Tok::Op(op), _)) => {
                self.next += 1;
                self.operand(op)?
            }
            _ => return self.expected("an operator (==, !=, in, ~, <, <=, >, >=)"),
        };
        Ok((path, test))
    }

    fn path(&mut self) -> Parsed<Vec<String>> {
        let mut path = vec![self.key()?];
        while matches!(self.peek(), Some((Tok::Dot, _))) {
            self.next += 1;
            if path.len() == MAX_PATH_DEPTH {
                return self.expected(&format!("at most {MAX_PATH_DEPTH} keys in a path"));
            }
            path.push(self.key()?);
        }
        Ok(path)
    }

    fn key(&mut self) -> Parsed<String> {
        match self.peek().cloned() {
            Some((Tok::Word(w), _)) if w.chars().all(is_word_char) => {
                self.next += 1;
                Ok(w)
            }
            Some((Tok::Str(s), _)) => {
                self.next += 1;
                Ok(s)
            }
            // `items.0`: an array index lexes as a number.
            Some((Tok::Num(n), _)) if n.as_u64().is_some() => {
                self.next += 1;
                Ok(n.to_string())
            }
            _ => self.expected("an argument name (a key, or keys joined by `.`)"),
        }
    }

    fn operand(&mut self, op: Op) -> Parsed<Test> {
        let at = self.peek().map_or(self.end, |(_, at)| *at);
        match op {
            Op::Eq | Op::Ne => Ok(Test::Equals { value: self.scalar()?, negated: op == Op::Ne }),
            Op::Glob => match self.bump().cloned() {
                Some((Tok::Str(s), _)) => Ok(Test::Glob(s)),
                _ => {
                    self.next -= 1;
                    self.expected("a quoted pattern after `~`, e.g. \"me/*\"")
                }
            },
            _ => match self.bump().cloned() {
                Some((Tok::Num(n), _)) => match n.as_f64() {
                    Some(bound) if bound.is_finite() => Ok(Test::Compare { op, bound }),
                    _ => Err((at, "this number is out of range".into())),
                },
                _ => {
                    self.next -= 1;
                    self.expected(&format!("a number after `{}`", op.as_str()))
                }
            },
        }
    }

    fn list(&mut self) -> Parsed<Vec<Value>> {
        if !matches!(self.peek(), Some((Tok::Open, _))) {
            return self.expected("`[` after `in`, e.g. in [\"a\", \"b\"]");
        }
        self.next += 1;
        let mut values = Vec::new();
        loop {
            if values.is_empty() && matches!(self.peek(), Some((Tok::Close, _))) {
                return self.expected("at least one value in the list");
            }
            if values.len() == MAX_LIST {
                return self.expected(&format!("at most {MAX_LIST} values in a list"));
            }
            values.push(self.scalar()?);
            match self.bump() {
                Some((Tok::Comma, _)) => {}
                Some((Tok::Close, _)) => return Ok(values),
                _ => {
                    self.next -= 1;
                    return self.expected("`,` or `]`");
                }
            }
        }
    }

    fn scalar(&mut self) -> Parsed<Value> {
        let value = match self.peek().cloned() {
            Some((Tok::Str(s), _)) => Value::String(s),
            Some((Tok::Num(n), _)) => Value::Number(n),
            Some((Tok::Word(w), _)) if w == "true" => Value::Bool(true),
            Some((Tok::Word(w), _)) if w == "false" => Value::Bool(false),
            Some((Tok::Word(w), _)) if w == "null" => Value::Null,
            Some((Tok::Word(_), _)) => {
                return self.expected("a value (a quoted string, a number, true, false or null; quote text)");
            }
            _ => return self.expected("a value (a quoted string, a number, true, false or null)"),
        };
        self.next += 1;
        Ok(value)
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Str(_) => "a string".into(),
        Tok::Num(n) => format!("the number {}", Number::to_string(n)),
        Tok::Op(op) => format!("`{}`", op.as_str()),
        Tok::Dot => "`.`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Open => "`[`".into(),
        Tok::Close => "`]`".into(),
    }
}
