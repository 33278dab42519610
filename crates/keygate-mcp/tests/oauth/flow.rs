//! A hand-driven OAuth client for the tests: registration, the authorize redirect, the
//! consent form as the page posts it, and the token endpoint, each step observable.
#![allow(dead_code)]

use base64::Engine as _;
use reqwest::header::{CONTENT_TYPE, LOCATION, ORIGIN};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::Harness;

pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A server under test and an HTTP client that never follows redirects.
pub struct OAuth {
    pub h: Harness,
    pub http: reqwest::Client,
}

impl OAuth {
    pub async fn start() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { h: Harness::start().await, http }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.h.server.local_addr())
    }

    pub fn resource(&self) -> String {
        self.h.url()
    }

    pub async fn register_raw(&self, body: &Value) -> Response {
        self.http.post(format!("{}/oauth/register", self.origin())).json(body).send().await.expect("register")
    }

    pub async fn register(&self, name: &str) -> String {
        let response = self.register_raw(&json!({"client_name": name, "redirect_uris": [REDIRECT]})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["client_id"].as_str().expect("client_id").to_string()
    }

    /// `/oauth/authorize` with the usual parameters, some replaced or removed (`None`).
    pub async fn authorize(&self, client_id: &str, changes: &[(&str, Option<&str>)]) -> Response {
        let challenge = challenge(VERIFIER);
        let resource = self.resource();
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("state", "st4te"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", resource.as_str()),
        ];
        for (name, value) in changes {
            params.retain(|(n, _)| n != name);
            if let Some(value) = value {
                params.push((name, value));
            }
        }
        let url = url::Url::parse_with_params(&format!("{}/oauth/authorize", self.origin()), &params).expect("url");
        self.http.get(url).send().await.expect("authorize")
    }

    /// Start a sign-in; returns the consent request's id.
    pub async fn pending(&self, client_id: &str) -> String {
        let response = self.authorize(client_id, &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = location(&response);
        location.strip_prefix("/oauth/consent?request=").expect("to the consent page").to_string()
    }

    pub async fn consent_page(&self, request: &str) -> (StatusCode, String) {
        let url = format!("{}/oauth/consent?request={request}", self.origin());
        let response = self.http.get(url).send().await.expect("consent page");
        (response.status(), response.text().await.expect("text"))
    }

    /// The CSRF token the page carries.
    pub async fn csrf(&self, request: &str) -> String {
        let (status, page) = self.consent_page(request).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let (_, rest) = page.split_once("name=\"csrf\" value=\"").expect("a csrf field");
        rest.split('"').next().expect("value").to_string()
    }

    /// Post the consent form with `fields`, from `origin` (`None`: no Origin header).
    pub async fn post_consent(&self, origin: Option<&str>, fields: &[(&str, &str)]) -> Response {
        let mut request = self
            .http
            .post(format!("{}/oauth/consent", self.origin()))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded(fields));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send().await.expect("post consent")
    }

    /// Approve `request` with a new grant `name` over `tools`; returns the code.
    pub async fn approve_new(&self, request: &str, name: &str, tools: &[&str]) -> String {
        let csrf = self.csrf(request).await;
        let mut fields = vec![
            ("request", request),
            ("csrf", csrf.as_str()),
            ("decision", "approve"),
            ("grant", ""),
            ("new_name", name),
        ];
        fields.extend(tools.iter().map(|t| ("tool", *t)));
        let response = self.post_consent(Some(&self.origin()), &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let back = url::Url::parse(&location(&response)).expect("redirect URL");
        assert!(back.as_str().starts_with(REDIRECT), "{back}");
        let query: Vec<(String, String)> = back.query_pairs().into_owned().collect();
        assert!(query.contains(&("state".into(), "st4te".into())), "{query:?}");
        query.into_iter().find(|(k, _)| k == "code").expect("a code").1
    }

    /// Approve `request` with the existing grant `grant`; returns the code.
    pub async fn approve_existing(&self, request: &str, grant: &str) -> String {
        let csrf = self.csrf(request).await;
        let fields = [("request", request), ("csrf", csrf.as_str()), ("decision", "approve"), ("grant", grant)];
        let response = self.post_consent(Some(&self.origin()), &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let back = url::Url::parse(&location(&response)).expect("redirect URL");
        back.query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned()
    }

    pub async fn token(&self, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/oauth/token", self.origin()))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded(fields))
            .send()
            .await
            .expect("token");
        assert_eq!(response.headers().get("cache-control").map(|v| v.as_bytes()), Some(&b"no-store"[..]));
        (response.status(), response.json().await.expect("json"))
    }

    pub async fn redeem(&self, client_id: &str, code: &str, verifier: &str, redirect: &str) -> (StatusCode, Value) {
        let resource = self.resource();
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
            ("resource", &resource),
        ])
        .await
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> (StatusCode, Value) {
        let resource = self.resource();
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
            ("resource", &resource),
        ])
        .await
    }

    /// The status of an MCP `tools/list` with `token`.
    pub async fn mcp_status(&self, token: &str) -> StatusCode {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let response = self
            .http
            .post(self.resource())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
            .await
            .expect("mcp");
        response.status()
    }
}

pub fn location(response: &Response) -> String {
    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("a Location").to_string()
}

pub fn serde_urlencoded(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

pub fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}
