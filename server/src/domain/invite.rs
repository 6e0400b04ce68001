//! Who may register in a tenant: anyone (open), or only someone holding an invitation an
//! administrator made. An invitation's code is a [`MailToken`](super::MailToken): it is shown
//! once, to the administrator who made it, and the store keeps only its hash.

use super::ValidationError;

/// Longest an invitation may stay good: 90 days.
pub const MAX_INVITE_LIFETIME_MS: i64 = 90 * 86_400_000;
/// How long an invitation stays good unless told otherwise: 7 days.
pub const DEFAULT_INVITE_LIFETIME_MS: i64 = 7 * 86_400_000;
/// Most registrations one invitation admits.
pub const MAX_INVITE_USES: u32 = 10_000;

/// Who may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationMode {
    /// Anyone who reaches the tenant.
    #[default]
    Open,
    /// Only holders of a valid invitation.
    InviteOnly,
}

impl RegistrationMode {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::InviteOnly => "invite",
        }
    }

    /// Parses the stored and wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(RegistrationMode::Open),
            "invite" => Some(RegistrationMode::InviteOnly),
            _ => None,
        }
    }
}

/// How many registrations an invitation admits: `None` is unlimited until it expires.
pub fn invite_uses(raw: Option<i64>) -> Result<Option<u32>, ValidationError> {
    raw.map(|n| {
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_INVITE_USES).contains(n))
            .ok_or_else(|| ValidationError::new("maxUses", format!("1 to {MAX_INVITE_USES}")))
    })
    .transpose()
}

/// When an invitation made at `now_ms` expires: `requested` (in the future, within
/// [`MAX_INVITE_LIFETIME_MS`]) or the default.
pub fn invite_expiry(now_ms: i64, requested: Option<i64>) -> Result<i64, ValidationError> {
    match requested {
        None => Ok(now_ms + DEFAULT_INVITE_LIFETIME_MS),
        Some(at) if at > now_ms && at - now_ms <= MAX_INVITE_LIFETIME_MS => Ok(at),
        Some(_) => Err(ValidationError::new(
            "expiresAt",
            "in the future, at most 90 days ahead",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_limits_hold() {
        for mode in [RegistrationMode::Open, RegistrationMode::InviteOnly] {
            assert_eq!(RegistrationMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(RegistrationMode::parse("closed"), None);
        assert_eq!(invite_uses(None).ok(), Some(None));
        assert_eq!(invite_uses(Some(5)).ok(), Some(Some(5)));
        assert!(invite_uses(Some(0)).is_err());
        assert!(invite_uses(Some(10_001)).is_err());
        assert_eq!(
            invite_expiry(0, None).ok(),
            Some(DEFAULT_INVITE_LIFETIME_MS)
        );
        assert_eq!(invite_expiry(0, Some(1_000)).ok(), Some(1_000));
        assert!(invite_expiry(1_000, Some(1_000)).is_err());
        assert!(invite_expiry(0, Some(MAX_INVITE_LIFETIME_MS + 1)).is_err());
    }
}
