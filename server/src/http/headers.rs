//! Response headers every answer carries (no sniffing, no referrer, no framing, no caching of
//! API answers, HSTS when configured, a strict CSP on HTML), and CORS for the origins
//! `CHEMCHAT_CORS_ORIGINS` lists — none by default, so browsers on other origins are refused.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The content security policy of every HTML page: the page's own scripts and styles only,
/// calls to this origin only, and never inside a frame.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the edge's headers depend on.
#[derive(Debug, Clone, Default)]
pub struct HeaderSettings {
    /// Browser origins allowed to call the API (exact `scheme://host[:port]`).
    pub cors_origins: Vec<HeaderValue>,
    /// `Strict-Transport-Security` max-age; `None` leaves it out (plain-HTTP development).
    pub hsts_seconds: Option<u64>,
}

impl HeaderSettings {
    /// Parses `CHEMCHAT_CORS_ORIGINS` (comma-separated origins, or empty).
    pub fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let url =
                    url::Url::parse(origin).map_err(|_| format!("'{origin}' is not a URL"))?;
                let serialised = url.origin().ascii_serialization();
                if serialised != origin.trim_end_matches('/') || serialised == "null" {
                    return Err(format!(
                        "'{origin}' is not an origin (scheme://host[:port], no path)"
                    ));
                }
                HeaderValue::from_str(&serialised).map_err(|e| e.to_string())
            })
            .collect()
    }

    /// Whether a browser page of `origin` may open a WebSocket here: a listed origin, or this
    /// server's own (`host` is the request's `Host`).
    pub fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        if self.cors_origins.iter().any(|allowed| allowed == origin) {
            return true;
        }
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        let Some(origin_host) = url.host_str() else {
            return false;
        };
        let origin_authority = match url.port() {
            Some(port) => format!("{origin_host}:{port}"),
            None => origin_host.to_owned(),
        };
        host.is_some_and(|host| host.eq_ignore_ascii_case(&origin_authority))
    }
}

/// Adds the headers and, when origins are configured, CORS (preflights answered here).
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    settings: &HeaderSettings,
) -> Router<S> {
    let mut router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Answers carry tokens and private messages: no shared or browser cache keeps them.
        // Pages and assets that may be cached say so themselves.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if let Some(seconds) = settings.hsts_seconds
        && let Ok(value) = HeaderValue::from_str(&format!("max-age={seconds}; includeSubDomains"))
    {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            value,
        ));
    }
    if !settings.cors_origins.is_empty() {
        router = router.layer(cors(&settings.cors_origins));
    }
    router
}

fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-tenant-id"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_the_servers_own_is_allowed() {
        let origins =
            HeaderSettings::parse_origins("https://chat.example.com, http://localhost:5173")
                .expect("parses");
        assert_eq!(origins.len(), 2);
        assert!(HeaderSettings::parse_origins("https://chat.example.com/app").is_err());
        assert!(HeaderSettings::parse_origins("chat.example.com").is_err());
        let settings = HeaderSettings {
            cors_origins: origins,
            hsts_seconds: None,
        };
        assert!(settings.allows_origin("https://chat.example.com", Some("api.example.com")));
        assert!(!settings.allows_origin("https://evil.example", Some("api.example.com")));
        assert!(settings.allows_origin("http://localhost:3000", Some("localhost:3000")));
        assert!(!settings.allows_origin("http://localhost:3001", Some("localhost:3000")));
        assert!(!settings.allows_origin("null", Some("localhost:3000")));
    }
}
