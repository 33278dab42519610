//! The test step: one request with the new key where the config says, which must answer the
//! expected status before the key becomes current. Redirects are never followed (the key
//! would go elsewhere).

use secrecy::{ExposeSecret, SecretString};

use crate::config::Probe;
use crate::redact::redact;

/// An HTTP client that never follows redirects, with `timeout` per request.
pub(crate) fn client(timeout: std::time::Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Send the probe with `key`; `Ok` if the expected status came back.
pub(crate) async fn test_key(client: &reqwest::Client, probe: &Probe, key: &SecretString) -> Result<(), String> {
    let method = reqwest::Method::from_bytes(probe.method.as_bytes()).map_err(|_| "bad method".to_string())?;
    let mut header = reqwest::header::HeaderValue::from_str(&format!("{}{}", probe.prefix, key.expose_secret()))
        .map_err(|_| "the key cannot be sent in an HTTP header (it has characters headers cannot carry)".to_string())?;
    header.set_sensitive(true);
    let response =
        client.request(method, probe.url.clone()).header(probe.header.as_str(), header).send().await.map_err(|e| {
            redact(&format!("the test request to {} failed: {}", probe.url, keygate_vault::error_chain(&e)), &[key])
        })?;
    let status = response.status().as_u16();
    if status == probe.expect_status {
        Ok(())
    } else {
        Err(format!("the test request to {} answered {status}, not {}", probe.url, probe.expect_status))
    }
}
