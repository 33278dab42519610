//! The loopback authorization server over real HTTP against a real vault: metadata,
//! registration, authorize, and the consent page with its CSRF/Origin defences. The token
//! endpoint's tests are in oauth_tokens.rs.

mod support;

#[path = "oauth/flow.rs"]
mod flow;

use std::time::Duration;

use flow::{OAuth, REDIRECT, VERIFIER, error_of, location};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_points_clients_at_this_server_for_the_origin_they_used() {
    let o = OAuth::start().await;
    let port = o.h.server.local_addr().port();
    let unauthorized = o.http.post(o.resource()).json(&json!({})).send().await.expect("post");
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    let challenge = unauthorized.headers()["www-authenticate"].to_str().expect("ascii").to_string();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource", o.origin());
    assert!(challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")), "{challenge}");

    let prm: Value = o.http.get(&metadata_url).send().await.expect("prm").json().await.expect("json");
    assert_eq!(prm["resource"], o.resource());
    assert_eq!(prm["authorization_servers"], json!([o.origin()]));
    let suffixed: Value =
        o.http.get(format!("{metadata_url}/mcp")).send().await.expect("prm").json().await.expect("json");
    assert_eq!(suffixed, prm);

    let as_url = format!("{}/.well-known/oauth-authorization-server", o.origin());
    let asm: Value = o.http.get(&as_url).send().await.expect("asm").json().await.expect("json");
    assert_eq!(asm["issuer"], o.origin());
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(asm["token_endpoint"], format!("{}/oauth/token", o.origin()));
    assert_eq!(asm["registration_endpoint"], format!("{}/oauth/register", o.origin()));
    assert_eq!(asm["token_endpoint_auth_methods_supported"], json!(["none"]));

    // A client that addressed `localhost` sees `localhost` throughout.
    let localhost = format!("http://localhost:{port}");
    let prm: Value = o
        .http
        .get(&metadata_url)
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .expect("prm")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (prm["resource"].clone(), prm["authorization_servers"].clone()),
        (json!(format!("{localhost}/mcp")), json!([localhost]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_validated_and_bounded() {
    let o = OAuth::start().await;
    let ok = o
        .register_raw(&json!({"client_name": "VS Code", "redirect_uris": [REDIRECT, "https://vscode.dev/redirect"],
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}))
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let body: Value = ok.json().await.expect("json");
    assert!(body["client_id"].as_str().is_some_and(|id| id.starts_with("kgclient_")));
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert!(body.get("client_secret").is_none(), "public clients get no secret");
    let asks_for_a_secret = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post"});
    let answer: Value = o.register_raw(&asks_for_a_secret).await.json().await.expect("json");
    assert_eq!((answer["token_endpoint_auth_method"].as_str(), answer.get("client_secret")), (Some("none"), None));

    let cases = [
        (json!({"redirect_uris": ["http://evil.example/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (json!({"client_name": "x"}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(101)}), "invalid_client_metadata"),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (body, expected) in cases {
        let response = o.register_raw(&body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(error_of(&answer), expected, "{body}: {answer}");
        assert!(answer["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let huge = json!({"redirect_uris": [REDIRECT], "client_name": "x", "padding": "p".repeat(20_000)});
    assert_eq!(o.register_raw(&huge).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_checks_client_and_redirect_before_answering_to_it() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    for (changes, why) in [
        (vec![("client_id", Some("kgclient_unknown"))], "unknown client"),
        (vec![("redirect_uri", Some("http://127.0.0.1:33418/callback/other"))], "unregistered redirect"),
        (vec![("redirect_uri", Some("http://127.0.0.1:33418/callback?x=1"))], "not an exact match"),
    ] {
        let response = o.authorize(&client, &changes).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
        assert!(response.headers().get("location").is_none(), "{why}: never redirected");
    }
    for (changes, expected) in [
        (vec![("code_challenge_method", Some("plain")), ("code_challenge", Some(VERIFIER))], "invalid_request"),
        (vec![("code_challenge", None)], "invalid_request"),
        (vec![("code_challenge_method", None)], "invalid_request"),
        (vec![("response_type", Some("token"))], "unsupported_response_type"),
        (vec![("resource", Some("https://api.example.com/mcp"))], "invalid_target"),
    ] {
        let response = o.authorize(&client, &changes).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{changes:?}");
        let back = url::Url::parse(&location(&response)).expect("url");
        assert!(back.as_str().starts_with(REDIRECT));
        let query: Vec<(String, String)> = back.query_pairs().into_owned().collect();
        assert!(query.contains(&("error".into(), expected.into())), "{changes:?}: {query:?}");
        assert!(query.contains(&("state".into(), "st4te".into())));
    }
    assert!(o.h.other_vault().list_pending_consents().expect("list").is_empty(), "no refused request waits");
    let request = o.pending(&client).await;
    let pending = o.h.other_vault().list_pending_consents().expect("list");
    let url = o.h.server.consent_url(&pending[0].id);
    assert_eq!(o.http.get(&url).send().await.expect("the tray's link").status(), StatusCode::OK, "{url}");
    assert_eq!(
        (pending.len(), pending[0].id.as_str(), pending[0].client_name.as_str()),
        (1, request.as_str(), "Cursor")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_page_escapes_the_client_and_cannot_be_framed() {
    let o = OAuth::start().await;
    let client = o.register("<script>alert(1)</script>\"Evil'").await;
    let request = o.pending(&client).await;
    let url = format!("{}/oauth/consent?request={request}", o.origin());
    let response = o.http.get(url).send().await.expect("page");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let csp = response.headers()["content-security-policy"].to_str().expect("ascii").to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{csp}");
    let page = response.text().await.expect("text");
    assert!(!page.contains("<script>"), "the name is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;Evil&#39;"));
    assert!(page.contains("web_search"), "the configured tools are offered");

    let (status, _) = o.consent_page("0000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    o.h.clock.advance(Duration::from_secs(5 * 60 + 1));
    let (status, page) = o.consent_page(&request).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a request waits a few minutes only");
    assert!(page.contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_needs_this_origin_the_csrf_token_of_that_request_and_a_post() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    let request = o.pending(&client).await;
    let other_request = o.pending(&client).await;
    let csrf = o.csrf(&request).await;
    let other_csrf = o.csrf(&other_request).await;
    let own = o.origin();
    let fields = |csrf: &str| -> Vec<(String, String)> {
        [
            ("request", request.as_str()),
            ("csrf", csrf),
            ("decision", "approve"),
            ("grant", ""),
            ("new_name", "cursor"),
            ("tool", "web_search"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let good = fields(&csrf);
    for (origin, fields, why) in [
        (None, fields(&csrf), "no Origin"),
        (Some("https://evil.example"), fields(&csrf), "another site"),
        (Some("http://localhost:3000"), fields(&csrf), "another loopback origin"),
        (Some("null"), fields(&csrf), "an opaque origin"),
        (Some(own.as_str()), fields(""), "no CSRF token"),
        (Some(own.as_str()), fields(&other_csrf), "the CSRF token of another request"),
        (Some(own.as_str()), fields(&"0".repeat(64)), "a forged CSRF token"),
    ] {
        let response = o.post_consent(origin, &as_refs(&fields)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{why}");
        assert!(response.headers().get("location").is_none(), "{why}");
    }
    // A browser's own signal of a cross-site request.
    let response = o
        .http
        .post(format!("{own}/oauth/consent"))
        .header("origin", &own)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(flow::serde_urlencoded(&as_refs(&good)))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // No approval by GET, whatever the query says.
    let query = flow::serde_urlencoded(&as_refs(&good));
    let response = o.http.get(format!("{own}/oauth/consent?{query}")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK, "a GET only shows the page");
    assert!(response.headers().get("location").is_none());
    assert_eq!(o.h.other_vault().list_pending_consents().expect("list").len(), 2, "nothing was answered");
    assert!(o.h.other_vault().grant("cursor").expect("grant").is_none(), "no grant was made");

    let response = o.post_consent(Some(&own), &as_refs(&good)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).contains("code="));
    let response = o.post_consent(Some(&own), &as_refs(&good)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "answered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_and_bad_grant_choices() {
    let o = OAuth::start().await;
    let client = o.register("Cursor").await;
    let request = o.pending(&client).await;
    let csrf = o.csrf(&request).await;
    let own = o.origin();
    let bad_name = [
        ("request", request.as_str()),
        ("csrf", &csrf),
        ("decision", "approve"),
        ("grant", ""),
        ("new_name", "Bad Name"),
        ("tool", "web_search"),
    ];
    let response = o.post_consent(Some(&own), &bad_name).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.expect("text").contains("invalid grant name"), "the page says what was wrong");
    let unknown = [("request", request.as_str()), ("csrf", &csrf), ("decision", "approve"), ("grant", "nope")];
    assert_eq!(o.post_consent(Some(&own), &unknown).await.status(), StatusCode::BAD_REQUEST);
    let deny = [("request", request.as_str()), ("csrf", &csrf), ("decision", "deny")];
    let response = o.post_consent(Some(&own), &deny).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert!(
        back.starts_with(REDIRECT) && back.contains("error=access_denied") && back.contains("state=st4te"),
        "{back}"
    );
}

fn as_refs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
