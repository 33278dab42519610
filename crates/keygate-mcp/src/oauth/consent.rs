//! The consent page (`GET /oauth/consent?request=ID`) and its answer (`POST`). Approval needs
//! the person at this machine's browser: only a POST (never a GET), from this very origin
//! (Origin header, and Sec-Fetch-Site when the browser sends it), carrying the CSRF token
//! bound to that request; the page cannot be framed. The answer is given once.

use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use keygate_vault::{CodeBinding, ConsentRequest, GrantRequest, GrantStatus, VaultError};

use super::page::{ConsentView, consent_page, error_page};
use super::{MAX_FORM_BYTES, OAuthState, reply, request_origin};

pub(super) async fn show(State(state): State<OAuthState>, RawQuery(query): RawQuery) -> Response {
    let id = request_id(query.as_deref());
    match state.gate.with(|vault| vault.consent_request(&id)) {
        Ok(request) => render(&state, &request, None, StatusCode::OK),
        Err(e) => gone(e),
    }
}

/// The form as posted.
#[derive(Default)]
pub(crate) struct Answer {
    request: String,
    csrf: String,
    approve: bool,
    grant: String,
    new_name: String,
    tools: Vec<String>,
}

pub(super) async fn answer(State(state): State<OAuthState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if let Err(problem) = same_origin_form(&parts.headers, &state) {
        return reply::html(StatusCode::FORBIDDEN, error_page(problem));
    }
    let body = match reply::read_body(body, MAX_FORM_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let answer = parse_answer(&body);
    if !state.csrf.verify(&answer.request, &answer.csrf) {
        return reply::html(
            StatusCode::FORBIDDEN,
            error_page(
                "This form is stale or did not come from Keygate's consent page: reload the page and answer again.",
            ),
        );
    }
    let pending = match state.gate.with(|vault| vault.consent_request(&answer.request)) {
        Ok(pending) => pending,
        Err(e) => return gone(e),
    };
    if !answer.approve {
        return match take(&state, &pending.id) {
            Ok(taken) => back(&taken, &[("error", "access_denied"), ("error_description", "the person denied access")]),
            Err(e) => gone(e),
        };
    }
    let grant = match chosen_grant(&state, &answer) {
        Ok(grant) => grant,
        Err(problem) => return render(&state, &pending, Some(&problem), StatusCode::BAD_REQUEST),
    };
    let taken = match take(&state, &pending.id) {
        Ok(taken) => taken,
        Err(e) => return gone(e),
    };
    let binding = CodeBinding {
        client_id: taken.client_id.clone(),
        redirect_uri: taken.redirect_uri.clone(),
        code_challenge: taken.code_challenge.clone(),
        resource: taken.resource.clone(),
        grant,
    };
    match state.gate.with(|vault| vault.issue_authorization_code(&binding)) {
        Ok(code) => back(&taken, &[("code", secrecy::ExposeSecret::expose_secret(&code))]),
        Err(e) => gone(e),
    }
}

/// A form post from this server's own page: a browser always sends Origin on a POST, so a
/// missing or foreign one is refused; Sec-Fetch-Site, when sent, must say same-origin.
fn same_origin_form(headers: &HeaderMap, state: &OAuthState) -> Result<(), &'static str> {
    let own = request_origin(headers, state.addr);
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if !origin.is_some_and(|o| o.eq_ignore_ascii_case(&own)) {
        return Err("Consent can only be given on Keygate's own consent page (the request came from another origin).");
    }
    let site = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok());
    if site.is_some_and(|s| s != "same-origin") {
        return Err(
            "Consent can only be given on Keygate's own consent page (the browser says it came from another site).",
        );
    }
    let form = headers.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok());
    if !form.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return Err("The consent answer must be the consent page's form.");
    }
    Ok(())
}

