//! The rule language end to end: parse, check, refuse with the rule's name and the column.

use keygate_policy::{Policy, PolicyError, StoredPolicy};
use serde_json::{Map, Value, json};

fn args(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("arguments are an object")
}

fn policy(rules: &[&str]) -> Policy {
    Policy::parse(rules).unwrap_or_else(|e| panic!("{rules:?} should parse: {e}"))
}

/// Whether a call to `tool` with `arguments` passes `rules`.
fn passes(rules: &[&str], tool: &str, arguments: Value) -> bool {
    policy(rules).check(tool, &args(arguments)).is_ok()
}

fn malformed(rule: &str) -> (usize, usize, String) {
    match Policy::parse(&[rule]) {
        Err(PolicyError::Malformed { rule, column, message, .. }) => (rule, column, message),
        other => panic!("{rule:?} should be malformed, got {other:?}"),
    }
}

#[test]
fn equality_and_inequality() {
    let rule = ["t: mode == \"read\""];
    assert!(passes(&rule, "t", json!({"mode": "read"})));
    assert!(!passes(&rule, "t", json!({"mode": "write"})));
    let rule = ["t: mode != \"write\""];
    assert!(passes(&rule, "t", json!({"mode": "read"})));
    assert!(!passes(&rule, "t", json!({"mode": "write"})));
    assert!(!passes(&rule, "t", json!({})), "a missing argument fails even `!=`");
    assert!(passes(&["t: n == 10"], "t", json!({"n": 10.0})), "numbers are equal by value");
    assert!(passes(&["t: flag == true"], "t", json!({"flag": true})));
    assert!(!passes(&["t: flag == true"], "t", json!({"flag": "true"})), "a string is not a bool");
    assert!(passes(&["t: x == null"], "t", json!({"x": null})));
}

#[test]
fn in_lists() {
    let rule = ["github_create_issue: repo in [\"me/app\", \"me/lib\"]"];
    assert!(passes(&rule, "github_create_issue", json!({"repo": "me/app"})));
    assert!(passes(&rule, "github_create_issue", json!({"repo": "me/lib"})));
    assert!(!passes(&rule, "github_create_issue", json!({"repo": "you/app"})));
    assert!(passes(&["t: n in [1, 2, \"three\"]"], "t", json!({"n": 2})));
    assert!(!passes(&["t: n in [1, 2]"], "t", json!({"n": "2"})));
}

#[test]
fn globs() {
    let rule = ["t: repo ~ \"me/*\""];
    assert!(passes(&rule, "t", json!({"repo": "me/app"})));
    assert!(!passes(&rule, "t", json!({"repo": "mine/app"})));
    let wrong = policy(&rule).check("t", &args(json!({"repo": ["me/app"]}))).expect_err("not a string");
    assert_eq!(wrong.reason, "repo is not a string");
}

#[test]
fn numeric_comparisons() {
    for (rule, n, expected) in [
        ("t: n < 10", 9, true),
        ("t: n < 10", 10, false),
        ("t: n <= 10", 10, true),
        ("t: n <= 10", 11, false),
        ("t: n > -2.5", -2, true),
        ("t: n > -2.5", -3, false),
        ("t: n >= 1e3", 1000, true),
        ("t: n >= 1e3", 999, false),
    ] {
        assert_eq!(passes(&[rule], "t", json!({ "n": n })), expected, "{rule} with {n}");
    }
    let wrong = policy(&["web_search: num_results <= 10"])
        .check("web_search", &args(json!({"num_results": "5"})))
        .expect_err("a string is not a number");
    assert_eq!(wrong.reason, "num_results is not a number");
}

#[test]
fn presence() {
    assert!(passes(&["t: has query"], "t", json!({"query": ""})));
    assert!(passes(&["t: has query"], "t", json!({"query": null})), "null is present");
    assert!(!passes(&["t: has query"], "t", json!({"other": 1})));
    assert!(passes(&["t: has a.b"], "t", json!({"a": {"b": 0}})));
    assert!(!passes(&["t: has a.b"], "t", json!({"a": "b"})));
    assert!(passes(&["t: has == 1"], "t", json!({"has": 1})), "an argument may be called has");
}

#[test]
fn nested_objects_and_arrays() {
    let rule = ["http_get: options.headers.accept == \"application/json\""];
    assert!(passes(&rule, "http_get", json!({"options": {"headers": {"accept": "application/json"}}})));
    assert!(!passes(&rule, "http_get", json!({"options": {"headers": {}}})));
    assert!(!passes(&rule, "http_get", json!({"options": "headers"})));
    let rule = ["t: items.0.name ~ \"ok-*\""];
    assert!(passes(&rule, "t", json!({"items": [{"name": "ok-1"}, {"name": "bad"}]})));
    assert!(!passes(&rule, "t", json!({"items": []})));
    assert!(passes(&["t: \"content-type\".\"a b\" == 1"], "t", json!({"content-type": {"a b": 1}})));
}

