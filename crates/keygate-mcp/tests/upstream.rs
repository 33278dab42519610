//! Upstream calls against real HTTP servers on 127.0.0.1: the key goes only where configured,
//! arguments never move the request, redirects stay on the origin, replies are capped and redacted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use keygate_mcp::{Config, ToolConfig, Upstream, UpstreamError, UpstreamReply};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

const KEY: &str = "sk-test-0123456789abcdef";

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

/// A tool built through the public config parser; `extra` adds lines such as a prefix or timeout.
fn tool(method: &str, url: &str, header: &str, extra: &str) -> ToolConfig {
    let text = format!(
        r#"
[[tool]]
name = "t"
description = "test tool"
credential = "test-key"
method = "{method}"
url = "{url}"
credential_header = "{header}"
{extra}
input_schema = {{ type = "object" }}
"#
    );
    let config = Config::parse(&text, Path::new("test.toml")).expect("valid test config");
    config.tool("t").expect("tool t").clone()
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

async fn call(tool: &ToolConfig, key: &str, arguments: Value) -> Result<UpstreamReply, UpstreamError> {
    let upstream = Upstream::new().expect("client");
    upstream.call(tool, &SecretString::from(key), &args(arguments)).await
}

fn json_body(reply: &UpstreamReply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {}", reply.body))
}

/// Echo what the request carried, except the key itself: only whether the expected key arrived.
async fn echo(headers: HeaderMap, request: Request) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.expect("request body");
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "host": text(header::HOST),
        "content_type": text(header::CONTENT_TYPE),
        "user_agent": text(header::USER_AGENT),
        "x_api_key_ok": headers.get("x-api-key").is_some_and(|v| v == KEY),
        "authorization_ok": headers.get(header::AUTHORIZATION).is_some_and(|v| *v == *format!("Bearer {KEY}")),
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

fn assert_no_key(error: &UpstreamError) {
    let text = format!("{error} {error:?}");
    assert!(!text.contains(KEY), "error shows the key: {text}");
}

#[tokio::test]
async fn post_sends_json_body_and_key_in_configured_header() {
    let base = serve(Router::new().route("/v1/search", post(echo))).await;
    let tool = tool("POST", &format!("{base}/v1/search"), "X-Api-Key", "");
    let reply = call(&tool, KEY, json!({"q": "rust", "limit": 3, "tags": ["a", "b"]})).await.expect("reply");
    assert_eq!(reply.status, 200);
    let seen = json_body(&reply);
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/v1/search");
    assert_eq!(seen["x_api_key_ok"], true);
    assert_eq!(seen["content_type"], "application/json");
    let sent: Value = serde_json::from_str(seen["body"].as_str().expect("body text")).expect("JSON body");
    assert_eq!(sent, json!({"q": "rust", "limit": 3, "tags": ["a", "b"]}));
    assert!(seen["user_agent"].as_str().is_some_and(|ua| ua.starts_with("keygate/")), "{seen}");
}

#[tokio::test]
async fn get_puts_arguments_in_the_query_after_the_configured_one() {
    async fn pairs(Query(pairs): Query<Vec<(String, String)>>, request: Request) -> Response {
        let ok = request.headers().get("x-api-key").is_some_and(|v| v == KEY);
        axum::Json(json!({"pairs": pairs, "path": request.uri().path(), "key_ok": ok})).into_response()
    }
    let base = serve(Router::new().route("/v1/items", get(pairs))).await;
    let tool = tool("GET", &format!("{base}/v1/items?fixed=1&lang=en"), "X-Api-Key", "");
    let arguments =
        json!({"q": "hello world&x=1", "n": 3, "flag": true, "tag": ["a", "b"], "obj": {"k": 1}, "none": null});
    let reply = call(&tool, KEY, arguments).await.expect("reply");
    let seen = json_body(&reply);
    assert_eq!(seen["path"], "/v1/items");
    assert_eq!(seen["key_ok"], true);
    let pairs: Vec<(String, String)> = serde_json::from_value(seen["pairs"].clone()).expect("pairs");
    assert_eq!(pairs[..2], [("fixed".into(), "1".into()), ("lang".into(), "en".into())], "configured query first");
    for (name, value) in
        [("q", "hello world&x=1"), ("n", "3"), ("flag", "true"), ("tag", "a"), ("tag", "b"), ("obj", r#"{"k":1}"#)]
    {
        assert!(pairs.contains(&(name.into(), value.into())), "{name}={value} missing from {pairs:?}");
    }
    assert!(pairs.contains(&("none".into(), "null".into())));
    assert_eq!(pairs.len(), 9, "no extra parameters (the & in a value stays inside it): {pairs:?}");
}

#[tokio::test]
async fn prefix_goes_before_the_key_in_authorization() {
    let base = serve(Router::new().route("/v1/chat", post(echo))).await;
    let tool = tool("POST", &format!("{base}/v1/chat"), "Authorization", r#"credential_prefix = "Bearer ""#);
    let seen = json_body(&call(&tool, KEY, json!({})).await.expect("reply"));
    assert_eq!(seen["authorization_ok"], true, "{seen}");
    assert_eq!(seen["x_api_key_ok"], false);
}

#[tokio::test]
async fn non_2xx_status_is_a_reply_not_an_error() {
    let base = serve(Router::new().route("/v1/items", get(|| async { (StatusCode::NOT_FOUND, "no such item") }))).await;
    let tool = tool("GET", &format!("{base}/v1/items"), "X-Api-Key", "");
    let reply = call(&tool, KEY, json!({"id": 7})).await.expect("a 404 is still a reply");
    assert_eq!(reply, UpstreamReply { status: 404, body: "no such item".into() });
}

#[tokio::test]
async fn echoed_key_is_redacted_with_and_without_prefix() {
    async fn leak(headers: HeaderMap) -> String {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        format!("you sent {auth:?}; key={KEY}; again {KEY}")
    }
    let base = serve(Router::new().route("/leak", get(leak))).await;
    let tool = tool("GET", &format!("{base}/leak"), "Authorization", r#"credential_prefix = "Bearer ""#);
    let reply = call(&tool, KEY, json!({})).await.expect("reply");
    assert!(!reply.body.contains(KEY), "key leaked: {}", reply.body);
    assert_eq!(reply.body, r#"you sent "Bearer [redacted]"; key=[redacted]; again [redacted]"#);
}

#[tokio::test]
async fn echoed_key_is_redacted_escaped_encoded_and_recased() {
    async fn leak() -> String {
        use base64::Engine as _;
        let escaped: String = KEY.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{KEY}"));
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("k{KEY}"));
        let upper = KEY.to_uppercase();
        format!(r#"{{"echo":"{escaped}","basic":"{basic}","jwtish":"{url_safe}","shout":"{upper}"}}"#)
    }
    let base = serve(Router::new().route("/leak", get(leak))).await;
    let tool = tool("GET", &format!("{base}/leak"), "X-Api-Key", "");
    let reply = call(&tool, KEY, json!({})).await.expect("reply");
    let body: Value = serde_json::from_str(&reply.body).expect("still JSON after redaction");
    for field in ["echo", "basic", "jwtish", "shout"] {
        assert!(body[field].as_str().is_some_and(|v| v.contains("[redacted]")), "{field} leaked: {}", reply.body);
    }
    assert!(!reply.body.to_lowercase().contains(&KEY.to_lowercase()), "{}", reply.body);
}

#[tokio::test]
async fn slow_upstream_times_out() {
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "too late"
    }
    let base = serve(Router::new().route("/slow", get(slow))).await;
    let tool = tool("GET", &format!("{base}/slow"), "X-Api-Key", "timeout_secs = 1");
    let error = call(&tool, KEY, json!({})).await.expect_err("must time out");
    assert!(matches!(error, UpstreamError::Timeout { secs: 1 }), "{error:?}");
    assert_no_key(&error);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let tool = tool("POST", &format!("http://127.0.0.1:{port}/v1?secret_arg=1"), "X-Api-Key", "");
    let error = call(&tool, KEY, json!({"q": "x"})).await.expect_err("nothing listens");
    let UpstreamError::Unreachable { detail } = &error else { panic!("expected Unreachable, got {error:?}") };
    assert!(detail.contains(&format!("127.0.0.1:{port}")), "{detail}");
    assert!(!detail.contains("secret_arg"), "query in detail: {detail}");
    assert_no_key(&error);
}

#[tokio::test]
async fn same_origin_redirect_is_followed_with_the_key() {
    let router =
        Router::new().route("/start", get(|| async { Redirect::temporary("/final?hop=1") })).route("/final", get(echo));
    let base = serve(router).await;
    let tool = tool("GET", &format!("{base}/start"), "X-Api-Key", "");
    let seen = json_body(&call(&tool, KEY, json!({})).await.expect("reply"));
    assert_eq!(seen["path"], "/final");
    assert_eq!(seen["x_api_key_ok"], true, "{seen}");
}

#[tokio::test]
async fn redirect_to_another_origin_is_not_followed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let other = serve(Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "stolen" }
    }))
    .await;
    let target = format!("{other}/steal?x=1");
    let base = serve(Router::new().route(
        "/start",
        any(move || {
            let target = target.clone();
            async move { Redirect::temporary(&target) }
        }),
    ))
    .await;

    for method in ["GET", "POST"] {
        let tool = tool(method, &format!("{base}/start"), "X-Api-Key", "");
        let error = call(&tool, KEY, json!({"q": "x"})).await.expect_err("must not follow");
        let UpstreamError::Redirected { to } = &error else { panic!("expected Redirected, got {error:?}") };
        assert_eq!(to, &other, "origin only, no path or query");
        assert!(error.to_string().contains("not followed"), "{error}");
        assert_no_key(&error);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the other server was called");
}

#[tokio::test]
async fn redirect_to_same_host_other_scheme_is_another_origin() {
    let router = Router::new().route(
        "/start",
        get(|headers: HeaderMap| async move {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            Redirect::temporary(&format!("https://{host}/start"))
        }),
    );
    let base = serve(router).await;
    let tool = tool("GET", &format!("{base}/start"), "X-Api-Key", "");
    let error = call(&tool, KEY, json!({})).await.expect_err("must not follow");
    let UpstreamError::Redirected { to } = &error else { panic!("expected Redirected, got {error:?}") };
    assert_eq!(to, &base.replacen("http://", "https://", 1));
}

#[tokio::test]
async fn redirect_loop_stops_after_five() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let router = Router::new().route(
        "/loop",
        get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Redirect::temporary("/loop") }
        }),
    );
    let base = serve(router).await;
    let tool = tool("GET", &format!("{base}/loop"), "X-Api-Key", "");
    let error = call(&tool, KEY, json!({})).await.expect_err("loop");
    assert!(matches!(error, UpstreamError::TooManyRedirects { max: 5 }), "{error:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 6, "the first request plus five redirects");
}

