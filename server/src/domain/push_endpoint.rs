//! A browser's push subscription as a client hands it over: where its push service listens and
//! the keys its payloads are encrypted for. The endpoint is a URL the client chose, so the
//! server's requests to it are requests on the client's behalf: unless private endpoints are
//! allowed (development, tests), only `https` URLs whose host is a name or a public address.

use super::ValidationError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::LazyLock;

/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_CHARS: usize = 2048;

/// A checked subscription: endpoint and keys, base64url without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The push service's URL for the browser.
    pub endpoint: String,
    /// The browser's P-256 public key (65-byte uncompressed point).
    pub p256dh: String,
    /// The browser's 16-byte authentication secret.
    pub auth: String,
}

impl std::fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Endpoint and keys let anyone push to the browser.
        f.write_str("PushTarget(<redacted>)")
    }
}

impl PushTarget {
    /// Checks what a client sent.
    pub fn parse(
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        allow_private: bool,
    ) -> Result<Self, ValidationError> {
        if endpoint.chars().count() > MAX_ENDPOINT_CHARS {
            return Err(ValidationError::new(
                "endpoint",
                format!("at most {MAX_ENDPOINT_CHARS} characters"),
            ));
        }
        let url = url::Url::parse(endpoint)
            .map_err(|_| ValidationError::new("endpoint", "expected an absolute URL"))?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(ValidationError::new("endpoint", "expected an https URL"));
        }
        if !allow_private {
            endpoint_reachable(&url).map_err(|m| ValidationError::new("endpoint", m))?;
        }
        let key = decode("keys.p256dh", p256dh)?;
        if key.len() != 65 || key[0] != 4 || p256::PublicKey::from_sec1_bytes(&key).is_err() {
            return Err(ValidationError::new(
                "keys.p256dh",
                "expected an uncompressed P-256 public key (65 bytes, base64url)",
            ));
        }
        let secret = decode("keys.auth", auth)?;
        if secret.len() != 16 {
            return Err(ValidationError::new(
                "keys.auth",
                "expected a 16-byte secret, base64url",
            ));
        }
        Ok(Self {
            endpoint: url.to_string(),
            p256dh: URL_SAFE_NO_PAD.encode(key),
            auth: URL_SAFE_NO_PAD.encode(secret),
        })
    }
}

fn decode(field: &'static str, raw: &str) -> Result<Vec<u8>, ValidationError> {
    URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| ValidationError::new(field, "expected base64url"))
}

/// Whether the server may send to `url` when private endpoints are not allowed: `https`, and a
/// host that is a name (checked again after resolution) or a public address.
pub fn endpoint_reachable(url: &url::Url) -> Result<(), &'static str> {
    if url.scheme() != "https" {
        return Err("the endpoint must be an https URL");
    }
    match url.host() {
        Some(url::Host::Domain(name))
            if name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Err("the endpoint must be on a public address")
        }
        Some(url::Host::Domain(_)) => Ok(()),
        Some(url::Host::Ipv4(ip)) if is_public_address(IpAddr::V4(ip)) => Ok(()),
        Some(url::Host::Ipv6(ip)) if is_public_address(IpAddr::V6(ip)) => Ok(()),
        _ => Err("the endpoint must be on a public address"),
    }
}

static NOT_PUBLIC: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/3",
        "::/127",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// multicast, or an IPv4 address mapped into IPv6).
pub fn is_public_address(ip: IpAddr) -> bool {
    !NOT_PUBLIC.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn only_https_on_public_hosts_is_reached() {
        let check = |raw: &str| endpoint_reachable(&url::Url::parse(raw).unwrap());
        assert!(check("https://fcm.googleapis.com/fcm/send/abc").is_ok());
        assert!(check("https://8.8.8.8/x").is_ok());
        for refused in [
            "http://fcm.googleapis.com/x",
            "https://localhost/x",
            "https://a.localhost/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[fd00::1]/x",
        ] {
            assert!(check(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn keys_are_checked() {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let point = secret.public_key().to_encoded_point(false);
        let key = URL_SAFE_NO_PAD.encode(point.as_bytes());
        let key = key.as_str();
        let endpoint = "https://push.example.com/abc";
        assert!(PushTarget::parse(endpoint, key, AUTH, false).is_ok());
        assert!(PushTarget::parse(endpoint, &format!("{AUTH}=="), AUTH, false).is_err());
        assert!(PushTarget::parse(endpoint, key, "c2hvcnQ", false).is_err());
        assert!(PushTarget::parse("http://127.0.0.1:9/x", key, AUTH, false).is_err());
        assert!(PushTarget::parse("http://127.0.0.1:9/x", key, AUTH, true).is_ok());
        assert!(PushTarget::parse("ftp://push.example.com/x", key, AUTH, true).is_err());
    }
}
