//! Answers of the OAuth endpoints: RFC 6749 JSON errors, no-store headers, redirects back to
//! the client, and the hardened HTML page headers.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// A JSON answer that no cache may keep (tokens, registrations, errors).
pub(super) fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An RFC 6749 section 5.2 error.
pub(super) fn error(status: StatusCode, code: &str, description: &str) -> Response {
    json(status, serde_json::json!({"error": code, "error_description": description}))
}

/// A 303 to `location` (answers go back to the client's redirect URI by GET).
pub(super) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => html(StatusCode::BAD_REQUEST, super::page::error_page("The redirect URI cannot be used.")),
    }
}

/// An HTML page that runs no script, cannot be framed, and sends no referrer elsewhere.
/// (`no-referrer` would also make browsers send `Origin: null` on the page's own form post,
/// which the same-origin check must then refuse.)
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `redirect_uri` with `params` added to its query (RFC 6749 section 4.1.2).
pub(super) fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            see_other(url.as_str())
        }
        Err(_) => html(StatusCode::BAD_REQUEST, super::page::error_page("The redirect URI cannot be used.")),
    }
}

/// A row the answer depends on was changed without the master key (`VaultError::Tampered`):
/// shown, naming the row, never retried as if the vault were busy.
pub(super) fn tampered_page(error: &keygate_vault::VaultError) -> Response {
    tracing::warn!("OAuth request refused: {error}");
    html(StatusCode::FORBIDDEN, super::page::error_page(&error.to_string()))
}

/// The vault could not answer (busy, I/O): retry later.
pub(super) fn unavailable(detail: &str) -> Response {
    tracing::error!(%detail, "vault unavailable during an OAuth request");
    error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the vault is unavailable; retry shortly")
}

/// The request body, or a 413 if it is larger than `max` bytes.
pub(super) async fn read_body(body: axum::body::Body, max: usize) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, max).await.map_err(|_| {
        error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", &format!("the request body is larger than {max} bytes"))
    })
}
