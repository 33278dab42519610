//! The HTTP/1.1 client under upstream calls: hyper's pooled client over rustls, trusting the
//! platform's roots as reqwest did, with redirects followed here (same origin only).
//!
//! reqwest wrapped every request in layers Keygate has no use for (retry, a redirect layer
//! that parsed the URL again per request, header copies): dropping them took 15–24 µs of CPU
//! off each call on two cores (`tools/load/run`, BENCHMARKS.md). What is left is the pool, the
//! connection and the TLS.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use keygate_vault::error_chain;
use reqwest::Url;

/// Redirects followed per call (all on the configured origin).
pub(crate) const MAX_REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle upstream connection is kept for the next call. Its write buffer still
/// holds the last request's header, key included, until it is closed (hyper clears the
/// buffer without overwriting it): calls in a burst share the connection, and the key
/// leaves memory within about twice this after the last call (the pool checks at this period).
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
const AGENT: &str = concat!("keygate/", env!("CARGO_PKG_VERSION"));

/// One pooled client for every upstream. Cloning shares the pool.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// One request: the body, if any, is JSON.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// Sent on every hop (the credential among them); a redirect never leaves the origin.
    pub(crate) headers: &'a HeaderMap,
    pub(crate) json: Option<Bytes>,
}

/// What came back: the status and at most `cap` bytes of body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Why a request got no answer; the texts never hold a URL's path or query.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No connection (refused, DNS, TLS, connect timeout): the cause, one line.
    Unreachable(String),
    /// A redirect to another origin, given as `scheme://host[:port]`.
    OffOrigin(String),
    TooManyRedirects,
    TooLarge,
    /// Anything else on the way: the cause, one line.
    Http(String),
}

impl HttpClient {
    pub(crate) fn new() -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(&provider))
            .map_err(|e| format!("cannot load the platform's TLS roots: {e}"))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // Each request goes out in one write, and an answer must not wait for a delayed ACK.
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Self { client })
    }

    /// Send `out`, following redirects on its origin, and read at most `cap` bytes of the
    /// answer. No deadline here: the caller holds the tool's timeout over all of it.
    pub(crate) async fn send(&self, out: Outgoing<'_>, cap: usize) -> Result<Answer, Failure> {
        let Outgoing { mut method, mut url, headers, mut json } = out;
        let origin = url.origin();
        let mut followed = 0;
        loop {
            let request = build(&method, &url, headers, json.clone())?;
            let response = self.client.request(request).await.map_err(|e| classify(&e))?;
            let status = response.status();
            let Some(next) = redirect_target(status, response.headers(), &url) else {
                return read_capped(response, cap).await.map(|body| Answer { status: status.as_u16(), body });
            };
            if next.origin() != origin {
                return Err(Failure::OffOrigin(origin_text(&next)));
            }
            if followed == MAX_REDIRECTS {
                return Err(Failure::TooManyRedirects);
            }
            followed += 1;
            // As browsers and reqwest do: 303 (and 301/302 after a POST) go on as a GET without
            // the body; 307 and 308 repeat the request as it was.
            let becomes_get = status == StatusCode::SEE_OTHER
                || (method == Method::POST && matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND));
            if becomes_get && method != Method::HEAD {
                method = Method::GET;
                json = None;
            }
            url = next;
        }
    }
}

fn build(
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    json: Option<Bytes>,
) -> Result<Request<Full<Bytes>>, Failure> {
    let mut request = Request::builder().method(method.clone()).uri(url.as_str());
    let all = request.headers_mut().ok_or_else(|| Failure::Http("cannot build the request".into()))?;
    all.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    all.insert(ACCEPT, HeaderValue::from_static("*/*"));
    if json.is_some() {
        all.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, value) in headers {
        all.insert(name, value.clone());
    }
    // The URL is a parsed `Url`, so only a form `http` refuses can fail here; never echo it.
    request.body(Full::new(json.unwrap_or_default())).map_err(|_| Failure::Http("the tool's URL cannot be sent".into()))
}

/// Where a redirect answer points, resolved against `url`; `None` for any other answer (and
/// for a redirect without a usable `Location`, which is returned as it came).
fn redirect_target(status: StatusCode, headers: &HeaderMap, url: &Url) -> Option<Url> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = headers.get(LOCATION)?.to_str().ok()?;
    url.join(location).ok()
}

/// Read the body, stopping as soon as it exceeds `cap`.
async fn read_capped(response: http::Response<hyper::body::Incoming>, cap: usize) -> Result<Vec<u8>, Failure> {
    let declared = response.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if declared.and_then(|v| v.parse::<u64>().ok()).is_some_and(|len| len > cap as u64) {
        return Err(Failure::TooLarge);
    }
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::Http(error_chain(&e)))?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > cap {
                return Err(Failure::TooLarge);
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(bytes)
}

/// `scheme://host[:port]`, without path or query (which could carry data the agent sent).
pub(crate) fn origin_text(url: &Url) -> String {
    let origin = url.origin();
    if origin.is_tuple() { origin.ascii_serialization() } else { format!("{}:", url.scheme()) }
}

/// hyper's errors never hold the URL, so their whole chain can be shown.
fn classify(error: &hyper_util::client::legacy::Error) -> Failure {
    if error.is_connect() { Failure::Unreachable(error_chain(error)) } else { Failure::Http(error_chain(error)) }
}
