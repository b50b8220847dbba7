//! The client's address, as the audit records it and the party fingerprint uses it. Behind a
//! load balancer the TCP peer is the balancer; only when the peer is one of
//! `server.trusted_proxies` are its forwarding headers believed: the hops it lists are read
//! from the nearest back, skipping trusted proxies, and the first untrusted one is the client.
//! A header that does not parse leaves the peer's own address (never a guess).

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderName};
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The trusted proxies, as the handlers receive them.
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address the request came from: the peer, or the client a trusted peer names.
    pub fn client_of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops = if req.headers().contains_key(FORWARDED) {
            forwarded_for(req)
        } else {
            x_forwarded_for(req)
        };
        let Some(hops) = hops else { return Some(peer) };
        // Nearest hop last: walk back past our own proxies.
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// The `for=` addresses of every `Forwarded` element, in order (RFC 7239); `None` when an
/// element has no usable `for` (an obfuscated or unknown node included).
fn forwarded_for(req: &HttpRequest) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in req.headers().get_all(FORWARDED) {
        for element in value.to_str().ok()?.split(',') {
            let node = element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'))?;
            hops.push(parse_node(node)?);
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// The addresses of every `X-Forwarded-For` header, in order; `None` when one does not parse.
fn x_forwarded_for(req: &HttpRequest) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in req.headers().get_all(X_FORWARDED_FOR) {
        for node in value.to_str().ok()?.split(',') {
            hops.push(parse_node(node.trim())?);
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// `192.0.2.60`, `192.0.2.60:47011`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| node.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies(vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()])
    }

    fn from(peer: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            req = req.append_header((*k, *v));
        }
        proxies().client_of(&req.to_http_request())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(
            from("203.0.113.9:5000", &[("x-forwarded-for", "198.51.100.1")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            from("203.0.113.9:5000", &[("forwarded", "for=198.51.100.1")]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_names_the_client() {
        assert_eq!(
            from("10.1.2.3:5000", &[("x-forwarded-for", "198.51.100.1")]),
            ip("198.51.100.1")
        );
        assert_eq!(
            from(
                "10.1.2.3:5000",
                &[("forwarded", r#"for="[2001:db8::1]:4711";proto=https"#)]
            ),
            ip("2001:db8::1")
        );
        assert_eq!(
            from("127.0.0.1:5000", &[("forwarded", "for=192.0.2.60:47011")]),
            ip("192.0.2.60")
        );
    }

    #[test]
    fn hops_are_read_from_the_nearest_past_trusted_proxies_only() {
        // A client that sends its own X-Forwarded-For gets it prepended to: the spoofed
        // entry is further away than the first untrusted hop, so it is never read.
        assert_eq!(
            from(
                "10.1.2.3:5000",
                &[("x-forwarded-for", "6.6.6.6, 198.51.100.1, 10.9.9.9")]
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            from(
                "10.1.2.3:5000",
                &[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.1")]
            ),
            ip("198.51.100.1")
        );
        assert_eq!(
            from("10.1.2.3:5000", &[("x-forwarded-for", "10.8.8.8")]),
            ip("10.8.8.8")
        );
    }

    #[test]
    fn headers_that_do_not_parse_leave_the_peer() {
        assert_eq!(
            from("10.1.2.3:5000", &[("x-forwarded-for", "not-an-ip")]),
            ip("10.1.2.3")
        );
        assert_eq!(from("10.1.2.3:5000", &[("forwarded", "for=_hidden")]), ip("10.1.2.3"));
        assert_eq!(from("10.1.2.3:5000", &[("forwarded", "proto=https")]), ip("10.1.2.3"));
        assert_eq!(from("10.1.2.3:5000", &[]), ip("10.1.2.3"));
    }
}
