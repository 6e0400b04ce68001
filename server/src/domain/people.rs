//! People in a tenant: their tenant role, whether their account may be used, what they say
//! about themselves, and who is asking (for the audit trail).
//!
//! A tenant role is not a conversation role ([`super::Role`]): it says what someone may do to
//! the tenant as a whole — administer accounts, act on reports — whatever conversations they
//! are in.

use super::ValidationError;
use std::fmt;
use std::net::IpAddr;

/// What someone may do in their tenant, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantRole {
    /// Uses the chat.
    Member,
    /// Acts on reports: deletes messages, warns, mutes and suspends members.
    Moderator,
    /// Everything a moderator can, plus accounts (roles below admin, MFA resets, bans), settings
    /// and the audit log.
    Admin,
    /// Everything, including making and removing admins and owners.
    Owner,
}

impl TenantRole {
    /// Every role, least first.
    pub const ALL: [TenantRole; 4] = [
        TenantRole::Member,
        TenantRole::Moderator,
        TenantRole::Admin,
        TenantRole::Owner,
    ];

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantRole::Member => "member",
            TenantRole::Moderator => "moderator",
            TenantRole::Admin => "admin",
            TenantRole::Owner => "owner",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    /// Parses a role a client sent, naming `field` when it is not one.
    pub fn parse_field(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        Self::parse(raw).ok_or_else(|| {
            ValidationError::new(field, "must be one of owner, admin, moderator, member")
        })
    }

    /// Moderators and above see the moderation queue and act on people.
    pub fn moderates(self) -> bool {
        self >= TenantRole::Moderator
    }

    /// Admins and owners manage accounts, settings and read the audit log.
    pub fn administers(self) -> bool {
        self >= TenantRole::Admin
    }

    /// Whether this role may act on an account holding `target` (suspend it, reset its MFA):
    /// only on roles strictly below, so moderators cannot suspend each other and admins
    /// cannot act on owners. Owners may act on anyone but other owners' roles are changed
    /// only through [`TenantRole::may_assign`].
    pub fn may_act_on(self, target: TenantRole) -> bool {
        self == TenantRole::Owner || (self.moderates() && target < self)
    }

    /// Whether this role may change someone from `from` to `to`: owners change anything,
    /// admins only below admin (both the old and the new role), the rest nothing.
    pub fn may_assign(self, from: TenantRole, to: TenantRole) -> bool {
        match self {
            TenantRole::Owner => true,
            TenantRole::Admin => from < TenantRole::Admin && to < TenantRole::Admin,
            _ => false,
        }
    }
}

impl fmt::Display for TenantRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an account may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Normal.
    Active,
    /// Refused until the time given (Unix milliseconds); active again afterwards.
    Suspended {
        /// When the suspension ends, Unix milliseconds.
        until_ms: i64,
    },
    /// Refused for good (until an admin lifts it).
    Banned,
}

impl AccountStatus {
    /// The stored and wire form of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended { .. } => "suspended",
            AccountStatus::Banned => "banned",
        }
    }

    /// The status as stored: a kind and, for a suspension, its end.
    pub fn from_stored(kind: &str, until_ms: Option<i64>) -> Option<Self> {
        match (kind, until_ms) {
            ("active", _) => Some(AccountStatus::Active),
            ("suspended", Some(until_ms)) => Some(AccountStatus::Suspended { until_ms }),
            ("banned", _) => Some(AccountStatus::Banned),
            _ => None,
        }
    }

    /// The end of a suspension, for storage.
    pub fn until_ms(self) -> Option<i64> {
        match self {
            AccountStatus::Suspended { until_ms } => Some(until_ms),
            _ => None,
        }
    }

    /// The status in force at `now_ms`: a suspension that has run out is active again.
    pub fn at(self, now_ms: i64) -> Self {
        match self {
            AccountStatus::Suspended { until_ms } if until_ms <= now_ms => AccountStatus::Active,
            other => other,
        }
    }

    /// Whether the account may log in and be used at `now_ms`.
    pub fn usable_at(self, now_ms: i64) -> bool {
        self.at(now_ms) == AccountStatus::Active
    }
}

/// What someone says about themselves next to their name: at most 140 characters, trimmed,
/// nothing invisible; empty clears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusText(String);

impl StatusText {
    /// Longest status text, in characters.
    pub const MAX_CHARS: usize = 140;

