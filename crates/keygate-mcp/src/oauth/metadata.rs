//! RFC 9728 protected resource metadata (the MCP endpoint, pointing at this server as its
//! authorization server) and RFC 8414 authorization server metadata, both built for the
//! origin the client addressed.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::{AUTHORIZE_PATH, OAuthState, REGISTER_PATH, TOKEN_PATH, reply, request_origin};

/// RFC 9728 allows the metadata at the bare well-known path or suffixed with the resource's.
pub(crate) const PROTECTED_RESOURCE_PATH: &str = "/.well-known/oauth-protected-resource";

/// The protected resource metadata for a client that addressed `origin`.
fn resource_metadata(origin: &str) -> serde_json::Value {
    serde_json::json!({
        "resource": format!("{origin}{}", crate::server::MCP_PATH),
        "resource_name": "Keygate",
        "authorization_servers": [origin],
        "bearer_methods_supported": ["header"],
    })
}

pub(super) async fn protected_resource(State(state): State<OAuthState>, headers: HeaderMap) -> Response {
    reply::json(StatusCode::OK, resource_metadata(&request_origin(&headers, state.addr)))
}

/// Public clients only (`none`), the code flow with PKCE S256, refresh tokens that rotate.
pub(super) async fn authorization_server(State(state): State<OAuthState>, headers: HeaderMap) -> Response {
    let origin = request_origin(&headers, state.addr);
    reply::json(
        StatusCode::OK,
        serde_json::json!({
            "issuer": origin,
            "authorization_endpoint": format!("{origin}{AUTHORIZE_PATH}"),
            "token_endpoint": format!("{origin}{TOKEN_PATH}"),
            "registration_endpoint": format!("{origin}{REGISTER_PATH}"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }),
    )
}
