//! The token endpoint over real HTTP against a real vault: codes bound and single use, refresh
//! rotation, a replay revoking the family, revoking the grant, and an MCP session carried
//! across a refresh.

mod support;

#[path = "oauth/flow.rs"]
mod flow;

use flow::{OAuth, REDIRECT, VERIFIER, error_of};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_single_use_and_bound_to_verifier_redirect_and_client() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    let other_client = o.register("Other").await;

    let code = o.approve_new(&o.pending(&client).await, "cursor", &["web_search"]).await;
    let (status, body) = o.redeem(&client, &code, &"x".repeat(43), REDIRECT).await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "wrong verifier");
    let (status, _) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a code presented once is used up");

    let code = o.approve_existing(&o.pending(&client).await, "cursor").await;
    let (status, body) = o.redeem(&client, &code, VERIFIER, "http://127.0.0.1:33418/other").await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "wrong redirect");

    let code = o.approve_existing(&o.pending(&client).await, "cursor").await;
    let (status, body) = o.redeem(&other_client, &code, VERIFIER, REDIRECT).await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "another client");

    let code = o.approve_existing(&o.pending(&client).await, "cursor").await;
    let (status, body) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 14 * 60 && s <= 15 * 60), "{body}");
    let access = body["access_token"].as_str().expect("access").to_string();
    assert_eq!(o.mcp_status(&access).await, StatusCode::OK);

    // The same code again: refused, and the sign-in it started is revoked.
    let (status, _) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(o.mcp_status(&access).await, StatusCode::UNAUTHORIZED);
    let (status, body) = o.token(&[("grant_type", "password"), ("client_id", &client)]).await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "unsupported_grant_type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_reuse_revokes_the_family_and_grant_revocation_ends_everything() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    let code = o.approve_new(&o.pending(&client).await, "cursor", &["web_search"]).await;
    let (_, first) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    let first_refresh = first["refresh_token"].as_str().expect("refresh").to_string();
    let (status, second) = o.refresh(&client, &first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().expect("refresh").to_string();
    assert_ne!(first_refresh, second_refresh, "rotated");
    let second_access = second["access_token"].as_str().expect("access").to_string();
    assert_eq!(o.mcp_status(&second_access).await, StatusCode::OK);

    let (status, body) = o.refresh(&client, &first_refresh).await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "replayed");
    assert_eq!(o.mcp_status(&second_access).await, StatusCode::UNAUTHORIZED, "the family's access tokens die");
    let (status, _) = o.refresh(&client, &second_refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "and its newest refresh token");

    // A new sign-in under the same grant, then the grant is revoked.
    let code = o.approve_existing(&o.pending(&client).await, "cursor").await;
    let (_, tokens) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    let access = tokens["access_token"].as_str().expect("access").to_string();
    assert_eq!(o.mcp_status(&access).await, StatusCode::OK);
    o.h.other_vault().revoke_grant("cursor").expect("revoke");
    assert_eq!(o.mcp_status(&access).await, StatusCode::UNAUTHORIZED);
    let (status, body) = o.refresh(&client, tokens["refresh_token"].as_str().expect("refresh")).await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_goes_on_across_a_refresh_but_not_with_another_grants_token() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    let code = o.approve_new(&o.pending(&client).await, "cursor", &["web_search"]).await;
    let (_, first) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let opened = o
        .http
        .post(o.resource())
        .bearer_auth(first["access_token"].as_str().expect("access"))
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .expect("initialize");
    let session = opened.headers()["mcp-session-id"].to_str().expect("session").to_string();
    let list = |token: String| {
        let (http, url, session) = (o.http.clone(), o.resource(), session.clone());
        async move {
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
            http.post(url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-06-18")
                .json(&body)
                .send()
                .await
                .expect("list")
                .status()
        }
    };
    let mut vault = o.h.other_vault();
    vault.create_grant(&keygate_vault::GrantRequest::new("other", vec!["web_search".into()])).expect("grant");
    let other_grant = vault.mint_grant_token("other").expect("mint");
    let (_, plain) = o.h.token(&["web_search"]);
    assert_eq!(
        list(secrecy::ExposeSecret::expose_secret(&other_grant.token).to_string()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(list(plain).await, StatusCode::UNAUTHORIZED);

    let (_, second) = o.refresh(&client, first["refresh_token"].as_str().expect("refresh")).await;
    let second_access = second["access_token"].as_str().expect("access").to_string();
    assert_eq!(list(second_access.clone()).await, StatusCode::OK, "the refreshed token carries the session on");
    assert_eq!(o.h.server.sessions_open(), 1);
    // A replay revokes the family: the session ends with its token.
    let (status, _) = o.refresh(&client, first["refresh_token"].as_str().expect("refresh")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(list(second_access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(o.h.server.sessions_open(), 0, "the session outlived its sign-in");
}

/// A row of the authorization server changed in vault.db without the master key: the token
/// endpoint refuses the refresh token naming it (not "retry later"), the authorize page
/// refuses a client whose redirect URIs were changed, and neither is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_oauth_rows_are_refused_by_name_over_http() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    let code = o.approve_new(&o.pending(&client).await, "cursor", &["web_search"]).await;
    let (_, tokens) = o.redeem(&client, &code, VERIFIER, REDIRECT).await;
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh").to_string();
    let raw = rusqlite::Connection::open(o.h.home.vault_path()).expect("open vault.db");
    // Push the refresh token's expiry out by a year.
    raw.execute("UPDATE oauth_refresh SET expires_at = expires_at + 31536000000", []).expect("edit");
    let (status, body) = o.refresh(&client, &refresh_token).await;
    assert_eq!((status, error_of(&body)), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let description = body["error_description"].as_str().expect("description");
    assert!(description.starts_with("OAuth refresh token ") && description.contains("keygate doctor"), "{body}");
    raw.execute("UPDATE oauth_refresh SET expires_at = expires_at - 31536000000", []).expect("undo");
    let (status, body) = o.refresh(&client, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "the refusal did not use it up: {body}");

    raw.execute("UPDATE oauth_client SET redirect_uris = '[\"http://127.0.0.1:9/steal\"]'", []).expect("edit");
    let response = o.authorize(&client, &[("redirect_uri", Some("http://127.0.0.1:9/steal"))]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("location").is_none(), "nothing is sent to the changed redirect URI");
    let page = response.text().await.expect("page");
    assert!(page.contains(&format!("OAuth client {client}")), "{page}");
}