#[test]
fn several_rules_on_a_tool_are_all_required_and_others_do_not_apply() {
    let rules = ["t: n <= 10", "t: has q", "other: n == 1", "srv_*: safe == true"];
    assert!(passes(&rules, "t", json!({"n": 3, "q": "x"})));
    let broken = policy(&rules).check("t", &args(json!({"n": 3}))).expect_err("q missing");
    assert_eq!((broken.number, broken.rule.as_str(), broken.reason.as_str()), (2, "t: has q", "q is missing"));
    let broken = policy(&rules).check("t", &args(json!({"n": 30, "q": "x"}))).expect_err("n too big");
    assert_eq!(broken.number, 1);
    assert!(passes(&rules, "untouched", json!({})), "a tool no rule names is allowed");
    assert!(!passes(&rules, "srv_delete", json!({})), "a server pattern covers the server's tools");
    assert!(passes(&rules, "srv_delete", json!({"safe": true})));
    assert!(passes(&rules, "srvx", json!({})));
}

#[test]
fn unicode_keys_values_and_patterns() {
    assert!(passes(&["t: 名前 == \"日本語\""], "t", json!({"名前": "日本語"})));
    assert!(passes(&["t: city ~ \"Zür?ch\""], "t", json!({"city": "Zürich"})));
    assert!(passes(&["t: emoji in [\"🦀\", \"🐍\"]"], "t", json!({"emoji": "🦀"})));
    assert!(!passes(&["t: emoji in [\"🦀\"]"], "t", json!({"emoji": "🐍"})));
    // Columns count characters, not bytes.
    let (_, column, _) = malformed("t: 日本 = 1");
    assert_eq!(column, 7);
}

#[test]
fn a_refusal_never_holds_the_arguments_value() {
    let secret = "sk-live-0123456789abcdef";
    let rules = ["t: key == \"public\"", "t: key ~ \"pub*\"", "t: key in [\"a\"]", "t: key < 3"];
    for rule in rules {
        let violation = policy(&[rule]).check("t", &args(json!({ "key": secret }))).expect_err(rule);
        assert!(!violation.to_string().contains(secret), "{violation}");
    }
}

#[test]
fn malformed_rules_name_the_rule_and_the_column() {
    for (rule, column, says) in [
        ("web_search num_results <= 10", 1, "no `:`"),
        (": n == 1", 1, "no tool"),
        ("web search: n == 1", 4, "tool name"),
        ("t: n = 1", 6, "`==`"),
        ("t: n ==", 8, "found the end of the rule"),
        ("t: repo in \"a\"", 12, "`[` after `in`"),
        ("t: repo in []", 13, "at least one value"),
        ("t: repo in [\"a\" \"b\"]", 17, "`,` or `]`"),
        ("t: repo ~ me", 11, "quoted pattern"),
        ("t: n <= \"10\"", 9, "a number after `<=`"),
        ("t: n == 10abc", 9, "not a number"),
        ("t: n == \"open", 9, "no closing"),
        ("t: n == \"a\\q\"", 11, "unknown escape"),
        ("t: n == 1 == 2", 11, "one condition per rule"),
        ("t: == 1", 4, "argument name"),
        ("t: n == word", 9, "quote text"),
        ("t: a..b == 1", 6, "argument name"),
        ("t: n $ 1", 6, "unexpected character"),
    ] {
        let (number, at, message) = malformed(rule);
        assert_eq!(number, 1, "{rule}");
        assert_eq!(at, column, "{rule}: {message}");
        assert!(message.contains(says), "{rule}: {message:?} should say {says:?}");
    }
    match Policy::parse(&["t: n == 1", "t: m <"]) {
        Err(e @ PolicyError::Malformed { rule: 2, column: 7, .. }) => {
            let shown = e.to_string();
            assert!(shown.starts_with("rule 2, column 7: expected a number after `<`"), "{shown}");
            assert!(shown.ends_with("(in `t: m <`)") && !shown.contains('\n'), "one line naming the rule: {shown:?}");
        }
        other => panic!("the second rule is malformed: {other:?}"),
    }
}

#[test]
fn limits_are_errors_not_panics() {
    let many: Vec<String> = (0..65).map(|i| format!("t: n == {i}")).collect();
    assert!(matches!(Policy::parse(&many), Err(PolicyError::TooMany { count: 65, max: 64 })));
    let long = format!("t: n == \"{}\"", "x".repeat(1000));
    assert!(malformed(&long).2.contains("longer than"));
    let deep = format!("t: {} == 1", vec!["a"; 17].join("."));
    assert!(malformed(&deep).2.contains("at most 16 keys"));
    assert!(malformed("t: n == 1\nu: m == 2").2.contains("control character"));
    assert!(malformed("t: n < 1e999").2.contains("out of range"));
}

#[test]
fn the_stored_form_keeps_rules_and_approval() {
    let stored = StoredPolicy::new(vec!["  t: n <= 10 ".into()], true).expect("valid");
    assert_eq!(stored.allow, vec!["t: n <= 10"]);
    let text = stored.to_stored().expect("something to keep");
    assert_eq!(StoredPolicy::from_stored(&text).expect("reads back"), stored);
    assert_eq!(StoredPolicy::new(vec![], false).expect("empty").to_stored(), None);
    assert!(StoredPolicy::new(vec!["t n".into()], false).is_err());
    assert!(matches!(StoredPolicy::from_stored("{\"allow\": 3}"), Err(PolicyError::Stored { .. })));
    assert!(matches!(StoredPolicy::from_stored("{\"deny\": []}"), Err(PolicyError::Stored { .. })));
}
