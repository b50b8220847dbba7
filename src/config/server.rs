//! `[server]`: the listeners (API, metrics, TLS), request limits, CORS, logging, and which
//! proxies may name the client.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::defaults;

#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    /// Address the HTTP API listens on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Largest request body accepted on the API, in bytes.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// Where Prometheus metrics are served (`GET /metrics`), apart from the API; none if absent.
    #[serde(default)]
    pub metrics_bind: Option<SocketAddr>,
    /// `text` (human) or `json` (one JSON object per line).
    #[serde(default)]
    pub log_format: LogFormat,
    /// Browser origins that may call the API (CORS); none by default. Never `*`: the API hands
    /// out keys.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// A second listener serving the same API over TLS (rustls), for clients that refuse plain
    /// HTTP to anything but loopback (the AWS SDKs' container-credentials provider).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Peers (CIDRs) whose `Forwarded` / `X-Forwarded-For` headers name the real client: the
    /// load balancers in front of the service. Requests from anyone else are taken as coming
    /// from their own address, whatever headers they send.
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header a trusted proxy names the client in: `x-forwarded-for` (`HAProxy`'s
    /// `option forwardfor`, nginx, AWS ALB) or `forwarded` (RFC 7239). The other is never
    /// read: a balancer passes a client's own copy of it through untouched.
    #[serde(default)]
    pub client_address_header: ClientAddressHeader,
}

/// Where a trusted proxy puts the client's address (`server.client_address_header`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum ClientAddressHeader {
    /// `X-Forwarded-For`, appended to by every proxy on the way.
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=...` (RFC 7239).
    #[serde(rename = "forwarded")]
    Forwarded,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TlsConfig {
    pub bind: SocketAddr,
    /// PEM certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}
