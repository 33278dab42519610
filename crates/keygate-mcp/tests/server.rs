//! The MCP server as an agent meets it: rmcp's own client over HTTP, a real vault file, and a
//! real upstream on 127.0.0.1 that checks the key it receives.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use keygate_vault::{Denial, TokenDecision};
use secrecy::SecretString;
use serde_json::json;
use support::{Harness, KEY_V1, KEY_V2, call, is_error, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lists_and_calls_only_its_tools_and_never_sees_the_key() {
    let h = Harness::start().await;
    let (id, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    let tools = client.list_all_tools().await.expect("list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["web_search"]);

    let result = client.call_tool(call("web_search", json!({"query": "rust"}))).await.expect("call");
    assert!(!is_error(&result), "{}", text(&result));
    let body = text(&result);
    assert!(body.contains("rust-lang.org"), "{body}");
    assert!(!body.contains(KEY_V1), "the key reached the agent");
    // The default from the schema was applied; the agent's token was not forwarded.
    let sent = h.upstream.seen.bodies.lock().expect("lock").last().cloned().expect("a body");
    assert_eq!(sent, json!({"query": "rust", "num_results": 5}));
    assert!(h.upstream.seen.authorization_headers.lock().expect("lock").is_empty(), "agent token forwarded");

    // The call answered first; its outcome is written behind it.
    h.server.flush_audit().await;
    let audit = h.other_vault().audit_log().expect("audit");
    let row = audit.last().expect("a row");
    assert_eq!((row.tool.as_str(), row.decision.as_str()), ("web_search", "allowed"));
    assert_eq!(row.token_id.as_deref(), Some(id.as_str()));
    assert_eq!((row.credential.as_deref(), row.credential_version), (Some("scavio_api_key"), Some(1)));
    assert_eq!(row.status.as_deref(), Some("200"));
    assert!(row.duration_ms.is_some());
    let listed = h.other_vault().list_tokens().expect("tokens");
    assert_eq!(listed[0].uses, 1);
    assert!(listed[0].last_used_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_and_unknown_tools_get_the_same_answer_and_nothing_goes_upstream() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    let out_of_scope = client.call_tool(call("echo", json!({"query": "x"}))).await.expect_err("out of scope");
    let unknown = client.call_tool(call("no_such_tool", json!({"query": "x"}))).await.expect_err("unknown");
    let shape = |e: &rmcp::ServiceError, name: &str| e.to_string().replace(name, "TOOL");
    assert_eq!(shape(&out_of_scope, "echo"), shape(&unknown, "no_such_tool"));
    assert_eq!(h.hits(), 0, "something was sent upstream");
    let statuses: Vec<Option<String>> =
        h.other_vault().audit_log().expect("audit").into_iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some("out_of_scope".into()), Some("unknown_tool".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_or_expired_token_stops_working_on_its_next_request_in_an_open_session() {
    let h = Harness::start().await;
    let (id, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    client.call_tool(call("web_search", json!({"query": "a"}))).await.expect("first call");
    h.other_vault().revoke_token(&id).expect("revoke");
    assert!(client.call_tool(call("web_search", json!({"query": "b"}))).await.is_err(), "revoked token still works");
    assert!(client.list_all_tools().await.is_err());
    assert_eq!(h.hits(), 1);

    let (_, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    client.call_tool(call("web_search", json!({"query": "a"}))).await.expect("call before expiry");
    h.clock.advance(Duration::from_secs(3601));
    assert!(client.call_tool(call("web_search", json!({"query": "b"}))).await.is_err(), "expired token still works");
    assert_eq!(h.hits(), 2);
    let decision = h.other_vault().check_token(&token, None).expect("check");
    assert!(matches!(decision, TokenDecision::Denied { reason: Denial::Expired, .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_key_takes_effect_on_the_next_call_without_a_restart() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    assert!(!is_error(&client.call_tool(call("web_search", json!({"query": "a"}))).await.expect("v1")));
    *h.upstream.expected_key.lock().expect("lock") = KEY_V2.to_string();
    let stale = client.call_tool(call("web_search", json!({"query": "b"}))).await.expect("stale key call");
    assert!(is_error(&stale) && text(&stale).contains("401"), "{}", text(&stale));
    h.other_vault().rotate_credential("scavio_api_key", &SecretString::from(KEY_V2)).expect("rotate");
    let fresh = client.call_tool(call("web_search", json!({"query": "c"}))).await.expect("v2");
    assert!(!is_error(&fresh), "{}", text(&fresh));
    let audit = h.other_vault().audit_log().expect("audit");
    assert_eq!(audit.last().and_then(|r| r.credential_version), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_are_tool_errors_and_the_server_keeps_serving() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["down", "slow", "away", "echo", "web_search", "no_key"]);
    let client = h.client(&token).await;

    let down = client.call_tool(call("down", json!({"query": "x"}))).await.expect("down answers");
    assert!(is_error(&down) && !text(&down).is_empty());
    let slow = client.call_tool(call("slow", json!({"query": "x"}))).await.expect("slow answers");
    assert!(is_error(&slow) && text(&slow).to_lowercase().contains("time"), "{}", text(&slow));
    let away = client.call_tool(call("away", json!({"query": "x"}))).await.expect("redirect answers");
    assert!(is_error(&away), "{}", text(&away));
    assert_eq!(h.upstream.seen.other_host_hits.load(Ordering::SeqCst), 0, "credential followed a redirect");
    let echo = client.call_tool(call("echo", json!({"query": "x"}))).await.expect("echo answers");
    assert!(!text(&echo).contains(KEY_V1) && text(&echo).contains("[redacted]"), "{}", text(&echo));
    let missing = client.call_tool(call("no_key", json!({"query": "x"}))).await.expect("missing key answers");
    assert!(is_error(&missing) && text(&missing).contains("keygate cred add missing_key"), "{}", text(&missing));

    let ok = client.call_tool(call("web_search", json!({"query": "still here"}))).await.expect("still serving");
    assert!(!is_error(&ok), "{}", text(&ok));
    h.server.flush_audit().await;
    let statuses: Vec<String> =
        h.other_vault().audit_log().expect("audit").into_iter().map(|r| r.status.unwrap_or_default()).collect();
    assert_eq!(statuses, ["upstream_error", "upstream_error", "upstream_error", "200", "missing_credential", "200"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_that_break_the_schema_are_refused_before_anything_is_sent() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    for bad in [json!({}), json!({"query": 7}), json!({"query": "x", "num_results": "many"})] {
        let result = client.call_tool(call("web_search", bad.clone())).await.expect("answers");
        assert!(is_error(&result) && text(&result).contains("invalid arguments"), "{bad}: {}", text(&result));
    }
    assert_eq!(h.hits(), 0);
    let denied = h.other_vault().audit_log().expect("audit");
    assert!(denied.iter().all(|r| r.decision == "denied" && r.status.as_deref() == Some("invalid_arguments")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_cannot_be_audited_is_refused() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let client = h.client(&token).await;
    let blocker = rusqlite::Connection::open(h.home.vault_path()).expect("open file");
    blocker
        .execute_batch(
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit disabled'); END;",
        )
        .expect("trigger");
    let result = client.call_tool(call("web_search", json!({"query": "x"}))).await.expect("answers");
    assert!(is_error(&result) && text(&result).contains("could not be audited"), "{}", text(&result));
    assert_eq!(h.hits(), 0, "an unaudited call went upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_with_and_without_sessions_and_every_protocol_version_work() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    // No initialize, no session: plain JSON-RPC over POST.
    let response = h.raw_search(&token, 1, "raw").send().await.expect("send");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["result"]["isError"], false, "{body}");

    // The newest protocol has no initialize and no session.
    use rmcp::ClientServiceExt as _;
    let config = rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(h.url())
        .auth_header(&token);
    let lifecycle = rmcp::service::ClientLifecycleMode::Discover {
        preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
    };
    let client =
        ().serve_with_lifecycle(rmcp::transport::StreamableHttpClientTransport::from_config(config), lifecycle)
            .await
            .expect("discover client connects");
    let result = client.call_tool(call("web_search", json!({"query": "new"}))).await.expect("call");
    assert!(!is_error(&result));
    // And the session-keeping client (initialize, 2025-11-25) is covered by every other test.
    assert_eq!(h.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_in_one_session_all_complete() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let client = std::sync::Arc::new(h.client(&token).await);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..16 {
        let client = client.clone();
        calls.spawn(async move { client.call_tool(call("web_search", json!({"query": format!("q{i}")}))).await });
    }
    let all = tokio::time::timeout(Duration::from_secs(20), async {
        let mut ok = 0;
        while let Some(result) = calls.join_next().await {
            let result = result.expect("join").expect("call");
            assert!(!is_error(&result), "{}", text(&result));
            ok += 1;
        }
        ok
    })
    .await
    .expect("parallel calls in one session hung");
    assert_eq!(all, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_writes_the_outcome_of_every_answered_call() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..8 {
        let request = h.raw_search(&token, i, &format!("q{i}"));
        calls
            .spawn(async move { request.send().await.expect("send").json::<serde_json::Value>().await.expect("json") });
    }
    while let Some(body) = calls.join_next().await {
        let body = body.expect("join");
        assert_eq!(body["result"]["isError"], false, "{body}");
    }
    let vault = h.other_vault();
    h.server.shutdown().await.expect("stops");
    let audit = vault.audit_log().expect("audit");
    assert_eq!(audit.len(), 8);
    assert!(audit.iter().all(|r| r.status.as_deref() == Some("200") && r.duration_ms.is_some()), "{audit:?}");
    assert_eq!(vault.list_tokens().expect("tokens")[0].uses, 8);
}

/// Agents are answered on the server's own thread, not by the runtime that started it (the
/// app's, busy with its own work): a call is served while that runtime stands still, and its
/// outcome is written once it runs again.
#[test]
fn a_call_is_answered_while_the_runtime_that_started_the_server_stands_still() {
    let runtime = |builder: &mut tokio::runtime::Builder| builder.enable_all().build().expect("runtime");
    // The upstream and the agent run elsewhere, on threads of their own.
    let elsewhere = runtime(tokio::runtime::Builder::new_multi_thread().worker_threads(1));
    let starter = runtime(&mut tokio::runtime::Builder::new_current_thread());
    let upstream = elsewhere.block_on(support::start_upstream());
    let (home, config, vault) = support::ServingHome::new(upstream.addr);
    let server = starter.block_on(keygate_mcp::start(config, vault, None)).expect("server starts");
    let h = home.harness(upstream, server);
    let (_, token) = h.token(&["web_search"]);

    // From here nothing runs `starter` until the call is answered.
    let request = h.raw_search(&token, 1, "rust");
    let answer = elsewhere.block_on(async {
        let sent = tokio::time::timeout(Duration::from_secs(20), request.send()).await;
        sent.expect("no answer while the starting runtime stood still").expect("send").text().await.expect("body")
    });
    assert!(answer.contains("rust-lang.org") && answer.contains(r#""isError":false"#), "{answer}");

    let vault = h.other_vault();
    starter.block_on(h.server.shutdown()).expect("stops");
    let audit = vault.audit_log().expect("audit");
    let statuses: Vec<Option<&str>> = audit.iter().map(|row| row.status.as_deref()).collect();
    assert_eq!(statuses, [Some("200")], "{audit:?}");
}