#[tokio::test]
async fn body_over_one_mib_is_too_large_with_or_without_length() {
    const MIB: usize = 1024 * 1024;
    let router = Router::new()
        .route("/exact", get(|| async { vec![b'a'; MIB] }))
        .route("/sized", get(|| async { vec![b'a'; 2 * MIB] }))
        .route(
            "/streamed",
            get(|| async {
                let chunks = (0..32).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 64 * 1024]));
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
    let base = serve(router).await;
    let exact = call(&tool("GET", &format!("{base}/exact"), "X-Api-Key", ""), KEY, json!({})).await;
    assert_eq!(exact.expect("1 MiB is allowed").body.len(), MIB);
    for path in ["sized", "streamed"] {
        let tool = tool("GET", &format!("{base}/{path}"), "X-Api-Key", "");
        let error = call(&tool, KEY, json!({})).await.expect_err("2 MiB is too large");
        assert!(matches!(error, UpstreamError::TooLarge), "{path}: {error:?}");
    }
}

#[tokio::test]
async fn arguments_cannot_move_the_request() {
    let base = serve(Router::new().route("/v1/search", any(echo))).await;
    let host = base.trim_start_matches("http://").to_string();
    let hostile = json!({
        "url": "http://evil.example/steal",
        "path": "../../admin",
        "host": "@evil.example",
        "../x": "/etc/passwd",
        "q": "a#frag?b=c",
    });
    for method in ["GET", "POST"] {
        let tool = tool(method, &format!("{base}/v1/search"), "X-Api-Key", "");
        let seen = json_body(&call(&tool, KEY, hostile.clone()).await.expect("reply"));
        assert_eq!(seen["path"], "/v1/search", "{method}: {seen}");
        assert_eq!(seen["host"], host.as_str(), "{method}");
        assert_eq!(seen["x_api_key_ok"], true, "{method}");
        let carried = format!("{}{}", seen["query"].as_str().unwrap_or_default(), seen["body"]);
        assert!(carried.contains("evil.example"), "{method}: the values travel as data: {carried}");
    }
}

#[tokio::test]
async fn credential_that_cannot_be_a_header_is_refused_before_sending() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let base = serve(Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "ok" }
    }))
    .await;
    let tool = tool("GET", &format!("{base}/v1"), "X-Api-Key", "");
    let bad = "sk-line\r\nX-Injected: 1";
    let error = call(&tool, bad, json!({})).await.expect_err("bad credential");
    assert!(matches!(error, UpstreamError::BadCredential { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("not allowed in an HTTP header") && !text.contains("sk-line"), "{text}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn one_client_serves_many_calls_and_debug_hides_nothing_secret() {
    let base = serve(Router::new().route("/v1", get(echo))).await;
    let tool = tool("GET", &format!("{base}/v1"), "X-Api-Key", "");
    let upstream = Upstream::new().expect("client");
    let clone = upstream.clone();
    let key = SecretString::from(KEY);
    for client in [&upstream, &clone, &upstream] {
        let seen = json_body(&client.call(&tool, &key, &Map::new()).await.expect("reply"));
        assert_eq!(seen["x_api_key_ok"], true);
        assert_eq!(seen["query"], Value::Null, "no bare `?` without arguments");
    }
    assert!(!format!("{upstream:?}").contains(KEY));
}
