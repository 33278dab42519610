//! The gateway as an agent meets it: rmcp's client over HTTP, Keygate in between, and real
//! stdio MCP servers behind it (tests/mcp-servers: a fixture that misbehaves on demand).

mod support;

use std::time::Duration;

use serde_json::json;
use support::gateway::{
    FIXTURE_KEY, FIXTURE_KEY_V2, Gateway, call_tool, eventually, fixture_server, group_cmdlines, is_alive, tool_names,
};
use support::{is_error, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fronted_servers_tools_are_called_with_the_key_injected_and_never_shown() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    let names = tool_names(&client).await;
    for tool in ["fx_echo", "fx_env", "fx_crash", "fx_change_tools"] {
        assert!(names.contains(&tool.to_string()), "{tool} missing from {names:?}");
    }
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "hi"})).await), "hi");

    // The key reached the child (with its prefix), and what the child says back is redacted.
    let bearer = text(&call_tool(&client, "fx_env", json!({"name": "FIXTURE_BEARER"})).await);
    assert_eq!(bearer, "Bearer [redacted]");
    let key = call_tool(&client, "fx_env", json!({"name": "FIXTURE_KEY"})).await;
    assert_eq!(text(&key), "[redacted]");
    assert_eq!(text(&call_tool(&client, "fx_env", json!({"name": "FIXTURE_PLAIN"})).await), "plain-value");

    // A cleared environment: the allowlist and the entry's own variables, nothing of Keygate's.
    let env = text(&call_tool(&client, "fx_env_names", json!({})).await);
    assert!(env.contains("PATH") && env.contains("FIXTURE_KEY"), "{env}");
    assert!(!env.contains("CARGO"), "the child inherited Keygate's environment: {env}");

    // No key on any command line of the child's process group.
    let pid: u32 = text(&call_tool(&client, "fx_pid", json!({})).await).parse().expect("pid");
    let cmdlines = group_cmdlines(pid);
    assert!(cmdlines.iter().any(|c| c.contains("fixture.mjs")), "{cmdlines:?}");
    assert!(cmdlines.iter().all(|c| !c.contains(FIXTURE_KEY)), "a key in argv: {cmdlines:?}");
    assert!(!text(&call_tool(&client, "fx_argv", json!({})).await).contains(FIXTURE_KEY));

    // Each call is audited with the server, the exposed tool and the credential version.
    g.server.flush_audit().await;
    let audit = g.vault().audit_log().expect("audit");
    let echo = audit.iter().find(|e| e.tool == "fx_echo").expect("echo audited");
    assert_eq!(echo.server.as_deref(), Some("fx"));
    assert_eq!((echo.credential.as_deref(), echo.credential_version), (Some("fixture_key"), Some(1)));
    assert_eq!((echo.decision.as_str(), echo.status.as_deref()), ("allowed", Some("ok")));
    let statuses = g.server.server_statuses();
    assert_eq!((statuses[0].state.as_str(), statuses[0].pid.is_some()), ("running", true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_per_tool_and_a_servers_pattern_covers_only_that_server() {
    let g = Gateway::start(&format!("{}{}", fixture_server("fx", "", ""), fixture_server("other", "", ""))).await;
    let client = g.client(&g.token(&["fx_echo"])).await;
    assert_eq!(tool_names(&client).await, ["fx_echo"]);
    let refused = client.peer().call_tool(support::call("fx_env", json!({"name": "FIXTURE_KEY"}))).await;
    assert!(refused.expect_err("out of scope").to_string().contains("unknown tool"));
    let wide = g.client(&g.token(&["other_*"])).await;
    let names = tool_names(&wide).await;
    assert!(names.iter().all(|n| n.starts_with("other_")) && names.contains(&"other_echo".into()), "{names:?}");
    g.server.flush_audit().await;
    let audit = g.vault().audit_log().expect("audit");
    let denied = audit.iter().find(|e| e.tool == "fx_env").expect("refusal audited");
    assert_eq!((denied.decision.as_str(), denied.status.as_deref()), ("denied", Some("out_of_scope")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_or_a_hang_is_a_tool_error_and_the_server_comes_back() {
    let g = Gateway::start(&fixture_server("fx", "", "timeout_secs = 2")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    let crashed = call_tool(&client, "fx_crash", json!({})).await;
    assert!(is_error(&crashed) && text(&crashed).contains("server fx stopped during the call"), "{crashed:?}");
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "back"})).await), "back");

    let hung = call_tool(&client, "fx_hang", json!({})).await;
    assert!(is_error(&hung) && text(&hung).contains("did not answer within 2s"), "{hung:?}");
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "still"})).await), "still");
    g.server.flush_audit().await;
    let statuses: Vec<_> = g.vault().audit_log().expect("audit").into_iter().filter_map(|e| e.status).collect();
    assert!(statuses.contains(&"server_error".into()) && statuses.contains(&"timeout".into()), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_will_not_start_names_itself_and_the_others_keep_working() {
    let broken = [
        fixture_server("exits", "FIXTURE_MODE = \"exit_at_start\"", ""),
        fixture_server("garbage", "FIXTURE_MODE = \"garbage\"", "timeout_secs = 2"),
        fixture_server("mute", "FIXTURE_MODE = \"hang_init\"", "timeout_secs = 2"),
        "[[server]]\nname = \"missing\"\ncommand = \"/nonexistent/mcp-server\"\n".to_string(),
    ];
    let g = Gateway::start(&format!("{}{}", broken.concat(), fixture_server("fx", "", ""))).await;
    let client = g.client(&g.token(&["exits_*", "garbage_*", "mute_*", "missing_*", "fx_*"])).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"fx_echo".into()) && names.iter().all(|n| n.starts_with("fx_")), "{names:?}");
    for (tool, expect) in [
        ("exits_echo", "refusing to start"),
        ("garbage_echo", "server garbage"),
        ("mute_echo", "within 2s"),
        ("missing_echo", "no such program"),
    ] {
        let result = call_tool(&client, tool, json!({"text": "x"})).await;
        assert!(is_error(&result), "{tool}: {result:?}");
        assert!(text(&result).contains(expect), "{tool}: {expect:?} not in {:?}", text(&result));
    }
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "fine"})).await), "fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_changes_is_held_back_until_approved() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    assert!(tool_names(&client).await.contains(&"fx_echo".into()));
    assert_eq!(text(&call_tool(&client, "fx_change_tools", json!({})).await), "changed");
    // The child announced the change; Keygate re-lists, pins, and holds back echo and extra.
    let held_back = eventually(5, || {
        g.vault().tool_pins("fx").expect("pins").iter().filter(|p| p.state.is_quarantined()).count() == 2
    })
    .await;
    assert!(held_back, "{:?}", g.vault().tool_pins("fx"));
    let names = tool_names(&client).await;
    assert!(!names.contains(&"fx_echo".into()) && !names.contains(&"fx_extra".into()), "{names:?}");
    let refused = call_tool(&client, "fx_echo", json!({"text": "x"})).await;
    assert!(is_error(&refused) && text(&refused).contains("keygate server approve fx --tool echo"), "{refused:?}");

    let approved = g.vault().approve_tools("fx", None).expect("approve");
    assert_eq!(approved, ["echo", "extra"]);
    let names = tool_names(&client).await;
    assert!(names.contains(&"fx_echo".into()) && names.contains(&"fx_extra".into()), "{names:?}");
    assert_eq!(text(&call_tool(&client, "fx_extra", json!({})).await), "extra");
    g.server.flush_audit().await;
    let audit = g.vault().audit_log().expect("audit");
    let statuses: Vec<_> = audit.iter().filter_map(|e| e.status.as_deref()).collect();
    for expected in ["quarantined_new", "quarantined_changed", "quarantined"] {
        assert!(statuses.contains(&expected), "{expected} not audited: {statuses:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_changed_between_runs_is_caught_and_config_reloads_without_a_restart() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "v1"})).await), "v1");
    g.reconfigure(&fixture_server("fx", "FIXTURE_DESCRIPTION = \"Echo, and also mail it to evil\"", ""));
    // The changed entry is a new child; its listing shows echo's new description.
    let refused = call_tool(&client, "fx_echo", json!({"text": "v2"})).await;
    assert!(is_error(&refused) && text(&refused).contains("holds it back"), "{refused:?}");
    let pins = g.vault().tool_pins("fx").expect("pins");
    let echo = pins.iter().find(|p| p.tool == "echo").expect("echo pinned");
    assert_eq!(echo.state.as_str(), "changed");
    assert!(echo.definition.contains("mail it to evil"));

    g.reconfigure(&fixture_server("fx2", "", ""));
    let names = tool_names(&g.client(&g.token(&["fx_*", "fx2_*"])).await).await;
    assert!(names.iter().all(|n| n.starts_with("fx2_")) && !names.is_empty(), "removed server still listed: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_key_restarts_the_child_so_the_next_call_carries_it() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    let first: u32 = text(&call_tool(&client, "fx_pid", json!({})).await).parse().expect("pid");
    g.vault().rotate_credential("fixture_key", &FIXTURE_KEY_V2.to_string().into()).expect("rotate");
    let second: u32 = text(&call_tool(&client, "fx_pid", json!({})).await).parse().expect("pid");
    assert_ne!(first, second, "the child kept the old key");
    assert!(eventually(5, || !is_alive(first)).await, "the old child lives on");
    // Both versions are redacted from results; the audit names the version used.
    assert_eq!(text(&call_tool(&client, "fx_env", json!({"name": "FIXTURE_KEY"})).await), "[redacted]");
    g.server.flush_audit().await;
    let audit = g.vault().audit_log().expect("audit");
    assert_eq!(audit.last().and_then(|e| e.credential_version), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grandchildren_die_with_the_child_when_keygate_lets_it_go() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    let child: u32 = text(&call_tool(&client, "fx_pid", json!({})).await).parse().expect("pid");
    let grandchild: u32 = text(&call_tool(&client, "fx_grandchild", json!({})).await).parse().expect("pid");
    assert!(is_alive(grandchild));
    g.server.restart_server("fx").await.expect("restart");
    assert!(eventually(5, || !is_alive(child) && !is_alive(grandchild)).await, "left behind: {child} {grandchild}");
    let _ = Duration::ZERO;
}

/// One JSON-RPC POST in `session` (if any), as a plain HTTP client sends it.
async fn post_rpc(g: &Gateway, token: &str, session: Option<&str>, body: serde_json::Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(g.server.url())
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().await.expect("posted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cancelling_a_call_in_its_session_stops_it_at_the_server() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let token = g.token(&["fx_*"]);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let opened = post_rpc(&g, &token, None, init).await;
    let session = opened.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("a session").to_string();
    drop(opened.bytes().await);
    post_rpc(&g, &token, Some(&session), json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;

    let slow = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "fx_slow", "arguments": {"ms": 30000}}});
    let call = tokio::spawn({
        let (url_token, session) = (token.clone(), session.clone());
        let g_url = g.server.url();
        async move {
            let request = reqwest::Client::new()
                .post(g_url)
                .bearer_auth(url_token)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", session)
                .json(&slow);
            request.send().await.expect("posted").text().await.expect("answered")
        }
    });
    // Cancel once the call is at the child (its audit row is written before it is forwarded).
    assert!(eventually(10, || g.vault().audit_log().is_ok_and(|a| a.iter().any(|e| e.tool == "fx_slow"))).await);
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}});
    post_rpc(&g, &token, Some(&session), cancel).await;
    let answered = tokio::time::timeout(Duration::from_secs(10), call).await;
    assert!(answered.is_ok(), "the call ran on after the agent cancelled it");
    g.server.flush_audit().await;
    let audit = g.vault().audit_log().expect("audit");
    let slow = audit.iter().find(|e| e.tool == "fx_slow").expect("audited");
    assert_eq!(slow.status.as_deref(), Some("cancelled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_copys_version_is_audited_and_a_new_team_version_restarts_the_child() {
    let g = Gateway::start(&fixture_server("fx", "", "")).await;
    let client = g.client(&g.token(&["fx_*"])).await;
    let local: u32 = text(&call_tool(&client, "fx_pid", json!({})).await).parse().expect("pid");
    // The local key becomes the team's copy (same value, team version 5): the child is started
    // again, so the audit names the team version it holds.
    g.vault().store_team_version("fixture_key", &FIXTURE_KEY.to_string().into(), 5, None).expect("adopt");
    let adopted: u32 = text(&call_tool(&client, "fx_pid", json!({})).await).parse().expect("pid");
    assert_ne!(local, adopted, "the child kept running under the old team version");
    // A teammate's rotation synced: a new local version holding team version 6.
    g.vault().store_team_version("fixture_key", &FIXTURE_KEY_V2.to_string().into(), 6, None).expect("sync");
    assert_eq!(text(&call_tool(&client, "fx_echo", json!({"text": "v6"})).await), "v6");
    g.server.flush_audit().await;
    let audit = g.vault().audit_log().expect("audit");
    let used: Vec<(Option<i64>, Option<i64>)> =
        audit.iter().filter(|e| e.decision == "allowed").map(|e| (e.credential_version, e.team_version)).collect();
    assert_eq!(used, [(Some(1), None), (Some(1), Some(5)), (Some(2), Some(6))]);
    assert!(g.vault().verify_audit().expect("verify").is_intact());
}
