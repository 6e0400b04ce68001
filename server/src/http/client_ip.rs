//! The client's address: the TCP peer, or — when the peer is a trusted proxy
//! (`CHEMCHAT_TRUSTED_PROXIES`) — the right-most address in `Forwarded` / `X-Forwarded-For` that
//! is not itself a trusted proxy. Headers from anyone else are ignored, so a client cannot pick
//! the address its limits are counted against.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The client's address as the edge decided it (in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses comma-separated CIDRs or addresses (`10.0.0.0/8, 2001:db8::/32, 127.0.0.1`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("'{item}' is not a CIDR or an address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, reading the forwarding headers only when `peer` is trusted.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Hops in the order they were appended: the right-most is the one our proxy saw.
        let hops = forwarded_for(headers);
        hops.iter()
            .rev()
            .copied()
            .find(|hop| !self.trusts(*hop))
            .or_else(|| hops.first().copied())
            .unwrap_or(peer)
    }
}

/// IPv4-mapped IPv6 addresses as plain IPv4, so `10.0.0.0/8` matches `::ffff:10.1.2.3`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of `Forwarded: for=…` (RFC 7239) when present, else of `X-Forwarded-For`, in
/// header order. Unparseable hops (obfuscated identifiers, `unknown`) are skipped.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<IpAddr> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for")
                    .then(|| node_address(value))?
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(node_address)
        .collect()
}

/// One node: `192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80`.
fn node_address(raw: &str) -> Option<IpAddr> {
    let node = raw.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    node.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// Middleware: decides the client's address once per request and records it as [`ClientAddr`].
pub async fn resolve(proxies: Arc<TrustedProxies>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let client = proxies.client(peer, request.headers());
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 2001:db8::/32").unwrap();
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        assert_eq!(proxies.client(ip("10.1.1.1"), &spoofed), ip("1.2.3.4"));
        // The client prepended a fake hop; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.2.2.2")]);
        assert_eq!(proxies.client(ip("10.1.1.1"), &chain), ip("198.51.100.7"));
        let forwarded = headers(&[
            (
                "forwarded",
                r#"for=6.6.6.6;proto=https, for="[2001:db8:cafe::17]:4711""#,
            ),
            ("forwarded", "for=192.0.2.60;by=10.0.0.1"),
        ]);
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.1"), &forwarded),
            ip("192.0.2.60")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9, 10.8.8.8")]);
        assert_eq!(proxies.client(ip("10.0.0.1"), &all_trusted), ip("10.9.9.9"));
        let nobody = TrustedProxies::default();
        assert_eq!(nobody.client(ip("10.1.1.1"), &spoofed), ip("10.1.1.1"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }
}
