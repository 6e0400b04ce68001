//! Values a user supplies about themselves: names, email, password, device.

use super::ValidationError;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Longest password accepted. Argon2 cost grows with input length, so an unbounded password would
/// be a cheap way to burn server CPU.
const MAX_PASSWORD_CHARS: usize = 1024;
const MIN_PASSWORD_CHARS: usize = 12;

/// A username: 3–32 characters of `a-z 0-9 _ . -`. Input is lower-cased first so `Alice` and
/// `alice` are the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let lower = raw.to_lowercase();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
        if lower.chars().count() > 32 {
            return Err(ValidationError::new(
                "username",
                "must be at most 32 characters",
            ));
        }
        if lower.len() < 3 || !lower.chars().all(allowed) {
            return Err(ValidationError::new(
                "username",
                "must be 3-32 characters of a-z, 0-9, '_', '.' and '-'",
            ));
        }
        Ok(Self(lower))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, lower-cased. Only the shape is checked here; ownership is a separate concern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an email address.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let lower = raw.trim().to_lowercase();
        if lower.len() > 254 {
            return Err(ValidationError::new(
                "email",
                "must be at most 254 characters",
            ));
        }
        let valid = match lower.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !lower.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if valid {
            Ok(Self(lower))
        } else {
            Err(ValidationError::new(
                "email",
                "must be an email address like name@example.com",
            ))
        }
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a user types to log in: their username or their email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName(String);

impl LoginName {
    /// Parses a login name; it is matched case-insensitively.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let lower = raw.trim().to_lowercase();
        if lower.is_empty() {
            return Err(ValidationError::new("username", "is required"));
        }
        if lower.len() > 254 {
            return Err(ValidationError::new(
                "username",
                "must be at most 254 characters",
            ));
        }
        Ok(Self(lower))
    }

    /// The login name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name shown to other users: 1–64 characters, trimmed, nothing invisible
/// ([`super::text::check_visible`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("displayName", "is required"));
        }
        if trimmed.chars().count() > 64 {
            return Err(ValidationError::new(
                "displayName",
                "must be at most 64 characters",
            ));
        }
        super::text::check_visible("displayName", trimmed)?;
        Ok(Self(trimmed.to_owned()))
    }

    /// The display name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a display name that was validated before it was stored.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }
}

/// A password in clear text, only ever held long enough to hash or verify it. `Debug` redacts it.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    /// Parses a new password: 12 to 1024 characters.
    pub fn parse_new(raw: String) -> Result<Self, ValidationError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                "must be at least 12 characters",
            ));
        }
        Self::parse_existing(raw)
    }

    /// Parses a password presented at login; length rules are not re-checked (they may change),
    /// only the upper bound that protects the hasher.
    pub fn parse_existing(raw: String) -> Result<Self, ValidationError> {
        if raw.chars().count() > MAX_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                "must be at most 1024 characters",
            ));
        }
        Ok(Self(SecretString::from(raw)))
    }

    /// The clear text, for the hasher.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A client-chosen device identifier that refresh tokens are bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceId(String);

impl DeviceId {
    /// Parses a device id: 1–128 characters of `A-Z a-z 0-9 . _ : -`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:-".contains(c);
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(allowed) {
            return Err(ValidationError::new(
                "deviceId",
                "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A fresh device id for clients that did not send one.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse("Alice_01").map(|u| u.0),
            Ok("alice_01".into())
        );
        for bad in ["ab", "has space", "émile", &"x".repeat(33), "semi;colon"] {
            assert_eq!(
                Username::parse(bad).map_err(|e| e.field),
                Err("username"),
                "{bad}"
            );
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Bob@Example.COM ").map(|e| e.0),
            Ok("bob@example.com".into())
        );
        for bad in [
            "bob",
            "bob@",
            "@example.com",
            "bob@example",
            "b ob@example.com",
            "a@b@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(Password::parse_new("short".into()).is_err());
        assert!(Password::parse_new("twelve chars".into()).is_ok());
        assert!(Password::parse_new("x".repeat(1025)).is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        let password = Password::parse_new("correct horse battery".into()).expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn display_names_and_devices() {
        assert!(DisplayName::parse("  ").is_err());
        assert!(DisplayName::parse("Ada\u{7}").is_err());
        assert_eq!(
            DisplayName::parse(" مرحبا 👋 ").map(|d| d.0),
            Ok("مرحبا 👋".into())
        );
        assert!(DeviceId::parse("phone:ios-17.2_a").is_ok());
        assert!(DeviceId::parse("").is_err());
        assert!(DeviceId::parse("bad/slash").is_err());
    }
}
