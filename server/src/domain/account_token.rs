//! Secret tokens handed to one person: a password reset or the proof of an address (sent by
//! mail, single-use), an invitation code (shown once to the administrator who made it). The
//! token only travels to its holder; the store keeps its SHA-256, so a copy of the database
//! opens no account.

use super::ValidationError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Choosing a new password without the old one.
    PasswordReset,
    /// Proving the account's email address reaches its owner.
    EmailVerification,
}

impl TokenPurpose {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::EmailVerification => "email_verification",
        }
    }

    /// How long a token stays good, in milliseconds: a reset opens the account, so it is
    /// short; a proof of address only proves, so it waits for the owner to read their mail.
    pub fn lifetime_ms(self) -> i64 {
        match self {
            TokenPurpose::PasswordReset => 30 * 60 * 1000,
            TokenPurpose::EmailVerification => 24 * 60 * 60 * 1000,
        }
    }
}

/// A token: 32 random bytes, URL-safe base64 (43 characters). Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct MailToken(String);

impl MailToken {
    /// Characters of a token.
    const LENGTH: usize = 43;

    /// A fresh token.
    pub fn generate() -> Self {
        Self(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
    }

    /// A token a client sent back; refused unless it has a token's shape.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        let shaped = raw.len() == Self::LENGTH
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if shaped {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "token",
                "not a token this server sent",
            ))
        }
    }

    /// The token, to put in the mail.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: the SHA-256 of the token, in hex.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for MailToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MailToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_parse_back_and_hide_in_debug() {
        let token = MailToken::generate();
        assert_ne!(token, MailToken::generate());
        assert_eq!(MailToken::parse(token.expose()).unwrap(), token);
        assert_eq!(token.hash().len(), 64);
        assert_ne!(token.hash(), token.expose());
        assert!(!format!("{token:?}").contains(token.expose()));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", &"a".repeat(42)),
        ] {
            assert!(MailToken::parse(bad).is_err(), "{bad}");
        }
    }
}
