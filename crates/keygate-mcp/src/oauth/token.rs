//! `POST /oauth/token`: an authorization code (with its PKCE verifier) or a refresh token in,
//! a Keygate access token under the chosen grant and a new refresh token out. Public clients
//! only: the code's PKCE binding and the refresh token's family do the proving.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::response::Response;
use http::{StatusCode, header};
use keygate_vault::{CodeExchange, OAuthRefusal, OAuthTokens, RefreshExchange, VaultError};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{MAX_FORM_BYTES, OAuthState, reply};

pub(super) async fn token(State(state): State<OAuthState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let form = parts.headers.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok());
    if !form.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the token request as application/x-www-form-urlencoded",
        );
    }
    let body = match reply::read_body(body, MAX_FORM_BYTES).await {
        Ok(body) => Zeroizing::new(body.to_vec()),
        Err(response) => return response,
    };
    let params = match parse_form(&body) {
        Ok(params) => params,
        Err(description) => return reply::error(StatusCode::BAD_REQUEST, "invalid_request", &description),
    };
    let get = |name: &str| params.get(name).map(|v| v.as_str());
    let Some(client_id) = get("client_id") else {
        return reply::error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "name the client_id (public clients send it in the form)",
        );
    };
    let result = match get("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(code_verifier)) =
                (get("code"), get("redirect_uri"), get("code_verifier"))
            else {
                return reply::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required",
                );
            };
            let exchange = CodeExchange { code, client_id, redirect_uri, code_verifier, resource: get("resource") };
            state.gate.with(|vault| vault.exchange_authorization_code(&exchange))
        }
        Some("refresh_token") => {
            let Some(refresh_token) = get("refresh_token") else {
                return reply::error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required");
            };
            let exchange = RefreshExchange { refresh_token, client_id, resource: get("resource") };
            state.gate.with(|vault| vault.refresh_oauth_tokens(&exchange))
        }
        _ => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            );
        }
    };
    match result {
        Ok(tokens) => issued(&tokens),
        Err(VaultError::OAuth(refusal)) => refused(refusal),
        Err(e @ VaultError::Tampered { .. }) => {
            // Not the vault being busy: a row was forged or changed, and retrying cannot help.
            tracing::warn!("OAuth token request refused: {e}");
            reply::error(StatusCode::BAD_REQUEST, "invalid_grant", &e.to_string())
        }
        Err(e) => reply::unavailable(&e.to_string()),
    }
}

/// The form's parameters (values zeroized when dropped); one given twice is an error.
pub(crate) fn parse_form(body: &[u8]) -> Result<HashMap<String, Zeroizing<String>>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if params.insert(name.to_string(), Zeroizing::new(value.into_owned())).is_some() {
            return Err(format!("the parameter {:?} is given more than once", crate::text::printable(&name, 40)));
        }
    }
    Ok(params)
}

fn issued(tokens: &OAuthTokens) -> Response {
    reply::json(
        StatusCode::OK,
        serde_json::json!({
            "access_token": tokens.access.token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": tokens.expires_in.as_secs(),
            "refresh_token": tokens.refresh_token.expose_secret(),
        }),
    )
}

fn refused(refusal: OAuthRefusal) -> Response {
    let status =
        if refusal == OAuthRefusal::UnknownClient { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
    if matches!(refusal, OAuthRefusal::RefreshReused) {
        // Two holders of one refresh token: one of them is not the client.
        tracing::warn!("an OAuth refresh token was presented twice: that sign-in and its tokens are revoked");
    } else {
        tracing::info!(reason = refusal.error_code(), "OAuth token request refused: {refusal}");
    }
    reply::error(status, refusal.error_code(), &refusal.to_string())
}
