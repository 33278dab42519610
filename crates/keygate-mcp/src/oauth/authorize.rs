//! `GET /oauth/authorize`: the start of a sign-in. The client and its redirect URI are checked
//! first (an error before that is shown here, never sent to an unchecked URI); then the
//! response type, PKCE S256 and the resource. A valid request waits in the vault for the
//! person, and the browser goes on to the consent page.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use keygate_vault::{NewConsent, OAuthClient, OAuthRefusal, VaultError};

use super::origin::is_own_resource;
use super::{CONSENT_PATH, OAuthState, reply, request_origin};
use crate::server::MCP_PATH;

const MAX_STATE_LEN: usize = 1024;

pub(super) async fn authorize(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parse_query(query.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(problem) => return page(StatusCode::BAD_REQUEST, &problem),
    };
    let get = |name: &str| params.get(name).map(String::as_str);
    let Some(client_id) = get("client_id") else {
        return page(StatusCode::BAD_REQUEST, "The request names no client_id: the application must register first.");
    };
    let client = match state.gate.with(|vault| vault.oauth_client(client_id)) {
        Ok(Some(client)) => client,
        Ok(None) => {
            return page(
                StatusCode::BAD_REQUEST,
                "This application is not registered with Keygate: start the sign-in again from the application.",
            );
        }
        Err(e @ VaultError::Tampered { .. }) => return reply::tampered_page(&e),
        Err(e) => return reply::unavailable(&e.to_string()),
    };
    let redirect_uri = match registered_redirect(&client, get("redirect_uri")) {
        Ok(uri) => uri,
        Err(problem) => return page(StatusCode::BAD_REQUEST, problem),
    };
    let client_state = get("state");
    if client_state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return page(StatusCode::BAD_REQUEST, "The state parameter is too long.");
    }
    // From here on, errors go back to the (registered) redirect URI, per RFC 6749 section 4.1.2.1.
    let back = |code: &str, description: &str| {
        let mut answer = vec![("error", code), ("error_description", description)];
        answer.extend(client_state.map(|s| ("state", s)));
        reply::redirect_with(&redirect_uri, &answer)
    };
    if get("response_type") != Some("code") {
        return back("unsupported_response_type", "only response_type=code is supported");
    }
    if get("code_challenge_method") != Some("S256") || !get("code_challenge").is_some_and(is_challenge) {
        return back(
            "invalid_request",
            "PKCE is required: code_challenge_method=S256 and a 43-character code_challenge",
        );
    }
    let resource = match get("resource") {
        Some(resource) if is_own_resource(resource, state.addr) => resource.to_string(),
        Some(_) => return back("invalid_target", "the resource is not this Keygate server's MCP endpoint"),
        // Clients older than RFC 8707 support get tokens for this server's endpoint.
        None => format!("{}{MCP_PATH}", request_origin(&headers, state.addr)),
    };
    let consent = NewConsent {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        code_challenge: get("code_challenge").unwrap_or_default().to_string(),
        state: client_state.map(String::from),
        resource,
    };
    match state.gate.with(|vault| vault.create_consent_request(&consent)) {
        Ok(request) => reply::see_other(&format!("{CONSENT_PATH}?request={}", request.id)),
        Err(VaultError::OAuth(refusal @ OAuthRefusal::TooManyConsents)) => {
            back("temporarily_unavailable", &refusal.to_string())
        }
        Err(VaultError::OAuth(refusal)) => page(StatusCode::BAD_REQUEST, &refusal.to_string()),
        Err(e @ VaultError::Tampered { .. }) => reply::tampered_page(&e),
        Err(e) => reply::unavailable(&e.to_string()),
    }
}

/// The query's parameters; a parameter given twice is an error (RFC 6749 section 3.1).
pub(crate) fn parse_query(query: &str) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if params.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(format!("The parameter {:?} is given more than once.", crate::text::printable(&name, 40)));
        }
    }
    Ok(params)
}

/// The redirect URI to answer to: exactly one of the client's registered URIs, or its only
/// one when the request names none.
fn registered_redirect(client: &OAuthClient, asked: Option<&str>) -> Result<String, &'static str> {
    match asked {
        Some(uri) if client.redirect_uris.iter().any(|registered| registered == uri) => Ok(uri.to_string()),
        Some(_) => Err("The redirect_uri is not one this application registered (they must match exactly)."),
        None if client.redirect_uris.len() == 1 => Ok(client.redirect_uris[0].clone()),
        None => Err("The request names no redirect_uri and the application registered several."),
    }
}

/// A PKCE S256 challenge: 43 base64url characters (a SHA-256 digest).
fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn page(status: StatusCode, message: &str) -> Response {
    reply::html(status, super::page::error_page(message))
}
