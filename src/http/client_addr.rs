//! The client's address, as the audit records it and the party fingerprint uses it. Behind a
//! load balancer the TCP peer is the balancer; only when the peer is one of
//! `server.trusted_proxies` is its forwarding header believed, and only the one header
//! `server.client_address_header` names: a balancer that sets `X-Forwarded-For` passes a
//! client's own `Forwarded` through untouched (and the reverse), so the other header is the
//! client's claim and never read, not even as a fallback. The hops it lists are read from the
//! nearest back, skipping trusted proxies, and the first untrusted one is the client. A header
//! that is absent or does not parse leaves the peer's own address (never a guess).

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderName};
use ipnet::IpNet;

use crate::config::ClientAddressHeader;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The trusted proxies and the header they name the client in, as the handlers receive them.
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ClientAddressHeader,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ClientAddressHeader) -> Self {
        Self { nets, header }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The address the request came from: the peer, or the client a trusted peer names.
    pub fn client_of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops = match self.header {
            ClientAddressHeader::XForwardedFor => x_forwarded_for(req),
            ClientAddressHeader::Forwarded => forwarded_for(req),
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

    fn proxies(header: ClientAddressHeader) -> TrustedProxies {
        TrustedProxies::new(
            vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()],
            header,
        )
    }

    fn via(header: ClientAddressHeader, peer: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            req = req.append_header((*k, *v));
        }
        proxies(header).client_of(&req.to_http_request())
    }

    /// Behind proxies that set `X-Forwarded-For` (the default).
    fn from(peer: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        via(ClientAddressHeader::XForwardedFor, peer, headers)
    }

    /// Behind proxies that set `Forwarded`.
    fn from_rfc7239(peer: &str, headers: &[(&str, &str)]) -> Option<IpAddr> {
        via(ClientAddressHeader::Forwarded, peer, headers)
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
            from_rfc7239("203.0.113.9:5000", &[("forwarded", "for=198.51.100.1")]),
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
            from_rfc7239(
                "10.1.2.3:5000",
                &[("forwarded", r#"for="[2001:db8::1]:4711";proto=https"#)]
            ),
            ip("2001:db8::1")
        );
        assert_eq!(
            from_rfc7239("127.0.0.1:5000", &[("forwarded", "for=192.0.2.60:47011")]),
            ip("192.0.2.60")
        );
    }

    #[test]
    fn only_the_configured_header_is_read_the_other_is_the_clients_claim() {
        // HAProxy's `option forwardfor` appends X-Forwarded-For and passes the client's own
        // Forwarded through: the forged address must lose.
        let forged = [("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "198.51.100.1")];
        assert_eq!(from("10.1.2.3:5000", &forged), ip("198.51.100.1"));
        // And the reverse, behind a proxy that sets Forwarded.
        let forged = [("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=198.51.100.1")];
        assert_eq!(from_rfc7239("10.1.2.3:5000", &forged), ip("198.51.100.1"));
    }

    #[test]
    fn without_the_configured_header_the_peer_is_the_client_never_the_other_header() {
        assert_eq!(from("10.1.2.3:5000", &[("forwarded", "for=6.6.6.6")]), ip("10.1.2.3"));
        assert_eq!(
            from_rfc7239("10.1.2.3:5000", &[("x-forwarded-for", "6.6.6.6")]),
            ip("10.1.2.3")
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
        assert_eq!(
            from_rfc7239("10.1.2.3:5000", &[("forwarded", "for=_hidden")]),
            ip("10.1.2.3")
        );
        assert_eq!(
            from_rfc7239("10.1.2.3:5000", &[("forwarded", "proto=https")]),
            ip("10.1.2.3")
        );
        assert_eq!(from("10.1.2.3:5000", &[]), ip("10.1.2.3"));
    }
}
