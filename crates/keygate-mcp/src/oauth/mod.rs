//! The loopback authorization server (OAuth 2.1 as the MCP authorization spec describes):
//! RFC 9728 and RFC 8414 metadata, RFC 7591 registration, authorization code with PKCE S256,
//! the consent page, and the token endpoint. The durable half (clients, consent requests,
//! hashed codes and refresh families) lives in the vault; access tokens are ordinary Keygate
//! tokens minted under the grant the person chose on the consent page.

pub(crate) mod authorize;
pub(crate) mod consent;
mod csrf;
mod metadata;
pub(crate) mod origin;
mod page;
pub(crate) mod register;
mod reply;
pub(crate) mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::gate::Gate;
use crate::handler::Shared;

pub(crate) use metadata::PROTECTED_RESOURCE_PATH;
pub(crate) use origin::request_origin;

/// Where each endpoint lives.
const AUTHORIZATION_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";
const AUTHORIZE_PATH: &str = "/oauth/authorize";
const TOKEN_PATH: &str = "/oauth/token";
const REGISTER_PATH: &str = "/oauth/register";
const CONSENT_PATH: &str = "/oauth/consent";
/// Largest registration, consent or token request body.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The consent page of a waiting request, for the tray to open.
pub fn consent_page_url(addr: impl std::fmt::Display, request_id: &str) -> String {
    format!("http://{addr}{CONSENT_PATH}?request={request_id}")
}

/// What every OAuth endpoint shares.
#[derive(Clone)]
pub(crate) struct OAuthState {
    pub(crate) gate: Gate,
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    pub(crate) csrf: Arc<csrf::CsrfKey>,
}

impl OAuthState {
    pub(crate) fn new(gate: Gate, shared: Arc<Shared>, addr: SocketAddr) -> Result<Self, crate::McpError> {
        Ok(Self { gate, shared, addr, csrf: Arc::new(csrf::CsrfKey::generate()?) })
    }
}

/// The authorization server's routes (the resource metadata is routed by the server).
pub(crate) fn routes(state: OAuthState) -> Router {
    Router::new()
        .route(PROTECTED_RESOURCE_PATH, get(metadata::protected_resource))
        .route(&format!("{PROTECTED_RESOURCE_PATH}{}", crate::server::MCP_PATH), get(metadata::protected_resource))
        .route(AUTHORIZATION_SERVER_PATH, get(metadata::authorization_server))
        .route(REGISTER_PATH, post(register::register))
        .route(AUTHORIZE_PATH, get(authorize::authorize))
        .route(CONSENT_PATH, get(consent::show).post(consent::answer))
        .route(TOKEN_PATH, post(token::token))
        .with_state(state)
}
