//! Argument rules: which arguments a grant's (or a token's) calls may carry.
//!
//! One rule a line, `TOOL: CONDITION`, over the call's JSON arguments (after schema defaults
//! are applied). Every rule naming the called tool must hold (they are ANDed); a tool no rule
//! names is allowed as the scope allows it.
//!
//! ```text
//! github_create_issue: repo in ["me/app", "me/lib"]
//! github_create_issue: repo ~ "me/*"
//! web_search: num_results <= 10
//! web_search: has query
//! http_get: options.method == "GET"
//! ```
//!
//! Conditions: `PATH == VALUE`, `PATH != VALUE`, `PATH in [VALUE, ...]`, `PATH ~ "GLOB"` (`*` any
//! run of characters, `/` included; `?` one character), `PATH < NUMBER` (and `<=`, `>`, `>=`),
//! `has PATH`. A PATH is keys joined by `.` (`a.b.c`; a number indexes an array; a key with
//! other characters is quoted: `"content-type"`). VALUEs are JSON scalars: strings in double
//! quotes (`\"`, `\\`, `\n`, `\t` escapes), numbers, `true`, `false`, `null`.
//!
//! An argument that is missing fails every condition but `has` (a `!=` included: a rule that
//! cannot be checked does not pass); one of the wrong type fails the condition and says so.
//! A refusal names the rule, never the argument's value.

mod error;
mod eval;
pub mod fuzzing;
mod glob;
mod lex;
mod parse;
mod stored;

pub use error::PolicyError;
pub use eval::Violation;
pub use parse::{MAX_RULE_CHARS, MAX_RULES, Policy, Rule};
pub use stored::StoredPolicy;

/// Whether `text` matches the glob `pattern` (`*` any run of characters, `?` one): the `~`
/// operator's matching, for other patterns of the same kind (a server's `approve` list).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    glob::matches(pattern, text)
}