pub(crate) fn parse_answer(body: &[u8]) -> Answer {
    let mut answer = Answer::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "request" => answer.request = value.into_owned(),
            "csrf" => answer.csrf = value.into_owned(),
            "decision" => answer.approve = value == "approve",
            "grant" => answer.grant = value.into_owned(),
            "new_name" => answer.new_name = value.trim().to_string(),
            "tool" => answer.tools.push(value.into_owned()),
            _ => {}
        }
    }
    answer
}

/// The grant the person picked (it must be active) or the new one they described (created now).
fn chosen_grant(state: &OAuthState, answer: &Answer) -> Result<String, String> {
    if !answer.grant.is_empty() {
        return match state.gate.with(|vault| vault.grant(&answer.grant)) {
            Ok(Some(grant)) if grant.status == GrantStatus::Active => Ok(grant.name),
            Ok(_) => Err(format!("The grant {:?} is not active: pick another or create one.", answer.grant)),
            Err(e) => Err(e.to_string()),
        };
    }
    let request = GrantRequest::new(answer.new_name.clone(), answer.tools.clone());
    match state.gate.with(|vault| vault.create_grant(&request)) {
        Ok(grant) => Ok(grant.name),
        Err(e) => Err(e.to_string()),
    }
}

fn take(state: &OAuthState, id: &str) -> Result<ConsentRequest, VaultError> {
    state.gate.with(|vault| vault.take_consent_request(id))
}

/// The page for a request that is gone (answered, expired) or refused (its row, or its
/// client's, changed without the master key), or the vault being unavailable.
fn gone(error: VaultError) -> Response {
    match error {
        VaultError::OAuth(refusal) => reply::html(StatusCode::NOT_FOUND, error_page(&refusal.to_string())),
        e @ VaultError::Tampered { .. } => reply::tampered_page(&e),
        e => reply::unavailable(&e.to_string()),
    }
}

/// Back to the client's redirect URI with `params` and its state.
fn back(request: &ConsentRequest, params: &[(&str, &str)]) -> Response {
    let mut answer = params.to_vec();
    answer.extend(request.state.as_deref().map(|s| ("state", s)));
    reply::redirect_with(&request.redirect_uri, &answer)
}

fn render(state: &OAuthState, request: &ConsentRequest, problem: Option<&str>, status: StatusCode) -> Response {
    let grants = match state.gate.with(|vault| vault.list_grants()) {
        Ok(grants) => grants.into_iter().filter(|g| g.status == GrantStatus::Active).collect::<Vec<_>>(),
        Err(e) => return reply::unavailable(&e.to_string()),
    };
    let tools = available_tools(state);
    let csrf = state.csrf.token_for(&request.id);
    let suggested_name = suggested_grant_name(&request.client_name);
    let view =
        ConsentView { request, csrf: &csrf, grants: &grants, tools: &tools, suggested_name: &suggested_name, problem };
    reply::html(status, consent_page(&view))
}

/// The configured HTTP tools and, for each fronted server, all its tools (`SERVER_*`).
fn available_tools(state: &OAuthState) -> Vec<String> {
    let catalog = state.shared.catalog();
    let mut tools: Vec<String> = catalog.config.tools.iter().map(|t| t.name.clone()).collect();
    tools.extend(state.shared.gateway.statuses().into_iter().map(|s| format!("{}_*", s.name)));
    tools
}

/// A grant name from the client's name: `Claude Code` -> `claude-code`.
pub(crate) fn suggested_grant_name(client_name: &str) -> String {
    let mut name = String::new();
    for c in client_name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name: String = name.trim_end_matches('-').chars().take(32).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() { "agent".into() } else { name.to_string() }
}

pub(crate) fn request_id(query: Option<&str>) -> String {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(name, _)| name == "request")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::suggested_grant_name;

    #[test]
    fn grant_names_are_suggested_from_client_names() {
        assert_eq!(suggested_grant_name("Claude Code"), "claude-code");
        assert_eq!(suggested_grant_name("  <Cursör> !! "), "curs-r");
        assert_eq!(suggested_grant_name("!!!"), "agent");
        assert_eq!(suggested_grant_name(&"a".repeat(50)).len(), 32);
    }
}
