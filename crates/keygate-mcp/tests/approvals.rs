//! Calls that wait for a person, end to end: rmcp's client over HTTP calls a tool that needs
//! approval; the call waits (listed for `keygate approvals`, progress sent to the agent) until
//! an answer (as `keygate approve`/`deny` give it), the timeout, or the agent's cancel; every
//! end is audited; "allow for 10 minutes" expires under the test clock.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keygate_mcp::{ApprovalDecision, Config, PendingApproval, decide_approval, pending_approvals};
use keygate_vault::{GrantRequest, StoredPolicy};
use rmcp::model::{CallToolRequest, ClientRequest, ProgressNotificationParam, RequestMetaObject, ServerResult};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestHandle, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use secrecy::ExposeSecret;
use serde_json::json;
use support::{Harness, call, config_text, free_port, is_error, text};

/// Counts the progress notifications the agent receives.
#[derive(Clone, Default)]
struct Agent(Arc<AtomicUsize>);

impl ClientHandler for Agent {
    async fn on_progress(&self, _params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The harness's tools plus `gated` (approve = true), and `extra` config.
async fn harness(extra: &str) -> Harness {
    let h = Harness::start().await;
    let gated = format!(
        "[[tool]]\nname = \"gated\"\ndescription = \"needs a person\"\ncredential = \"scavio_api_key\"\nmethod = \"POST\"\n\
         url = \"http://{}/search\"\ncredential_header = \"x-api-key\"\napprove = true\n\
         input_schema = {{ type = \"object\", properties = {{ query = {{ type = \"string\" }} }} }}\n\n",
        h.upstream.addr
    );
    let text = format!("{extra}\n{}{gated}", config_text(h.upstream.addr, free_port()));
    h.server.reload(Config::parse(&text, &h.home.config_path()).expect("config"));
    h
}

async fn agent(h: &Harness, token: &str) -> (RunningService<RoleClient, Agent>, Agent) {
    let counter = Agent::default();
    let config = StreamableHttpClientTransportConfig::with_uri(h.url()).auth_header(token.to_string());
    let client = counter.clone().serve(StreamableHttpClientTransport::from_config(config)).await.expect("connects");
    (client, counter)
}

/// Send a call with a progress token; its answer comes through the handle.
async fn send(
    client: &RunningService<RoleClient, Agent>,
    tool: &str,
    arguments: serde_json::Value,
) -> RequestHandle<RoleClient> {
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(call(tool, arguments)));
    let options = PeerRequestOptions::no_options().with_meta(RequestMetaObject::default());
    client.peer().send_request_with_option(request, options).await.expect("sent")
}

/// The one call waiting, once it is listed.
async fn waiting(home: &std::path::Path) -> PendingApproval {
    for _ in 0..100 {
        if let [one] = pending_approvals(home).expect("read the list").as_slice() {
            return one.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no call waited for approval");
}

async fn answer(h: &Harness, id: &str, allow: bool, for_secs: Option<u64>) {
    let decision = ApprovalDecision { allow, for_secs, by: "cli".into() };
    decide_approval(h.home.dir(), id, &decision).await.expect("the serving Keygate takes the answer");
}

fn result(reply: Result<ServerResult, rmcp::ServiceError>) -> rmcp::model::CallToolResult {
    match reply.expect("answered") {
        ServerResult::CallToolResult(result) => result,
        other => panic!("not a tool result: {other:?}"),
    }
}

/// (decision, status) of every audit row, oldest first.
fn audit_rows(h: &Harness) -> Vec<(String, Option<String>)> {
    let audit = h.other_vault().audit_log().expect("audit");
    audit.into_iter().map(|r| (r.decision, r.status)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_call_waits_with_progress_then_goes_ahead_and_a_denied_one_does_not() {
    let h = harness("").await;
    let (_, token) = h.token(&["gated", "web_search"]);
    let (client, progress) = agent(&h, &token).await;

    let handle = send(&client, "gated", json!({"query": "rust", "note": "x".repeat(300)})).await;
    let pending = waiting(h.home.dir()).await;
    assert_eq!((pending.tool.as_str(), pending.id.len()), ("gated", 8));
    assert!(pending.grant.starts_with("token "), "{pending:?}");
    assert!(pending.arguments.contains("\"query\": \"rust\"") && pending.arguments.contains('…'), "{pending:?}");
    assert!(pending.waiting_since.ends_with('Z'), "{pending:?}");
    assert_eq!(pending.timeout_secs, 60, "the default timeout");
    assert_eq!(h.hits(), 0, "nothing went upstream while waiting");
    answer(&h, &pending.id, true, None).await;
    let approved = result(handle.await_response().await);
    assert!(!is_error(&approved), "{}", text(&approved));
    assert_eq!(h.hits(), 1);
    assert!(progress.0.load(Ordering::SeqCst) >= 1, "no progress while waiting");
    assert!(pending_approvals(h.home.dir()).expect("list").is_empty());

    // A tool that needs no approval never waits.
    let plain = client.call_tool(call("web_search", json!({"query": "rust"}))).await.expect("call");
    assert!(!is_error(&plain));

    let handle = send(&client, "gated", json!({"query": "delete everything"})).await;
    let pending = waiting(h.home.dir()).await;
    answer(&h, &pending.id, false, None).await;
    let denied = result(handle.await_response().await);
    assert!(is_error(&denied));
    assert_eq!(text(&denied), "refused: the person denied this call (answered in the cli)");
    assert_eq!(h.hits(), 2, "a denied call went upstream");

    h.server.flush_audit().await;
    let rows = audit_rows(&h);
    let approval = |status: &str| ("approval".to_string(), Some(status.to_string()));
    assert_eq!(rows[0], approval("approved by cli"), "{rows:?}");
    assert_eq!(rows[1].0, "allowed", "the approved call's own row follows: {rows:?}");
    assert_eq!(rows.last(), Some(&approval("denied by cli")), "{rows:?}");
    let late = ApprovalDecision { allow: true, for_secs: None, by: "cli".into() };
    let unknown = decide_approval(h.home.dir(), &pending.id, &late).await.expect_err("no longer waiting");
    assert!(unknown.to_string().contains("is waiting for approval"), "{unknown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_within_the_timeout_is_a_deny_and_a_cancel_withdraws_the_request() {
    let h = harness("[approvals]\ntimeout_secs = 1\n").await;
    let (_, token) = h.token(&["gated"]);
    let (client, _) = agent(&h, &token).await;
    let timed_out = result(send(&client, "gated", json!({"query": "x"})).await.await_response().await);
    assert_eq!(
        text(&timed_out),
        "refused: nobody approved this call within 1s (ask the person to watch for Keygate's prompt)"
    );

    let h2 = harness("").await;
    let (_, token) = h2.token(&["gated"]);
    let (client, _) = agent(&h2, &token).await;
    let handle = send(&client, "gated", json!({"query": "x"})).await;
    waiting(h2.home.dir()).await;
    handle.cancel(Some("the user gave up".into())).await.expect("cancel sent");
    for _ in 0..100 {
        if pending_approvals(h2.home.dir()).expect("list").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pending_approvals(h2.home.dir()).expect("list").is_empty(), "the cancelled call still waits");
    assert_eq!((h.hits(), h2.hits()), (0, 0));
    let last = |h: &Harness| audit_rows(h).last().cloned();
    let timed_out = Some(("approval".into(), Some("denied: no answer within 1s".into())));
    assert_eq!(last(&h), timed_out, "audited before the agent got its answer");
    // The cancelled call leaves the waiting list, then audits how it ended.
    let withdrawn = Some(("approval".into(), Some("withdrawn: the agent cancelled".into())));
    for _ in 0..100 {
        if last(&h2) == withdrawn {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last(&h2), withdrawn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_for_ten_minutes_lets_the_same_grant_call_the_same_tool_until_the_clock_passes_it() {
    let h = harness("").await;
    // A grant created with --approve: every call under it waits, whatever the tool.
    let mut request = GrantRequest::new("ci-bot", vec!["web_search".into(), "echo".into()]);
    request.policy = StoredPolicy { allow: vec!["web_search: num_results <= 10".into()], approve: true };
    let mut vault = h.other_vault();
    vault.create_grant(&request).expect("grant");
    let token = vault.mint_grant_token("ci-bot").expect("mint").token.expose_secret().to_string();
    let (client, _) = agent(&h, &token).await;

    // A call the rules refuse is never put to the person.
    let refused = client.call_tool(call("web_search", json!({"query": "x", "num_results": 50}))).await.expect("call");
    assert!(text(&refused).starts_with("refused by rule 1"), "{}", text(&refused));

    let handle = send(&client, "web_search", json!({"query": "rust"})).await;
    let pending = waiting(h.home.dir()).await;
    assert_eq!(pending.grant, "ci-bot");
    answer(&h, &pending.id, true, Some(600)).await;
    assert!(!is_error(&result(handle.await_response().await)));
    // Within the window: no waiting at all (a second call answers without any answer given).
    let again = client.call_tool(call("web_search", json!({"query": "again"}))).await.expect("call");
    assert!(!is_error(&again), "{}", text(&again));
    // Another tool of the same grant still asks.
    let other = send(&client, "echo", json!({"query": "x"})).await;
    let pending = waiting(h.home.dir()).await;
    assert_eq!(pending.tool, "echo");
    answer(&h, &pending.id, false, None).await;
    assert!(is_error(&result(other.await_response().await)));

    h.clock.advance(Duration::from_secs(601));
    let after = send(&client, "web_search", json!({"query": "later"})).await;
    let pending = waiting(h.home.dir()).await;
    answer(&h, &pending.id, false, None).await;
    assert!(is_error(&result(after.await_response().await)), "the window outlived its 10 minutes");
    let statuses: Vec<String> =
        audit_rows(&h).into_iter().filter(|(d, _)| d == "approval").filter_map(|(_, s)| s).collect();
    assert_eq!(statuses, ["approved by cli for 600s", "denied by cli", "denied by cli"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_approve_patterns_hold_only_the_tools_they_match() {
    use support::gateway::{Gateway, fixture_server};
    let g = Gateway::start(&fixture_server("fx", "", "approve = [\"fx_ech*\"]")).await;
    let token = g.token(&["fx_*"]);
    let counter = Agent::default();
    let config = StreamableHttpClientTransportConfig::with_uri(g.server.url()).auth_header(token);
    let client = counter.serve(StreamableHttpClientTransport::from_config(config)).await.expect("connects");
    assert!(!text(&call_tool_agent(&client, "fx_pid").await).is_empty(), "fx_pid needs no approval");
    let handle = send(&client, "fx_echo", json!({"text": "hi"})).await;
    let pending = waiting(g.home.dir()).await;
    assert_eq!(pending.tool, "fx_echo");
    let decision = ApprovalDecision { allow: true, for_secs: None, by: "app".into() };
    decide_approval(g.home.dir(), &pending.id, &decision).await.expect("taken");
    assert_eq!(text(&result(handle.await_response().await)), "hi");
    let audit = g.vault().audit_log().expect("audit");
    let approval = audit.iter().find(|r| r.decision == "approval").expect("the approval audited");
    assert_eq!((approval.server.as_deref(), approval.status.as_deref()), (Some("fx"), Some("approved by app")));

    // A pattern that does not name the server's own tools is a config error.
    let bad = fixture_server("fx", "", "approve = [\"github_delete_*\"]");
    let text = format!("[listen]\nbind = \"127.0.0.1:0\"\n\n{bad}");
    let err = Config::parse(&text, std::path::Path::new("config.toml")).expect_err("foreign pattern");
    assert!(err.to_string().contains("approve pattern \"github_delete_*\" must name this server's tools"), "{err}");
}

async fn call_tool_agent(client: &RunningService<RoleClient, Agent>, name: &str) -> rmcp::model::CallToolResult {
    client.peer().call_tool(call(name, json!({}))).await.expect("answered")
}
