//! Checking a call's arguments against the rules for its tool.

use std::fmt;

use serde_json::{Map, Value};

use crate::glob;
use crate::lex::Op;
use crate::parse::{Policy, Rule, Test};

/// The first rule a call broke, and why, in words that never hold the argument's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule as written.
    pub rule: String,
    /// Its place among the rules, from 1.
    pub number: usize,
    /// What was wrong: `repo is missing`, `num_results is not a number`, ...
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by rule {} `{}`: {}", self.number, self.rule, self.reason)
    }
}

impl Policy {
    /// Check a call to `tool` with these arguments: every rule for the tool must hold.
    pub fn check(&self, tool: &str, arguments: &Map<String, Value>) -> Result<(), Violation> {
        for (index, rule) in self.rules.iter().enumerate() {
            if !applies(&rule.tool, tool) {
                continue;
            }
            if let Err(reason) = rule.holds(arguments) {
                return Err(Violation { rule: rule.text.clone(), number: index + 1, reason });
            }
        }
        Ok(())
    }

    /// Whether any rule applies to `tool`.
    pub fn covers(&self, tool: &str) -> bool {
        self.rules.iter().any(|r| applies(&r.tool, tool))
    }
}

/// A rule's tool: the same name, or `SERVER_*` for every tool starting `SERVER_`.
fn applies(rule_tool: &str, tool: &str) -> bool {
    match rule_tool.strip_suffix('*') {
        Some(prefix) => tool.len() > prefix.len() && tool.starts_with(prefix),
        None => rule_tool == tool,
    }
}

impl Rule {
    fn holds(&self, arguments: &Map<String, Value>) -> Result<(), String> {
        let name = self.path.join(".");
        let found = lookup(arguments, &self.path);
        let Some(value) = found else {
            return Err(format!("{name} is missing"));
        };
        let ok = match &self.test {
            Test::Has => true,
            Test::Equals { value: want, negated } => same(value, want) != *negated,
            Test::In(list) => list.iter().any(|want| same(value, want)),
            Test::Glob(pattern) => match value {
                Value::String(s) => glob::matches(pattern, s),
                _ => return Err(format!("{name} is not a string")),
            },
            Test::Compare { op, bound } => match value.as_f64() {
                Some(n) => compare(n, *op, *bound),
                None => return Err(format!("{name} is not a number")),
            },
        };
        if ok { Ok(()) } else { Err(format!("{name} {}", self.failed_words())) }
    }

    fn failed_words(&self) -> &'static str {
        match &self.test {
            Test::Has => "is missing",
            Test::Equals { negated: false, .. } => "is not the allowed value",
            Test::Equals { negated: true, .. } => "is a value this rule forbids",
            Test::In(_) => "is not one of the allowed values",
            Test::Glob(_) => "does not match the allowed pattern",
            Test::Compare { .. } => "is out of the allowed range",
        }
    }
}

/// The value at `path`: keys of objects, indexes of arrays.
fn lookup<'v>(arguments: &'v Map<String, Value>, path: &[String]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    let mut value = arguments.get(first)?;
    for key in rest {
        value = match value {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// JSON equality, except that numbers are equal by value (`10 == 10.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        _ => a == b,
    }
}

fn compare(n: f64, op: Op, bound: f64) -> bool {
    match op {
        Op::Lt => n < bound,
        Op::Le => n <= bound,
        Op::Gt => n > bound,
        Op::Ge => n >= bound,
        Op::Eq | Op::Ne | Op::Glob => false,
    }
}
