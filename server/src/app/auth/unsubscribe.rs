//! The token of a digest's unsubscribe link: it names one user of one tenant, is signed with
//! that tenant's key under an audience of its own (so it is never a session token or a media
//! grant), and lives a year — the mail it sits in may be read long after it was sent.

use super::keys::claimed_tenant;
use super::tokens::{ALGORITHM, ISSUER, TokenError, TokenIssuer};
use crate::domain::{TenantId, UserId};
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const AUDIENCE: &str = "chemchat:mail-unsubscribe";
const LIFETIME: time::Duration = time::Duration::days(365);

#[derive(Debug, Serialize, Deserialize)]
struct UnsubscribeClaims {
    iss: String,
    aud: String,
    sub: UserId,
    tid: String,
    exp: i64,
}

impl TokenIssuer {
    /// A token that turns off `user`'s digest mail.
    pub fn issue_unsubscribe(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self
            .key_of(tenant)
            .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        let claims = UnsubscribeClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user,
            tid: tenant.to_string(),
            exp: (OffsetDateTime::now_utc() + LIFETIME).unix_timestamp(),
        };
        jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key.encoding)
    }

    /// The tenant and user an unsubscribe token names, once its signature under that tenant's
    /// key, its audience and its expiry are checked.
    pub fn verify_unsubscribe(&self, token: &str) -> Result<(TenantId, UserId), TokenError> {
        let tenant = claimed_tenant(token).ok_or(TokenError::Invalid)?;
        let key = self.key_of(&tenant)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<UnsubscribeClaims>(token, &key.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.tid != tenant.as_str() {
            return Err(TokenError::Invalid);
        }
        Ok((tenant, claims.sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::auth::{SigningKeys, TokenKind};

    #[test]
    fn an_unsubscribe_token_is_nothing_else() {
        let issuer = TokenIssuer::new(SigningKeys::master(&[7; 32]));
        let acme = TenantId::parse("acme").expect("valid");
        let user = UserId::generate();
        let token = issuer.issue_unsubscribe(&acme, user).expect("signed");
        assert_eq!(issuer.verify_unsubscribe(&token), Ok((acme.clone(), user)));
        assert!(issuer.verify(TokenKind::Access, &acme, &token).is_err());
        let other = TokenIssuer::new(SigningKeys::master(&[8; 32]));
        assert_eq!(other.verify_unsubscribe(&token), Err(TokenError::Invalid));
        let mut forged = token.clone();
        forged.push('x');
        assert_eq!(issuer.verify_unsubscribe(&forged), Err(TokenError::Invalid));
    }
}
