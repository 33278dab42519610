//! This server's origin as the client addressed it. Clients may use `127.0.0.1`, `localhost`
//! or `[::1]`; metadata, the resource and the consent page's same-origin check follow the
//! Host header the client sent (already checked to be loopback), so a client configured with
//! `localhost` sees `localhost` everywhere and its RFC 8707 checks pass.

use std::net::SocketAddr;

use http::{HeaderMap, header};

/// `http://host:port` from the Host header when it names this server's port; otherwise the
/// address the server listens on.
pub(crate) fn request_origin(headers: &HeaderMap, addr: SocketAddr) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match host.filter(|h| names_port(h, addr.port())) {
        Some(host) => format!("http://{}", host.to_ascii_lowercase()),
        None => format!("http://{addr}"),
    }
}

/// Whether `authority` (`host:port`, `[v6]:port`) ends in exactly this port.
fn names_port(authority: &str, port: u16) -> bool {
    let tail = authority.rsplit_once(':');
    tail.is_some_and(|(head, p)| !head.is_empty() && !head.ends_with(':') && p.parse::<u16>().ok() == Some(port))
        && authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Whether `resource` names this server's MCP endpoint on a loopback host (RFC 8707).
pub(crate) fn is_own_resource(resource: &str, addr: SocketAddr) -> bool {
    let Ok(url) = url::Url::parse(resource) else { return false };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "http"
        && loopback
        && url.port() == Some(addr.port())
        && matches!(url.path(), "/mcp" | "/mcp/")
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_follows_a_host_naming_this_port() {
        let addr: SocketAddr = "127.0.0.1:7447".parse().expect("addr");
        let mut headers = HeaderMap::new();
        assert_eq!(request_origin(&headers, addr), "http://127.0.0.1:7447");
        for (host, origin) in [
            ("localhost:7447", "http://localhost:7447"),
            ("LOCALHOST:7447", "http://localhost:7447"),
            ("[::1]:7447", "http://[::1]:7447"),
            ("localhost:8000", "http://127.0.0.1:7447"),
            ("localhost", "http://127.0.0.1:7447"),
            ("local\"host:7447", "http://127.0.0.1:7447"),
        ] {
            headers.insert(header::HOST, host.parse().expect("header"));
            assert_eq!(request_origin(&headers, addr), origin, "{host}");
        }
    }

    #[test]
    fn only_this_servers_mcp_endpoint_is_a_resource() {
        let addr: SocketAddr = "127.0.0.1:7447".parse().expect("addr");
        for ok in ["http://127.0.0.1:7447/mcp", "http://localhost:7447/mcp", "http://[::1]:7447/mcp/"] {
            assert!(is_own_resource(ok, addr), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:7448/mcp",
            "https://127.0.0.1:7447/mcp",
            "http://evil.example:7447/mcp",
            "http://127.0.0.1:7447/other",
            "http://127.0.0.1:7447/mcp?x=1",
            "http://127.0.0.1:7447/mcp#f",
            "http://u@127.0.0.1:7447/mcp",
            "not a url",
        ] {
            assert!(!is_own_resource(bad, addr), "{bad}");
        }
    }
}
