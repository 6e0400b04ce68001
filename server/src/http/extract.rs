//! Extractors: JSON bodies with our error shape, the tenant, the authenticated caller, the client
//! address.

use super::HttpState;
use super::client_ip::ClientAddr;
use super::error::ApiError;
use crate::app::ErrorCode;
use crate::app::auth::{Principal, TokenKind};
use crate::domain::{ClientInfo, Tenant};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Header naming the tenant explicitly.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// A JSON body; every rejection becomes an [`ApiError`] that says what was wrong.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected a JSON body with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            ErrorCode::InvalidBody,
            format!("malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            ErrorCode::InvalidBody,
            format!("invalid body: {}", e.body_text()),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
        }
        other => ApiError::new(ErrorCode::InvalidBody, other.body_text()),
    }
}

/// The tenant of the request: the `X-Tenant-ID` header, else the host's first label when the
/// host has a subdomain (`acme.chat.example.com`, `acme.localhost`), else the default.
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Tenant);

impl FromRequestParts<HttpState> for CurrentTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        let explicit = parts
            .headers
            .get(TENANT_HEADER)
            .map(|v| v.to_str().unwrap_or("").trim());
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let tenant = state
            .app
            .resolve_tenant(explicit, host.and_then(subdomain))
            .await?;
        Ok(Self(tenant))
    }
}

/// The tenant label of a host name, if it has one.
pub(crate) fn subdomain(host: &str) -> Option<&str> {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    if name.parse::<IpAddr>().is_ok() || name.starts_with('[') {
        return None;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let has_subdomain = labels.len() >= 3 || (labels.len() == 2 && labels[1] == "localhost");
    (has_subdomain && labels[0] != "www").then_some(labels[0])
}

/// The authenticated caller: a valid access token of this request's tenant, on a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant.
    pub tenant: Tenant,
    /// Who.
    pub principal: Principal,
}

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        let CurrentTenant(tenant) = CurrentTenant::from_request_parts(parts, state).await?;
        let token = bearer(parts).ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "missing Authorization: Bearer token",
            )
        })?;
        let principal = state
            .app
            .authenticate(&tenant, TokenKind::Access, token)
            .await?;
        Ok(Self { tenant, principal })
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The client's address (the TCP peer).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts)))
    }
}

/// The client's address, decided once per request by `client_ip::resolve` (trusted proxies'
/// headers); the peer's when that did not run.
pub(super) fn client_ip(parts: &Parts) -> IpAddr {
    match parts.extensions.get::<ClientAddr>() {
        Some(ClientAddr(ip)) => *ip,
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip()),
    }
}

/// The client as the audit trail records it: its address and `User-Agent`.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        Ok(Self(ClientInfo::new(ip, agent)))
    }
}

/// Tells a JSON field sent as `null` (`Some(None)`) from a field not sent (`None`), for PATCH
/// bodies where `null` clears a value: `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::subdomain;

    #[test]
    fn tenant_from_host() {
        assert_eq!(subdomain("acme.chat.example.com"), Some("acme"));
        assert_eq!(subdomain("acme.localhost:3000"), Some("acme"));
        assert_eq!(subdomain("localhost:3000"), None);
        assert_eq!(subdomain("example.com"), None);
        assert_eq!(subdomain("www.example.com"), None);
        assert_eq!(subdomain("127.0.0.1:3000"), None);
        assert_eq!(subdomain("[::1]:3000"), None);
    }
}
