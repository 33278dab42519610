//! Upstreams over HTTPS, end to end: `keygate serve` calls a TLS server on 127.0.0.1 whose
//! certificate a test CA signed. The server trusts the platform's roots, here that CA through
//! SSL_CERT_FILE as on any Linux machine; a certificate for another name or from a CA nobody
//! trusts is refused, and the key never leaves.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Kg, Running, call_tool, serve_with};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

const KEY: &str = "sk-tls-test-0123456789";

/// A certificate for `localhost`, signed by a CA of its own; the CA's PEM to trust it.
fn issue(ca_name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, ca_name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("ca key")).expect("ca");
    let key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf").signed_by(&key, &ca).expect("sign");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (leaf.der().clone(), key, ca.pem())
}

/// A TLS server on 127.0.0.1 answering every request with whether it carried the key, and
/// counting the requests that got through the handshake. Its port.
async fn tls_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>, hits: Arc<AtomicUsize>) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, hits) = (acceptor.clone(), Arc::clone(&hits));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let answer = service_fn(move |request: hyper::Request<Incoming>| {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let key_ok = request.headers().get("x-api-key").is_some_and(|v| v.as_bytes() == KEY.as_bytes());
                    let body = format!(r#"{{"secure":true,"key_ok":{key_ok}}}"#);
                    async move { Ok::<_, std::convert::Infallible>(hyper::Response::new(body)) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), answer).await;
            });
        }
    });
    port
}

fn tool(name: &str, url: &str) -> String {
    format!(
        "\n[[tool]]\nname = \"{name}\"\ndescription = \"HTTPS upstream\"\ncredential = \"tls_key\"\nmethod = \"GET\"\n\
         url = \"{url}\"\ncredential_header = \"x-api-key\"\ninput_schema = {{ type = \"object\" }}\n"
    )
}

/// `keygate serve` trusting only `ca_file`, and its MCP endpoint.
fn serve_trusting(kg: &Kg, ca_file: &std::path::Path) -> (Running, String) {
    let mut serve = kg.command(&["serve", "--bind", "127.0.0.1:0"]);
    serve.env("SSL_CERT_FILE", ca_file).env_remove("SSL_CERT_DIR");
    serve_with(serve)
}

fn text(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_verified_against_the_platform_roots() {
    let (cert, key, trusted_ca) = issue("Keygate test CA");
    let (stranger_cert, stranger_key, _) = issue("A CA nobody trusts");
    let (trusted_hits, stranger_hits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let trusted = tls_server(cert, key, Arc::clone(&trusted_hits)).await;
    let stranger = tls_server(stranger_cert, stranger_key, Arc::clone(&stranger_hits)).await;

    let kg = Kg::headless();
    kg.init();
    let config = kg.home().join("config.toml");
    let mut text_of_config = std::fs::read_to_string(&config).expect("config");
    text_of_config.push_str(&tool("secure", &format!("https://localhost:{trusted}/search")));
    text_of_config.push_str(&tool("wrong_name", &format!("https://127.0.0.1:{trusted}/search")));
    text_of_config.push_str(&tool("untrusted", &format!("https://localhost:{stranger}/search")));
    std::fs::write(&config, text_of_config).expect("write config");
    kg.ok_with_stdin(&["cred", "add", "tls_key"], format!("{KEY}\n").as_bytes());
    let token = kg.json(&[
        "token",
        "create",
        "--tool",
        "secure",
        "--tool",
        "wrong_name",
        "--tool",
        "untrusted",
        "--json",
    ])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let ca_file = kg.dir.path().join("ca.pem");
    std::fs::write(&ca_file, trusted_ca).expect("write CA");
    let (_serve, url) = serve_trusting(&kg, &ca_file);
    let http = reqwest::Client::new();

    let (status, answer) = call_tool(&http, &url, &token, "secure", serde_json::json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(text(&answer), r#"{"secure":true,"key_ok":true}"#, "{answer}");
    assert_eq!(trusted_hits.load(Ordering::SeqCst), 1);

    for (name, why) in [("wrong_name", "not valid for name"), ("untrusted", "UnknownIssuer")] {
        let (_, answer) = call_tool(&http, &url, &token, name, serde_json::json!({})).await;
        assert_eq!(answer["result"]["isError"], true, "{name}: {answer}");
        let said = text(&answer);
        assert!(said.contains("cannot reach the upstream") && said.contains(why), "{name}: {said}");
        assert!(!said.contains(KEY), "{name}: {said}");
    }
    assert_eq!(trusted_hits.load(Ordering::SeqCst), 1, "a request went out over a refused handshake");
    assert_eq!(stranger_hits.load(Ordering::SeqCst), 0, "a request went out over a refused handshake");
}
