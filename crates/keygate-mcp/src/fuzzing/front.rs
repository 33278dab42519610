//! What an agent, a browser or a local helper sends the server before rmcp sees it: the
//! bearer header, Host and Origin, tool names, the agent socket's request line, and the
//! OAuth endpoints' queries, forms and registrations.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderValue, header};

use crate::access::{bearer_token, host_and_origin_problem, is_loopback_authority};
use crate::oauth::authorize::parse_query;
use crate::oauth::consent::{parse_answer, request_id, suggested_grant_name};
use crate::oauth::origin::{is_own_resource, request_origin};
use crate::oauth::register::{FORBIDDEN_SCHEMES, Registration, check};
use crate::oauth::token::parse_form;
use crate::text::{is_tool_name, printable};

const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7447);

/// The first byte picks what is parsed; the rest is what arrived.
pub fn server_front(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 6 {
        0 => bearer(rest),
        1 => host_and_origin(rest),
        2 => tool_name(rest),
        3 => agent_request(rest),
        4 => oauth_forms(rest),
        _ => registration(rest),
    }
}

fn headers_of(pairs: &[(header::HeaderName, &[u8])]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name.clone(), value);
        }
    }
    headers
}

/// `Authorization`: a token only from `Bearer <token>`, trimmed, never empty.
fn bearer(value: &[u8]) {
    let headers = headers_of(&[(header::AUTHORIZATION, value)]);
    if let Some(token) = bearer_token(&headers) {
        assert!(!token.is_empty() && token.trim() == token, "token {token:?}");
        let text = std::str::from_utf8(value).expect("a token came from a UTF-8 header");
        assert!(text.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("bearer ")), "not a Bearer header: {text:?}");
    }
}

/// `Host` then `Origin`: a request passes only with a loopback Host (and Origin, if sent);
/// the origin Keygate names back is always plain `http://host:port`.
fn host_and_origin(data: &[u8]) {
    let (host, origin) = split_line(data);
    let mut pairs = vec![(header::HOST, host)];
    if let Some(origin) = origin {
        pairs.push((header::ORIGIN, origin));
    }
    let headers = headers_of(&pairs);
    if host_and_origin_problem(&headers).is_none() {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).expect("a passing request has a Host");
        assert!(is_loopback_authority(host), "Host {host:?} passed");
    }
    let origin = request_origin(&headers, ADDR);
    assert!(origin.starts_with("http://") && !origin[7..].contains(['/', '?', '#', '@', ' ']), "origin {origin:?}");
    if let Ok(text) = std::str::from_utf8(data)
        && is_own_resource(text, ADDR)
    {
        let url = url::Url::parse(text).expect("an own resource is a URL");
        assert_eq!((url.scheme(), url.port()), ("http", Some(ADDR.port())), "{text:?}");
    }
}

fn split_line(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    }
}

/// A tool name from `tools/call`: accepted names are short and plain; what is shown of any
/// name has no control or invisible characters and is bounded.
fn tool_name(data: &[u8]) {
    let name = String::from_utf8_lossy(data);
    if is_tool_name(&name) {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        assert!(name.len() <= crate::MAX_TOOL_NAME_LEN && name.chars().all(plain), "{name:?}");
    }
    let shown = printable(&name, 64);
    assert!(shown.chars().all(|c| !c.is_control()), "a control character shown: {shown:?}");
    assert!(!shown.contains(['\u{202E}', '\u{200B}', '\u{FEFF}']), "an invisible character shown: {shown:?}");
    assert!(shown.chars().count() <= 64 * 10 + 1, "printable is not bounded");
}

/// The agent socket's request line: a valid grant name or a refusal that never repeats it.
fn agent_request(line: &[u8]) {
    match crate::parse_agent_request(line) {
        Ok(grant) => keygate_vault::validate_grant_name(&grant).expect("an accepted grant name is valid"),
        Err(reason) => {
            if let Ok(text) = std::str::from_utf8(line)
                && text.trim().len() > 40
            {
                assert!(!reason.contains(text.trim()), "the refusal repeats the request: {reason}");
            }
        }
    }
}

/// `/oauth/authorize`'s query, the consent form, the token form: duplicates refused, the
/// grant name suggested from any client name is one the vault accepts.
fn oauth_forms(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = parse_query(&text);
    let _ = parse_answer(data);
    let _ = request_id(Some(&text));
    if let Ok(form) = parse_form(data) {
        let names: Vec<&String> = form.keys().collect();
        assert_eq!(names.len(), url::form_urlencoded::parse(data).count(), "a repeated parameter was accepted");
    }
    let name = suggested_grant_name(&text);
    keygate_vault::validate_grant_name(&name).unwrap_or_else(|e| panic!("suggested {name:?} for {text:?}: {e}"));
}

/// RFC 7591 registration: a client is accepted only with redirect URIs that cannot run or
/// read anything locally and that carry no user information or fragment.
fn registration(json: &[u8]) {
    let Ok(registration) = serde_json::from_slice::<Registration>(json) else { return };
    let Ok(client) = check(registration) else { return };
    assert!(!client.redirect_uris.is_empty());
    for uri in &client.redirect_uris {
        let url = url::Url::parse(uri).expect("an accepted redirect URI parses");
        assert!(!FORBIDDEN_SCHEMES.contains(&url.scheme()), "accepted {uri:?}");
        assert!(url.fragment().is_none() && url.username().is_empty() && url.password().is_none(), "{uri:?}");
        if url.scheme() == "http" {
            let host = url.host_str().unwrap_or_default();
            assert!(is_loopback_authority(host), "http to {host:?} accepted");
        }
    }
}
