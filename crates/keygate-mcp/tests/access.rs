//! The access layer over raw HTTP: who gets 401, who gets 403, the resource metadata, sessions
//! bound to their token, and a flood of bad tokens that must not starve a good one.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Harness;

const ACCEPT: &str = "application/json, text/event-stream";

fn list_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
}

async fn post(h: &Harness, token: Option<&str>, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = h.http.clone().post(h.url()).header("accept", ACCEPT).json(&list_request());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("send")
}

/// `count` requests with well-formed, unknown tokens, all at once, as a flood arrives: far
/// faster than the failure bucket refills.
fn flood_of_bad_tokens(h: &Harness, count: usize) -> tokio::task::JoinSet<reqwest::Response> {
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..count {
        let bad = format!("kg_{:016x}_{}", i, "cd".repeat(32));
        let (url, client) = (h.url(), h.http.clone());
        flood.spawn(async move {
            let request = client.post(url).header("accept", ACCEPT).bearer_auth(bad).json(&list_request());
            request.send().await.expect("send")
        });
    }
    flood
}

fn assert_invalid_token(response: &reqwest::Response, why: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{why}: {challenge}");
    assert!(challenge.contains("resource_metadata=\"http://127.0.0.1:"), "{why}: {challenge}");
    // Refused before its body was read, the connection closes: the client is told so.
    let connection = response.headers().get("connection").and_then(|v| v.to_str().ok());
    assert_eq!(connection, Some("close"), "{why}: a refused request with a body must say the connection closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_unknown_expired_and_revoked_tokens_get_401() {
    let h = Harness::start().await;
    let (id, good) = h.token(&["web_search"]);
    assert_eq!(post(&h, Some(&good), &[]).await.status(), StatusCode::OK);

    assert_invalid_token(&post(&h, None, &[]).await, "missing");
    assert_invalid_token(&post(&h, Some("not-a-token"), &[]).await, "malformed");
    let wrong_secret = format!("{}{}", &good[..good.len() - 4], "0000");
    assert_invalid_token(&post(&h, Some(&wrong_secret), &[]).await, "wrong secret");
    let unknown = format!("kg_0123456789abcdef_{}", "ab".repeat(32));
    assert_invalid_token(&post(&h, Some(&unknown), &[]).await, "unknown");
    let basic = h.http.clone().post(h.url()).header("authorization", "Basic dXNlcjpwdw==").json(&list_request());
    let basic = basic.send().await;
    assert_invalid_token(&basic.expect("send"), "basic auth");

    h.other_vault().revoke_token(&id).expect("revoke");
    assert_invalid_token(&post(&h, Some(&good), &[]).await, "revoked");
    let (_, expiring) = h.token(&["web_search"]);
    h.clock.advance(Duration::from_secs(3601));
    assert_invalid_token(&post(&h, Some(&expiring), &[]).await, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_and_hosts_get_403() {
    let h = Harness::start().await;
    let (_, token) = h.token(&["web_search"]);
    let forbidden = [("origin", "https://evil.example"), ("origin", "null"), ("host", "evil.example:7447")];
    for (name, value) in forbidden {
        assert_eq!(post(&h, Some(&token), &[(name, value)]).await.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    for origin in ["http://localhost:3000", "http://127.0.0.1:8080"] {
        assert_eq!(post(&h, Some(&token), &[("origin", origin)]).await.status(), StatusCode::OK, "{origin}");
    }
    // Host and Origin are checked before the token: a rebinding page learns nothing.
    assert_eq!(post(&h, None, &[("origin", "https://evil.example")]).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_metadata_is_served_without_a_token() {
    let h = Harness::start().await;
    let url = format!("http://{}/.well-known/oauth-protected-resource", h.server.local_addr());
    let response = reqwest::get(&url).await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.expect("json");
    assert_eq!(metadata["resource"], h.url());
    assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cannot_change_its_token_or_outlive_it() {
    let h = Harness::start().await;
    let (owner_id, owner) = h.token(&["web_search"]);
    let (_, other) = h.token(&["web_search", "echo"]);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let response = h
        .http
        .clone()
        .post(h.url())
        .bearer_auth(&owner)
        .header("accept", ACCEPT)
        .json(&init)
        .send()
        .await
        .expect("initialize");
    assert_eq!(response.status(), StatusCode::OK);
    let session =
        response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("a session").to_string();
    let with_session = |token: String| {
        let (session, url, http) = (session.clone(), h.url(), h.http.clone());
        async move {
            http.post(url)
                .bearer_auth(token)
                .header("accept", ACCEPT)
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-06-18")
                .json(&list_request())
                .send()
                .await
                .expect("send")
        }
    };
    assert_invalid_token(&with_session(other).await, "another token on the session");
    assert_eq!(with_session(owner.clone()).await.status(), StatusCode::OK);
    assert_eq!(h.server.sessions_open(), 1);
    h.other_vault().revoke_token(&owner_id).expect("revoke");
    assert_invalid_token(&with_session(owner).await, "revoked owner");
    assert_eq!(h.server.sessions_open(), 0, "the session outlived its token");

    let (_, ender) = h.token(&["web_search"]);
    let response = h.http.post(h.url()).bearer_auth(&ender).header("accept", ACCEPT).json(&init).send().await;
    let ended = response.expect("initialize").headers().get("mcp-session-id").cloned().expect("a session");
    assert_eq!(h.server.sessions_open(), 1);
    let delete = h.http.delete(h.url()).bearer_auth(&ender).header("mcp-session-id", ended).send().await;
    // 204, not rmcp's 202: the official Python SDK takes anything else for a failure.
    assert_eq!(delete.expect("delete").status(), StatusCode::NO_CONTENT);
    assert_eq!(h.server.sessions_open(), 0, "an ended session is still bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_bad_tokens_does_not_starve_a_good_one() {
    let h = Harness::start().await;
    let (_, good) = h.token(&["web_search"]);
    assert_eq!(post(&h, Some(&good), &[]).await.status(), StatusCode::OK);
    let mut flood = flood_of_bad_tokens(&h, 300);
    let mut limited = 0;
    while let Some(answer) = flood.join_next().await {
        match answer.expect("join").status() {
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            status => assert_eq!(status, StatusCode::UNAUTHORIZED),
        }
    }
    assert!(limited > 100, "the flood was not limited ({limited} of 300)");
    for _ in 0..20 {
        assert_eq!(post(&h, Some(&good), &[]).await.status(), StatusCode::OK, "good token starved");
    }
}

/// Open a session with `token`; returns its id.
async fn open_session(h: &Harness, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let response = h.http.post(h.url()).bearer_auth(token).header("accept", ACCEPT).json(&init).send().await;
    let response = response.expect("initialize");
    response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("a session").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_foreign_token_sent_with_a_session_id_does_not_end_the_session() {
    let h = Harness::start().await;
    let (_, owner) = h.token(&["web_search"]);
    let (stranger_id, stranger) = h.token(&["web_search"]);
    let session = open_session(&h, &owner).await;
    let with_session = |token: String| {
        let request = h.http.post(h.url()).bearer_auth(token).header("accept", ACCEPT);
        let request = request.header("mcp-session-id", session.clone()).header("mcp-protocol-version", "2025-06-18");
        async move { request.json(&list_request()).send().await.expect("send") }
    };
    assert_invalid_token(&with_session("kg_0123456789abcdef_00".into()).await, "malformed");
    assert_invalid_token(&with_session(format!("kg_0123456789abcdef_{}", "ab".repeat(32))).await, "unknown");
    // A genuine token, refused (revoked), that is not the session's: the session stays.
    h.other_vault().revoke_token(&stranger_id).expect("revoke");
    assert_invalid_token(&with_session(stranger).await, "a revoked stranger");
    assert_eq!(h.server.sessions_open(), 1, "a stranger's refused token ended the session");
    assert_eq!(with_session(owner).await.status(), StatusCode::OK, "the owner lost the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_answers_429_with_retry_after_and_is_audited_in_a_few_rows() {
    let h = Harness::start().await;
    let mut flood = flood_of_bad_tokens(&h, 300);
    let mut limited = 0;
    while let Some(answer) = flood.join_next().await {
        let answer = answer.expect("join");
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            let retry_after = answer.headers().get("retry-after");
            let seconds = retry_after.and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            assert!(seconds.is_some_and(|s| (1..=60).contains(&s)), "429 without a usable Retry-After");
        }
    }
    assert!(limited > 100, "the flood was not limited ({limited} of 300)");
    let vault = h.other_vault();
    let support::Harness { server, dir: _dir, .. } = h;
    server.shutdown().await.expect("stop");
    let rows = vault.audit_log().expect("audit");
    let failures: Vec<_> =
        rows.iter().filter(|r| r.status.as_deref().is_some_and(|s| s.starts_with("auth_"))).collect();
    assert_eq!(failures.iter().map(|r| r.count).sum::<i64>(), 300, "{rows:?}");
    assert!(failures.len() <= 4, "{} rows for 300 failed authentications: {rows:?}", failures.len());
    assert!(failures.iter().all(|r| r.token_id.is_none() && r.decision == "denied"), "{rows:?}");
}

/// A session is ended after it idles, but not while it is busy with tool calls only: those are
/// answered without rmcp's session worker, whose own idle timer once ended such a session five
/// minutes after its last other message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_busy_with_tool_calls_stays_open_and_an_idle_one_ends() {
    let h = Harness::start().await;
    h.server.set_session_idle(Duration::from_millis(1500));
    let (_, token) = h.token(&["web_search"]);
    let (busy, idle) = (open_session(&h, &token).await, open_session(&h, &token).await);
    let send = |session: &str, body: Value| {
        let request = h.http.post(h.url()).bearer_auth(&token).header("accept", ACCEPT);
        let request = request.header("mcp-session-id", session).header("mcp-protocol-version", "2025-06-18");
        async move { request.json(&body).send().await.expect("send").status() }
    };
    for id in 1..=14 {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "web_search", "arguments": {"query": "keygate"}}});
        assert_eq!(send(&busy, call).await, StatusCode::OK, "call {id} in the busy session");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(h.server.fast_calls_served() >= 14, "the calls took the fast path, without rmcp's session worker");
    assert_eq!(send(&busy, list_request()).await, StatusCode::OK, "4 s of tool calls kept the session open");
    assert_eq!(send(&idle, list_request()).await, StatusCode::NOT_FOUND, "the idle session was ended");
    assert_eq!(h.server.sessions_open(), 1);
}
