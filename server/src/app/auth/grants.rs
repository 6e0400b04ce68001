//! Grants: short-lived signed URLs' tokens for one transfer of one media item, for clients that
//! cannot send an `Authorization` header (a browser's `PUT` to an upload URL, an `<img src>`).
//! Signed with the key of the grant's tenant under their own audience, so a grant is never a
//! session token and a session token is never a grant.

use super::keys::claimed_tenant;
use super::tokens::{ALGORITHM, ISSUER, TokenError, TokenIssuer};
use crate::domain::{MediaId, TenantId, UserId};
use jsonwebtoken::{Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantKind {
    /// Uploading the bytes of an announced direct upload.
    Upload,
    /// Reading one variant of an item.
    Download,
}

impl GrantKind {
    fn audience(self) -> &'static str {
        match self {
            GrantKind::Upload => "chemchat:media-upload",
            GrantKind::Download => "chemchat:media-download",
        }
    }
}

/// One transfer of one item, by one user of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Upload or download.
    pub kind: GrantKind,
    /// Tenant.
    pub tenant: TenantId,
    /// The user it was issued to.
    pub user: UserId,
    /// The item.
    pub media: MediaId,
    /// For a download: the variant's name.
    pub variant: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct GrantClaims {
    iss: String,
    aud: String,
    sub: UserId,
    tid: String,
    mid: MediaId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    var: Option<String>,
    exp: i64,
}

impl TokenIssuer {
    /// Signs `grant` until `expires_at`.
    pub fn issue_grant(
        &self,
        grant: &Grant,
        expires_at: OffsetDateTime,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self
            .key_of(&grant.tenant)
            .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        let claims = GrantClaims {
            iss: ISSUER.to_owned(),
            aud: grant.kind.audience().to_owned(),
            sub: grant.user,
            tid: grant.tenant.to_string(),
            mid: grant.media,
            var: grant.variant.clone(),
            exp: expires_at.unix_timestamp(),
        };
        jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key.encoding)
    }

    /// Verifies a grant of `kind`: signature under the key of the tenant it names, algorithm,
    /// issuer, audience and expiry (no leeway: the URL's lifetime is the promise). A signed URL
    /// carries no tenant header, so the grant's own `tid` picks the key.
    pub fn verify_grant(&self, kind: GrantKind, token: &str) -> Result<Grant, TokenError> {
        let tenant = claimed_tenant(token).ok_or(TokenError::Invalid)?;
        let key = self.key_of(&tenant)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[kind.audience()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<GrantClaims>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?
            .claims;
        if claims.tid != tenant.as_str() {
            return Err(TokenError::Invalid);
        }
        Ok(Grant {
            kind,
            tenant,
            user: claims.sub,
            media: claims.mid,
            variant: claims.var,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::auth::{SigningKeys, TokenKind};

    fn grant(kind: GrantKind) -> Grant {
        Grant {
            kind,
            tenant: TenantId::parse("acme").expect("valid"),
            user: UserId::generate(),
            media: MediaId::generate(),
            variant: Some("thumb".into()),
        }
    }

    #[test]
    fn a_grant_verifies_only_as_its_own_kind() {
        let issuer = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let later = OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let upload = grant(GrantKind::Upload);
        let token = issuer.issue_grant(&upload, later).expect("signed");
        assert_eq!(
            issuer.verify_grant(GrantKind::Upload, &token),
            Ok(upload.clone())
        );
        assert_eq!(
            issuer.verify_grant(GrantKind::Download, &token),
            Err(TokenError::Invalid)
        );
        assert!(
            issuer
                .verify(TokenKind::Access, &upload.tenant, &token)
                .is_err()
        );
    }

    #[test]
    fn a_grant_verifies_only_under_its_tenants_key() {
        let later = OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let globex = Grant {
            tenant: TenantId::parse("globex").expect("valid"),
            ..grant(GrantKind::Download)
        };
        let master = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let token = master.issue_grant(&globex, later).expect("signed");
        assert_eq!(
            master.verify_grant(GrantKind::Download, &token),
            Ok(globex.clone())
        );
        let acme = TenantId::parse("acme").expect("valid");
        let key = chemchat_backends::TenantKey::derive(&[7; 32], "acme");
        let pinned = TokenIssuer::new(SigningKeys::tenant(acme, key));
        assert_eq!(
            pinned.verify_grant(GrantKind::Download, &token),
            Err(TokenError::Invalid),
            "acme's server holds no key for globex's grants"
        );
        assert!(pinned.issue_grant(&globex, later).is_err());
    }

    #[test]
    fn an_expired_grant_is_refused() {
        let issuer = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let past = OffsetDateTime::now_utc() - time::Duration::seconds(2);
        let token = issuer
            .issue_grant(&grant(GrantKind::Download), past)
            .expect("signed");
        assert_eq!(
            issuer.verify_grant(GrantKind::Download, &token),
            Err(TokenError::Expired)
        );
    }
}
