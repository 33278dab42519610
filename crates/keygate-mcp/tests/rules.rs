//! Argument rules in the call path, as an agent meets them: rmcp's client over HTTP, a grant
//! with rules in a real vault, a real upstream on 127.0.0.1 (the [[tool]] path) and the
//! fixture MCP server (the gateway path). A refused call reaches nothing upstream, names the
//! rule (never the value), and is audited as denied with the rule.

mod support;

use keygate_vault::{GrantRequest, StoredPolicy, Vault};
use secrecy::ExposeSecret;
use serde_json::json;
use support::gateway::{Gateway, call_tool, fixture_server};
use support::{Harness, call, is_error, text};

fn grant_token(vault: &mut Vault, tools: &[&str], rules: &[&str]) -> String {
    let mut request = GrantRequest::new("ci-bot", tools.iter().map(|t| (*t).to_string()).collect());
    request.policy = StoredPolicy { allow: rules.iter().map(|r| (*r).to_string()).collect(), approve: false };
    vault.create_grant(&request).expect("grant with rules");
    vault.mint_grant_token("ci-bot").expect("mint").token.expose_secret().to_string()
}

/// The status of every denied audit row, oldest first.
fn denied_statuses(vault: &Vault) -> Vec<String> {
    let audit = vault.audit_log().expect("audit");
    audit.into_iter().filter(|r| r.decision.as_str() == "denied").filter_map(|r| r.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_that_breaks_a_rule_is_refused_by_name_audited_and_never_sent() {
    let h = Harness::start().await;
    let rules = ["web_search: num_results <= 10", "web_search: query ~ \"rust*\""];
    let token = grant_token(&mut h.other_vault(), &["web_search", "echo"], &rules);
    let client = h.client(&token).await;

    // The schema's default (num_results = 5) is applied before the rules see the arguments.
    let ok = client.call_tool(call("web_search", json!({"query": "rust async"}))).await.expect("call");
    assert!(!is_error(&ok), "{}", text(&ok));
    assert_eq!(h.hits(), 1);

    let too_many = client.call_tool(call("web_search", json!({"query": "rust", "num_results": 25}))).await;
    let too_many = too_many.expect("a tool error, not a protocol error");
    assert!(is_error(&too_many));
    assert_eq!(
        text(&too_many),
        "refused by rule 1 `web_search: num_results <= 10`: num_results is out of the allowed range"
    );
    let secret_query = "sk-live-do-not-echo-0123456789";
    let off_topic = client.call_tool(call("web_search", json!({"query": secret_query}))).await.expect("call");
    assert!(is_error(&off_topic));
    assert!(text(&off_topic).contains("rule 2 `web_search: query ~ \"rust*\"`"), "{}", text(&off_topic));
    assert!(!text(&off_topic).contains(secret_query), "the refusal echoed the argument");
    // A tool no rule names is allowed as the scope allows it.
    let echo = client.call_tool(call("echo", json!({"query": "anything"}))).await.expect("call");
    assert!(!is_error(&echo), "{}", text(&echo));
    assert_eq!(h.hits(), 2, "a refused call went upstream");

    h.server.flush_audit().await;
    let vault = h.other_vault();
    assert_eq!(
        denied_statuses(&vault),
        ["rule_failed: web_search: num_results <= 10", "rule_failed: web_search: query ~ \"rust*\""]
    );
    let audit = vault.audit_log().expect("audit");
    let allowed: Vec<&str> =
        audit.iter().filter(|r| r.decision.as_str() == "allowed").map(|r| r.tool.as_str()).collect();
    assert_eq!(allowed, ["web_search", "echo"], "only the calls that passed were audited as allowed");
    assert!(!format!("{audit:?}").contains(secret_query), "the audit kept the argument");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fronted_servers_call_that_breaks_a_rule_never_reaches_the_server() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let rules = ["fx_echo: text in [\"hello\", \"hi\"]", "fx_*: has text"];
    let token = grant_token(&mut g.vault(), &["fx_*"], &rules);
    let client = g.client(&token).await;
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "hi"})).await), "hi");
    let refused = call_tool(&client, "fx_echo", json!({"text": "rm -rf"})).await;
    assert!(is_error(&refused));
    assert_eq!(
        text(&refused),
        "refused by rule 1 `fx_echo: text in [\"hello\", \"hi\"]`: text is not one of the allowed values"
    );
    // The server's pattern rule covers its other tools; no arguments at all is an empty object.
    let missing = call_tool(&client, "fx_pid", json!(null)).await;
    assert_eq!(text(&missing), "refused by rule 2 `fx_*: has text`: text is missing");
    let audit = g.vault().audit_log().expect("audit");
    let forwarded: Vec<&str> =
        audit.iter().filter(|r| r.decision.as_str() == "allowed").map(|r| r.tool.as_str()).collect();
    assert_eq!(forwarded, ["fx_echo"], "a refused call was audited as allowed");
    assert_eq!(
        denied_statuses(&g.vault()),
        ["rule_failed: fx_echo: text in [\"hello\", \"hi\"]", "rule_failed: fx_*: has text"]
    );
}
