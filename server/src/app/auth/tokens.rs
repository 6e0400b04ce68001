//! JSON Web Tokens: three kinds, one pinned algorithm, one audience per kind, one key per
//! tenant (`keys.rs`).

use super::keys::{KeyPair, SigningKeys};
use crate::domain::{DeviceId, SessionId, TenantId, UserId};
use jsonwebtoken::{Algorithm, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Duration, OffsetDateTime};

pub(super) const ISSUER: &str = "chemchat";
/// HMAC-SHA256 only: the algorithm is never taken from the token header, so `none` or an
/// RSA/HMAC confusion cannot be smuggled in.
pub(super) const ALGORITHM: Algorithm = Algorithm::HS256;

/// The three kinds of token. Each has its own audience, so one can never stand in for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Calls the REST API; 15 minutes.
    Access,
    /// Obtains new tokens; 7 days, bound to a device.
    Refresh,
    /// Opens a WebSocket; 1 hour.
    WebSocket,
}

impl TokenKind {
    fn audience(self) -> &'static str {
        match self {
            TokenKind::Access => "chemchat:access",
            TokenKind::Refresh => "chemchat:refresh",
            TokenKind::WebSocket => "chemchat:ws",
        }
    }

    /// How long a token of this kind lives by default.
    pub fn lifetime(self) -> Duration {
        match self {
            TokenKind::Access => Duration::minutes(15),
            TokenKind::Refresh => Duration::days(7),
            TokenKind::WebSocket => Duration::hours(1),
        }
    }
}

/// The claims every ChemChat token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience: the token kind.
    pub aud: String,
    /// The user.
    pub sub: UserId,
    /// The tenant; a token is only valid for its own tenant.
    pub tid: String,
    /// The session (refresh-token family).
    pub sid: SessionId,
    /// The device the session is bound to.
    pub did: String,
    /// Unique token id; for refresh tokens, what rotation compares.
    pub jti: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Authentication methods satisfied (`pwd`, and `otp` after an MFA step-up).
    #[serde(default)]
    pub amr: Vec<String>,
}

/// Who is calling, as established by a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Tenant.
    pub tenant: TenantId,
    /// User.
    pub user: UserId,
    /// Session.
    pub session: SessionId,
    /// Device.
    pub device: DeviceId,
}

/// A freshly signed token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The compact JWT.
    pub token: String,
    /// Its id.
    pub jti: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Valid once, now expired.
    #[error("token expired")]
    Expired,
    /// Malformed, wrongly signed, wrong kind, or unreadable claims.
    #[error("invalid token")]
    Invalid,
}

/// Signs and verifies each tenant's tokens with that tenant's key.
pub struct TokenIssuer {
    keys: SigningKeys,
    /// How long WebSocket tokens live (a connection closes when its token expires).
    ws_lifetime: Duration,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenIssuer {{ keys: {:?} }}", self.keys)
    }
}

impl TokenIssuer {
    /// A token service signing with `keys`.
    pub fn new(keys: SigningKeys) -> Self {
        Self {
            keys,
            ws_lifetime: TokenKind::WebSocket.lifetime(),
        }
    }

    /// `tenant`'s key, or the error of a server that holds none for it.
    pub(super) fn key_of(&self, tenant: &TenantId) -> Result<KeyPair, TokenError> {
        self.keys.of(tenant).ok_or(TokenError::Invalid)
    }

    /// `tenant`'s VAPID key for Web Push; `None` when this server holds no key for it.
    pub fn vapid(&self, tenant: &TenantId) -> Option<crate::ports::VapidKey> {
        self.keys.vapid(tenant)
    }

