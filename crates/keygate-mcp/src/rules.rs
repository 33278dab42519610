//! Argument rules in the call path: the caller's grant (or plain token) may carry rules over
//! a tool's arguments; a call that breaks one is refused before it is audited as allowed or
//! sent anywhere. One function, called beside the scope check by both the [[tool]] path
//! (after schema validation) and the gateway path.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use keygate_policy::{Policy, StoredPolicy};
use keygate_vault::TokenGrant;
use serde_json::{Map, Value};

/// Distinct stored policies compiled and kept: parsing costs tens of µs, checking about one.
/// A handful of grants exist per machine; past this many the cache starts over.
const MAX_CACHED: usize = 256;
/// How much of a rule the audit's status keeps.
const MAX_RULE_IN_AUDIT: usize = 200;

/// Compiled policies by their stored text (a pure function of it, so sharing is safe).
static COMPILED: LazyLock<Mutex<HashMap<String, Arc<Compiled>>>> = LazyLock::new(Default::default);

/// A stored policy, ready: its rules and whether its calls wait for a person.
#[derive(Debug)]
struct Compiled {
    rules: Policy,
    approve: bool,
}

/// A call the rules refuse: the audit's status and the agent's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleRefusal {
    /// `rule_failed: <rule>`, or `bad_policy` when the stored rules cannot be read.
    pub(crate) status: String,
    /// Which rule failed and why, never the argument's value.
    pub(crate) message: String,
}

/// Check a call to `tool` against the rules the caller is under (no arguments: an empty
/// object). `Ok` when there are none for this tool, or all hold.
pub(crate) fn check_rules(
    grant: &TokenGrant,
    tool: &str,
    arguments: Option<&Map<String, Value>>,
) -> Result<(), RuleRefusal> {
    let Some(stored) = grant.policy.as_deref() else { return Ok(()) };
    let none = Map::new();
    let arguments = arguments.unwrap_or(&none);
    let policy = compiled(stored).map_err(|problem| RuleRefusal {
        status: "bad_policy".into(),
        message: format!("refused: the rules of this grant cannot be read ({problem}); recreate the grant"),
    })?;
    policy.rules.check(tool, arguments).map_err(|violation| RuleRefusal {
        status: format!("rule_failed: {}", crate::text::printable(&violation.rule, MAX_RULE_IN_AUDIT)),
        message: violation.to_string(),
    })
}

/// Whether the caller's grant (or plain token) makes every call wait for a person. Unreadable
/// rules say no here: `check_rules` refuses such a call on every path anyway.
pub(crate) fn requires_approval(grant: &TokenGrant) -> bool {
    grant.policy.as_deref().and_then(|stored| compiled(stored).ok()).is_some_and(|c| c.approve)
}

fn compiled(stored: &str) -> Result<Arc<Compiled>, String> {
    let mut cache = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(policy) = cache.get(stored) {
        return Ok(Arc::clone(policy));
    }
    let stored_policy = StoredPolicy::from_stored(stored).map_err(|e| e.to_string())?;
    let rules = stored_policy.compile().map_err(|e| e.to_string())?;
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    let policy = Arc::new(Compiled { rules, approve: stored_policy.approve });
    cache.insert(stored.to_string(), Arc::clone(&policy));
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use keygate_vault::Timestamp;
    use serde_json::json;

    use super::*;

    fn grant(policy: Option<&str>) -> TokenGrant {
        TokenGrant {
            token_id: "0123456789abcdef".into(),
            tools: vec!["web_search".into()],
            expires_at: Timestamp::from_unix_millis(0),
            grant: None,
            policy: policy.map(String::from),
        }
    }

    fn args(value: Value) -> Option<Map<String, Value>> {
        value.as_object().cloned()
    }

    #[test]
    fn no_policy_no_rule_for_the_tool_or_a_rule_that_holds_passes() {
        assert_eq!(check_rules(&grant(None), "web_search", args(json!({})).as_ref()), Ok(()));
        let stored = r#"{"allow":["web_search: num_results <= 10"]}"#;
        assert_eq!(check_rules(&grant(Some(stored)), "other", args(json!({})).as_ref()), Ok(()));
        assert_eq!(check_rules(&grant(Some(stored)), "web_search", args(json!({"num_results": 3})).as_ref()), Ok(()));
    }

    #[test]
    fn a_broken_rule_is_named_in_the_status_and_the_message() {
        let stored = r#"{"allow":["web_search: num_results <= 10"]}"#;
        let refusal = check_rules(&grant(Some(stored)), "web_search", args(json!({"num_results": 99})).as_ref())
            .expect_err("too many results");
        assert_eq!(refusal.status, "rule_failed: web_search: num_results <= 10");
        assert_eq!(
            refusal.message,
            "refused by rule 1 `web_search: num_results <= 10`: num_results is out of the allowed range"
        );
    }

    #[test]
    fn approval_comes_from_the_stored_policy() {
        assert!(!requires_approval(&grant(None)));
        assert!(!requires_approval(&grant(Some(r#"{"allow":["web_search: has q"]}"#))));
        assert!(requires_approval(&grant(Some(r#"{"approve":true}"#))));
        assert!(!requires_approval(&grant(Some("not json"))), "unreadable: refused by check_rules instead");
    }

    #[test]
    fn unreadable_stored_rules_refuse_the_call() {
        let refusal =
            check_rules(&grant(Some("{\"allow\": 1}")), "web_search", args(json!({})).as_ref()).expect_err("bad");
        assert_eq!(refusal.status, "bad_policy");
    }
}
