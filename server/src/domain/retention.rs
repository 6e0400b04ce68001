//! How long messages are kept: a tenant's maximum (for every conversation), a conversation's own
//! shorter retention ("disappearing messages"), and legal holds that keep everything they cover.
//! Pure rules; the retention sweeper applies them.

use super::ValidationError;

/// The longest retention that can be set: ten years, in seconds.
pub const MAX_RETENTION_SECONDS: u32 = 10 * 366 * 86_400;

/// When a conversation's own retention starts counting for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetentionClock {
    /// From when it was sent.
    #[default]
    Sent,
    /// From when every member but its sender has read it (the tenant's maximum still counts
    /// from sending).
    Read,
}

impl RetentionClock {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionClock::Sent => "sent",
            RetentionClock::Read => "read",
        }
    }

    /// Parses the stored and wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sent" => Some(RetentionClock::Sent),
            "read" => Some(RetentionClock::Read),
            _ => None,
        }
    }

    /// Parses a client's value, naming the field when it is wrong.
    pub fn from_input(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        Self::parse(raw).ok_or_else(|| ValidationError::new(field, "expected sent or read"))
    }
}

/// A conversation's own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Messages older than this many seconds are deleted; `None`: the tenant's maximum rules.
    pub seconds: Option<u32>,
    /// Whether `seconds` count from sending or from being read by everyone.
    pub from: RetentionClock,
    /// A legal hold: nothing of the conversation is deleted by retention.
    pub legal_hold: bool,
}

/// A tenant's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TenantRetention {
    /// No message of the tenant is kept longer than this many seconds; `None`: for ever.
    pub max_seconds: Option<u32>,
    /// A legal hold on the whole tenant: retention deletes nothing.
    pub legal_hold: bool,
}

impl Retention {
    /// After how many seconds the conversation's messages go, under `tenant`'s rules; `None`
    /// when they stay (no retention, or a hold on either).
    pub fn effective(&self, tenant: &TenantRetention) -> Option<u32> {
        if self.legal_hold || tenant.legal_hold {
            return None;
        }
        match (self.seconds, tenant.max_seconds) {
            (Some(own), Some(max)) => Some(own.min(max)),
            (own, max) => own.or(max),
        }
    }
}

/// Checks a retention a client asked for: 1 second to ten years, and no longer than the
/// tenant's maximum.
pub fn retention_seconds(
    field: &'static str,
    raw: i64,
    tenant_max: Option<u32>,
) -> Result<u32, ValidationError> {
    let seconds = u32::try_from(raw)
        .ok()
        .filter(|s| (1..=MAX_RETENTION_SECONDS).contains(s))
        .ok_or_else(|| {
            ValidationError::new(
                field,
                format!("must be between 1 and {MAX_RETENTION_SECONDS} seconds"),
            )
        })?;
    if let Some(max) = tenant_max
        && seconds > max
    {
        return Err(ValidationError::new(
            field,
            format!("the tenant keeps messages at most {max} seconds"),
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_rule_wins_and_a_hold_keeps_everything() {
        let tenant = TenantRetention {
            max_seconds: Some(3600),
            legal_hold: false,
        };
        let own = |seconds| Retention {
            seconds,
            ..Retention::default()
        };
        assert_eq!(own(Some(60)).effective(&tenant), Some(60));
        assert_eq!(own(None).effective(&tenant), Some(3600));
        assert_eq!(
            own(Some(60)).effective(&TenantRetention::default()),
            Some(60)
        );
        assert_eq!(own(None).effective(&TenantRetention::default()), None);
        let held = Retention {
            seconds: Some(60),
            legal_hold: true,
            ..Retention::default()
        };
        assert_eq!(held.effective(&tenant), None);
        let tenant_held = TenantRetention {
            legal_hold: true,
            ..tenant
        };
        assert_eq!(own(Some(60)).effective(&tenant_held), None);
    }

    #[test]
    fn retention_is_bounded() {
        assert_eq!(retention_seconds("r", 60, None), Ok(60));
        assert!(retention_seconds("r", 0, None).is_err());
        assert!(retention_seconds("r", i64::from(MAX_RETENTION_SECONDS) + 1, None).is_err());
        assert!(retention_seconds("r", 7200, Some(3600)).is_err());
        assert_eq!(retention_seconds("r", 3600, Some(3600)), Ok(3600));
    }
}
