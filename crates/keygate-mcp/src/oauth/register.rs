//! RFC 7591 dynamic client registration, for public clients: redirect URIs must be loopback
//! `http` (any port, RFC 8252), `https`, or an app's own scheme; anything a browser would run
//! or read locally is refused. Bounded in size and in how many clients are kept.

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use keygate_vault::{MAX_CLIENT_NAME_LEN, MAX_REDIRECT_URIS, NewOAuthClient, VaultError};
use serde::Deserialize;

use super::{MAX_FORM_BYTES, OAuthState, reply};

/// Schemes a browser would execute or that read local data: never a redirect target.
pub(crate) const FORBIDDEN_SCHEMES: &[&str] =
    &["javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "view-source"];

#[derive(Deserialize)]
pub(crate) struct Registration {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

pub(super) async fn register(State(state): State<OAuthState>, request: Request) -> Response {
    let body = match reply::read_body(request.into_body(), MAX_FORM_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let registration: Registration = match serde_json::from_slice(&body) {
        Ok(registration) => registration,
        Err(e) => return invalid_metadata(&format!("the registration is not the JSON object RFC 7591 describes: {e}")),
    };
    let client = match check(registration) {
        Ok(client) => client,
        Err(Refused { code, description }) => return reply::error(StatusCode::BAD_REQUEST, code, &description),
    };
    match state.gate.with(|vault| vault.register_oauth_client(&client)) {
        Ok(client) => reply::json(
            StatusCode::CREATED,
            serde_json::json!({
                "client_id": client.id,
                "client_id_issued_at": client.created_at.unix_millis() / 1000,
                "client_name": client.name,
                "redirect_uris": client.redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }),
        ),
        Err(VaultError::InvalidOAuthClient { reason }) => invalid_metadata(&reason),
        Err(e @ VaultError::OAuthClientLimit { .. }) => {
            reply::error(StatusCode::TOO_MANY_REQUESTS, "invalid_client_metadata", &e.to_string())
        }
        Err(e) => reply::unavailable(&e.to_string()),
    }
}

/// A registration refused: the RFC 7591 error code and what was wrong.
pub(crate) struct Refused {
    code: &'static str,
    description: String,
}

pub(crate) fn check(registration: Registration) -> Result<NewOAuthClient, Refused> {
    // A client asking for a secret gets none (RFC 7591 section 3.2.1 lets the server replace
    // the request; the answer says `none`): it proves itself with PKCE like every client here.
    let method = registration.token_endpoint_auth_method.as_deref().unwrap_or("none");
    if !matches!(method, "none" | "client_secret_post" | "client_secret_basic") {
        return Err(refused_metadata(&format!(
            "token_endpoint_auth_method {:?} is not supported: Keygate registers public clients (\"none\") that prove themselves with PKCE",
            crate::text::printable(method, 40)
        )));
    }
    let grants_ok = |g: &String| matches!(g.as_str(), "authorization_code" | "refresh_token");
    if registration.grant_types.as_ref().is_some_and(|g| !g.iter().all(grants_ok)) {
        return Err(refused_metadata("grant_types may hold only authorization_code and refresh_token"));
    }
    if registration.response_types.as_ref().is_some_and(|r| r.iter().any(|t| t != "code")) {
        return Err(refused_metadata("response_types may hold only code"));
    }
    let redirect_uris = registration.redirect_uris.unwrap_or_default();
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(refused_redirect(&format!("register between 1 and {MAX_REDIRECT_URIS} redirect_uris")));
    }
    for uri in &redirect_uris {
        if let Err(problem) = check_redirect_uri(uri) {
            return Err(refused_redirect(&format!("redirect URI {:?} {problem}", crate::text::printable(uri, 80))));
        }
    }
    let name = registration.client_name.unwrap_or_else(|| "an unnamed client".into());
    if name.chars().count() > MAX_CLIENT_NAME_LEN || name.chars().any(char::is_control) {
        return Err(refused_metadata(&format!(
            "client_name must be at most {MAX_CLIENT_NAME_LEN} characters, none of them control characters"
        )));
    }
    Ok(NewOAuthClient { name, redirect_uris })
}

/// Why a redirect URI is refused, if it is.
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(uri).map_err(|_| "is not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("has a fragment (RFC 6749 section 3.1.2 forbids one)");
    }
    if url.username() != "" || url.password().is_some() {
        return Err("carries user information");
    }
    match url.scheme() {
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err("uses http on a host other than this machine: use https or a loopback address")
            }
        }
        "https" => {
            if url.host().is_some() {
                Ok(())
            } else {
                Err("has no host")
            }
        }
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => Err("uses a scheme a browser would run or read locally"),
        "ws" | "wss" | "ftp" => Err("uses a scheme that cannot receive an authorization answer"),
        _ => Ok(()),
    }
}

fn invalid_metadata(description: &str) -> Response {
    reply::error(StatusCode::BAD_REQUEST, "invalid_client_metadata", description)
}

fn refused_metadata(description: &str) -> Refused {
    Refused { code: "invalid_client_metadata", description: description.to_string() }
}

fn refused_redirect(description: &str) -> Refused {
    Refused { code: "invalid_redirect_uri", description: description.to_string() }
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_loopback_http_https_or_an_apps_own_scheme() {
        for ok in [
            "http://127.0.0.1:33418/callback",
            "http://localhost:6274/oauth/callback",
            "http://[::1]:8080/cb",
            "https://vscode.dev/redirect",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://evil.example/cb",
            "http://192.168.1.2/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "http://127.0.0.1/cb#frag",
            "http://user:pw@127.0.0.1/cb",
            "/relative",
            "wss://127.0.0.1/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