    /// Parses a status text.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "statusText",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if !trimmed.is_empty() {
            super::text::check_visible("statusText", trimmed)?;
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a moderator or administrator acted: 1–500 characters, kept in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// Parses a reason.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("reason", "is required"));
        }
        if trimmed.chars().count() > 500 {
            return Err(ValidationError::new(
                "reason",
                "must be at most 500 characters",
            ));
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ValidationError::new(
                "reason",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A directory search: a prefix of a username or display name, lower-cased, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePrefix(String);

impl NamePrefix {
    /// Parses the `q` of a directory search.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("q", "is required"));
        }
        if trimmed.chars().count() > 64 {
            return Err(ValidationError::new("q", "must be at most 64 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "q",
                "must not contain control characters",
            ));
        }
        Ok(Self(name_key(trimmed)))
    }

    /// The lower-cased prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What becomes of a deleted user's messages: the tenant's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletedMessages {
    /// They stay, shown as sent by "Deleted user" (the conversation's history stays whole).
    #[default]
    Keep,
    /// They become tombstones, like messages their sender deleted.
    Erase,
}

impl DeletedMessages {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletedMessages::Keep => "keep",
            DeletedMessages::Erase => "erase",
        }
    }

    /// Parses the stored and wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "keep" => Some(DeletedMessages::Keep),
            "erase" => Some(DeletedMessages::Erase),
            _ => None,
        }
    }
}

/// The name a deleted account shows in place of the one it had.
pub const DELETED_USER_NAME: &str = "Deleted user";

/// The form of a name the directory matches on: lower-cased, so a prefix finds "Ada" as "ada".
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Who made a request, as the audit trail records it. The user agent is cut to 256 characters
/// and stripped of control characters: it is the client's to choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub ip: IpAddr,
    /// The `User-Agent` header, when sent.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Longest user agent kept, in characters.
    pub const MAX_USER_AGENT: usize = 256;

    /// A client at `ip` that sent `user_agent`.
    pub fn new(ip: IpAddr, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(Self::MAX_USER_AGENT)
                    .collect::<String>()
            })
            .filter(|ua| !ua.trim().is_empty());
        Self { ip, user_agent }
    }

    /// A client known only by its address.
    pub fn at(ip: IpAddr) -> Self {
        Self {
            ip,
            user_agent: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TenantRole::*;

    #[test]
    fn roles_act_only_below_themselves() {
        assert!(Moderator.may_act_on(Member));
        assert!(!Moderator.may_act_on(Moderator));
        assert!(Admin.may_act_on(Moderator));
        assert!(!Admin.may_act_on(Admin));
        assert!(!Admin.may_act_on(Owner));
        assert!(Owner.may_act_on(Owner));
        assert!(!Member.may_act_on(Member));
    }

    #[test]
    fn admins_assign_below_admin_and_owners_anything() {
        assert!(Admin.may_assign(Member, Moderator));
        assert!(!Admin.may_assign(Member, Admin));
        assert!(!Admin.may_assign(Admin, Member));
        assert!(Owner.may_assign(Owner, Member));
        assert!(!Moderator.may_assign(Member, Member));
        for role in TenantRole::ALL {
            assert_eq!(TenantRole::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn a_suspension_runs_out() {
        let suspended = AccountStatus::Suspended { until_ms: 1_000 };
        assert!(!suspended.usable_at(999));
        assert!(suspended.usable_at(1_000));
        assert!(!AccountStatus::Banned.usable_at(i64::MAX));
        assert_eq!(
            AccountStatus::from_stored("suspended", Some(5)),
            Some(AccountStatus::Suspended { until_ms: 5 })
        );
        assert_eq!(AccountStatus::from_stored("suspended", None), None);
    }

    #[test]
    fn texts_and_prefixes_are_checked() {
        assert_eq!(StatusText::parse("  away  ").unwrap().as_str(), "away");
        assert_eq!(StatusText::parse("").unwrap().as_str(), "");
        assert!(StatusText::parse(&"x".repeat(141)).is_err());
        assert!(StatusText::parse("hi\u{202e}").is_err());
        assert_eq!(NamePrefix::parse(" Ada ").unwrap().as_str(), "ada");
        assert!(NamePrefix::parse(" ").is_err());
        assert!(NamePrefix::parse("a\u{0}").is_err());
    }

    #[test]
    fn user_agents_are_cut_and_cleaned() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let client = ClientInfo::new(ip, Some(&format!("a\nb{}", "x".repeat(400))));
        let ua = client.user_agent.unwrap();
        assert!(ua.starts_with("ab"));
        assert_eq!(ua.chars().count(), ClientInfo::MAX_USER_AGENT);
        assert_eq!(ClientInfo::new(ip, Some("  ")).user_agent, None);
    }
}