    /// Issues WebSocket tokens that live `lifetime` (at least a second).
    pub fn with_ws_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.ws_lifetime = Duration::try_from(lifetime)
            .unwrap_or(Duration::hours(1))
            .max(Duration::seconds(1));
        self
    }

    fn lifetime(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::WebSocket => self.ws_lifetime,
            other => other.lifetime(),
        }
    }

    /// Signs a token of `kind` for `principal`, with the key of the principal's tenant.
    pub fn issue(
        &self,
        kind: TokenKind,
        principal: &Principal,
        amr: &[&str],
        now: OffsetDateTime,
    ) -> Result<Issued, jsonwebtoken::errors::Error> {
        let key = self
            .key_of(&principal.tenant)
            .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        let expires_at = now + self.lifetime(kind);
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: kind.audience().to_owned(),
            sub: principal.user,
            tid: principal.tenant.to_string(),
            sid: principal.session,
            did: principal.device.to_string(),
            jti: uuid::Uuid::now_v7().to_string(),
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
        };
        let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key.encoding)?;
        Ok(Issued {
            token,
            jti: claims.jti,
            expires_in: self.lifetime(kind).whole_seconds(),
            expires_at,
        })
    }

    /// Verifies a token of `kind` for `tenant`: signature under `tenant`'s key, algorithm,
    /// issuer, audience, expiry, and a `tid` naming `tenant`.
    pub fn verify(
        &self,
        kind: TokenKind,
        tenant: &TenantId,
        token: &str,
    ) -> Result<(Principal, Claims), TokenError> {
        let key = self.key_of(tenant)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[kind.audience()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            },
        )?;
        let claims = data.claims;
        let principal = Principal {
            tenant: TenantId::parse(&claims.tid).map_err(|_| TokenError::Invalid)?,
            user: claims.sub,
            session: claims.sid,
            device: DeviceId::parse(&claims.did).map_err(|_| TokenError::Invalid)?,
        };
        if principal.tenant != *tenant {
            return Err(TokenError::Invalid);
        }
        Ok((principal, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            tenant: TenantId::parse("acme").unwrap(),
            user: UserId::generate(),
            session: SessionId::generate(),
            device: DeviceId::parse("laptop").unwrap(),
        }
    }

    #[test]
    fn each_kind_only_verifies_as_itself() {
        let issuer = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let p = principal();
        let now = OffsetDateTime::now_utc();
        for kind in [TokenKind::Access, TokenKind::Refresh, TokenKind::WebSocket] {
            let token = issuer.issue(kind, &p, &["pwd"], now).unwrap().token;
            for other in [TokenKind::Access, TokenKind::Refresh, TokenKind::WebSocket] {
                let verified = issuer.verify(other, &p.tenant, &token);
                assert_eq!(verified.is_ok(), kind == other, "{kind:?} as {other:?}");
            }
            assert_eq!(issuer.verify(kind, &p.tenant, &token).unwrap().0, p);
        }
    }

    #[test]
    fn expired_wrong_key_and_alg_none_are_refused() {
        let issuer = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let p = principal();
        let old = OffsetDateTime::now_utc() - Duration::hours(2);
        let expired = issuer.issue(TokenKind::Access, &p, &[], old).unwrap().token;
        assert_eq!(
            issuer.verify(TokenKind::Access, &p.tenant, &expired),
            Err(TokenError::Expired)
        );

        let other = TokenIssuer::new(SigningKeys::master(&[8; 32]));
        let foreign = other
            .issue(TokenKind::Access, &p, &[], OffsetDateTime::now_utc())
            .unwrap();
        assert_eq!(
            issuer.verify(TokenKind::Access, &p.tenant, &foreign.token),
            Err(TokenError::Invalid)
        );

        // An unsigned token with `alg: none` and the same claims.
        let parts: Vec<&str> = foreign.token.split('.').collect();
        let none = format!(
            "{}.{}.",
            base64_url(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert_eq!(
            issuer.verify(TokenKind::Access, &p.tenant, &none),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            issuer.verify(TokenKind::Access, &p.tenant, "not.a.jwt"),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn each_tenant_has_its_own_key() {
        let master = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let acme = principal();
        let globex = Principal {
            tenant: TenantId::parse("globex").unwrap(),
            ..principal()
        };
        let now = OffsetDateTime::now_utc();
        let token = master
            .issue(TokenKind::Access, &acme, &[], now)
            .unwrap()
            .token;
        // Valid for its own tenant only, even on a server holding every key.
        assert!(
            master
                .verify(TokenKind::Access, &acme.tenant, &token)
                .is_ok()
        );
        assert_eq!(
            master.verify(TokenKind::Access, &globex.tenant, &token),
            Err(TokenError::Invalid)
        );

        // A server given acme's derived key alone verifies what the master signed for acme…
        let key = chemchat_backends::TenantKey::derive(&[7; 32], "acme");
        let pinned = TokenIssuer::new(SigningKeys::tenant(acme.tenant.clone(), key.clone()));
        assert_eq!(
            pinned
                .verify(TokenKind::Access, &acme.tenant, &token)
                .unwrap()
                .0,
            acme
        );
        // …and signs nothing for globex; what it signs claiming globex fails under globex's key.
        assert!(pinned.issue(TokenKind::Access, &globex, &[], now).is_err());
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: "chemchat:access".to_owned(),
            sub: globex.user,
            tid: "globex".to_owned(),
            sid: globex.session,
            did: "laptop".to_owned(),
            jti: "forged".to_owned(),
            iat: now.unix_timestamp(),
            exp: now.unix_timestamp() + 600,
            amr: Vec::new(),
        };
        let forged = jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key.bytes()),
        )
        .unwrap();
        assert_eq!(
            master.verify(TokenKind::Access, &globex.tenant, &forged),
            Err(TokenError::Invalid)
        );
        // Nor does the master secret itself sign anyone's tokens.
        let raw = jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &Claims {
                tid: "acme".to_owned(),
                ..claims
            },
            &jsonwebtoken::EncodingKey::from_secret(&[7; 32]),
        )
        .unwrap();
        assert_eq!(
            master.verify(TokenKind::Access, &acme.tenant, &raw),
            Err(TokenError::Invalid)
        );
    }

    fn base64_url(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn debug_does_not_show_the_key() {
        assert!(
            !format!(
                "{:?}",
                TokenIssuer::new(SigningKeys::master(b"super-secret-key-super-secret-key"))
            )
            .contains("super")
        );
    }
}
