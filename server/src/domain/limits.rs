//! Rate limits: what a caller can repeat, against whose budget, and how fast by default.
//!
//! Every action is charged to a user (what one account can do, whichever socket or request it
//! uses), a tenant (what a whole tenant can do, so one customer cannot starve the others), an
//! address (unauthenticated routes) or an account name (logins). The defaults are human-speed
//! for users — a person types well under 10 messages a second, and bursts cover pasting or a
//! client flushing its offline queue — and scale with the tier for tenants. They follow the
//! same idea as Synapse's `rc_*` settings (a rate plus a burst per action) with more room for
//! chat bots, and are overridden with `CHEMCHAT_RATE_LIMITS` (see [`RateTable::parse`]).

use super::{TenantId, Tier, UserId, ValidationError};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// A budget: `count` actions per `per` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Actions per period.
    pub count: u32,
    /// The period.
    pub per: Duration,
    /// Actions allowed at once after a quiet spell.
    pub burst: u32,
}

impl Rate {
    const fn new(count: u32, per_seconds: u64, burst: u32) -> Self {
        Self {
            count,
            per: Duration::from_secs(per_seconds),
            burst,
        }
    }

    /// The time one action costs: the budget refills one action per interval.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s".to_owned(),
            60 => "min".to_owned(),
            3600 => "h".to_owned(),
            other => format!("{other} s"),
        };
        write!(f, "{}/{unit}, burst {}", self.count, self.burst)
    }
}

/// Something a caller can repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sending a message (REST and WebSocket count together).
    SendMessage,
    /// Editing or deleting a message.
    EditMessage,
    /// Adding or removing a reaction.
    React,
    /// Creating a conversation.
    CreateConversation,
    /// Adding, removing or changing members.
    ChangeMembers,
    /// Searching messages.
    Search,
    /// Uploading media (starting an upload: multipart, or announcing a direct one).
    Upload,
    /// Downloading media the server streams.
    Download,
    /// Reading a media item's metadata, or asking for a direct upload to be checked.
    MediaRead,
    /// Logging in.
    Login,
    /// Registering an account.
    Register,
    /// Presenting a TOTP code (only failures are kept).
    MfaCode,
    /// Opening a WebSocket.
    Connect,
    /// Looking people up: directory searches and profile reads.
    Lookup,
    /// Changing one's own profile.
    ProfileChange,
    /// Changing one's password (every attempt counts, so the current password cannot be
    /// guessed through it).
    PasswordChange,
    /// An administrator's or moderator's action on an account, and reads of the admin API.
    Administer,
    /// Reporting a message to the moderators.
    Report,
    /// Exporting or deleting one's own account: heavy, and rare for anyone honest.
    AccountData,
    /// Asking for a password reset or a proof-of-address mail, and redeeming its token: each
    /// mail lands in someone's inbox, so a flood is spam sent in our name.
    Recovery,
    /// Moving one's read or delivered pointer (each is a stored write and an event).
    Receipt,
}

impl Action {
    /// Every action, for documentation and parsing.
    pub const ALL: [Action; 21] = [
        Action::SendMessage,
        Action::EditMessage,
        Action::React,
        Action::CreateConversation,
        Action::ChangeMembers,
        Action::Search,
        Action::Upload,
        Action::Download,
        Action::MediaRead,
        Action::Login,
        Action::Register,
        Action::MfaCode,
        Action::Connect,
        Action::Lookup,
        Action::ProfileChange,
        Action::PasswordChange,
        Action::Administer,
        Action::Report,
        Action::AccountData,
        Action::Recovery,
        Action::Receipt,
    ];

    /// The name in errors, metrics and `CHEMCHAT_RATE_LIMITS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SendMessage => "message.send",
            Action::EditMessage => "message.edit",
            Action::React => "reaction",
            Action::CreateConversation => "conversation.create",
            Action::ChangeMembers => "member.change",
            Action::Search => "search",
            Action::Upload => "upload",
            Action::Download => "download",
            Action::MediaRead => "media.read",
            Action::Login => "login",
            Action::Register => "register",
            Action::MfaCode => "mfa.code",
            Action::Connect => "connect",
            Action::Lookup => "user.lookup",
            Action::ProfileChange => "profile.change",
            Action::PasswordChange => "password.change",
            Action::Administer => "admin",
            Action::Report => "report",
            Action::AccountData => "account.data",
            Action::Recovery => "recovery",
            Action::Receipt => "receipt",
        }
    }
}

/// Whose budget an action is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One user of one tenant.
    User,
    /// A whole tenant.
    Tenant,
    /// One client address (IPv6 by /64).
    Address,
    /// One login name of one tenant, whoever tries it.
    Account,
}

impl Scope {
    /// The name in errors and `CHEMCHAT_RATE_LIMITS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Tenant => "tenant",
            Scope::Address => "address",
            Scope::Account => "account",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Scope::User, Scope::Tenant, Scope::Address, Scope::Account]
            .into_iter()
            .find(|scope| scope.as_str() == raw)
    }
}

/// The budgets an action is charged to by default, per tier (free, pro, enterprise).
fn defaults(action: Action, scope: Scope, tier: Tier) -> Option<Rate> {
    let by_tier = |free: Rate, pro: Rate, enterprise: Rate| match tier {
        Tier::Free => free,
        Tier::Pro => pro,
        Tier::Enterprise => enterprise,
    };
    let rate = match (action, scope) {
        (Action::SendMessage, Scope::User) => Rate::new(10, 1, 30),
        (Action::SendMessage, Scope::Tenant) => by_tier(
            Rate::new(50, 1, 150),
            Rate::new(500, 1, 1_500),
            Rate::new(5_000, 1, 15_000),
        ),
        (Action::EditMessage, Scope::User) => Rate::new(5, 1, 20),
        (Action::React, Scope::User) => Rate::new(10, 1, 30),
        (Action::CreateConversation, Scope::User) => Rate::new(30, 60, 30),
        (Action::CreateConversation, Scope::Tenant) => by_tier(
            Rate::new(60, 60, 120),
            Rate::new(600, 60, 1_200),
            Rate::new(6_000, 60, 12_000),
        ),
        (Action::ChangeMembers, Scope::User) => Rate::new(60, 60, 60),
        (Action::Search, Scope::User) => Rate::new(2, 1, 10),
        (Action::Search, Scope::Tenant) => by_tier(
            Rate::new(10, 1, 30),
            Rate::new(100, 1, 300),
            Rate::new(1_000, 1, 3_000),
        ),
        (Action::Upload, Scope::User) => Rate::new(20, 60, 20),
        (Action::Upload, Scope::Address) => Rate::new(60, 60, 60),
        (Action::Upload, Scope::Tenant) => by_tier(
            Rate::new(60, 60, 120),
            Rate::new(600, 60, 1_200),
            Rate::new(6_000, 60, 12_000),
        ),
        // A conversation view loads a thumbnail per attachment in sight, at once.
        (Action::Download, Scope::User) => Rate::new(20, 1, 200),
        (Action::Download, Scope::Tenant) => by_tier(
            Rate::new(200, 1, 1_000),
            Rate::new(2_000, 1, 10_000),
            Rate::new(20_000, 1, 100_000),
        ),
        (Action::MediaRead, Scope::User) => Rate::new(20, 1, 100),
        (Action::MediaRead, Scope::Tenant) => by_tier(
            Rate::new(200, 1, 1_000),
            Rate::new(2_000, 1, 10_000),
            Rate::new(20_000, 1, 100_000),
        ),
        (Action::Login, Scope::Address) => Rate::new(30, 60, 30),
        (Action::Login, Scope::Account) => Rate::new(10, 60, 10),
        (Action::Register, Scope::Address) => Rate::new(10, 3_600, 5),
        (Action::Register, Scope::Tenant) => by_tier(
            Rate::new(30, 3_600, 30),
            Rate::new(300, 3_600, 300),
            Rate::new(3_000, 3_600, 3_000),
        ),
        (Action::MfaCode, Scope::User) => Rate::new(5, 900, 5),
        // Generous: after a deploy every client behind one office NAT reconnects at once.
        (Action::Connect, Scope::Address) => Rate::new(300, 60, 300),
        // A client renders a screen of names at once, then looks up as someone types.
        (Action::Lookup, Scope::User) => Rate::new(5, 1, 50),
        (Action::Lookup, Scope::Tenant) => by_tier(
            Rate::new(50, 1, 200),
            Rate::new(500, 1, 2_000),
            Rate::new(5_000, 1, 20_000),
        ),
        (Action::ProfileChange, Scope::User) => Rate::new(10, 60, 10),
        (Action::PasswordChange, Scope::User) => Rate::new(5, 3_600, 5),
        (Action::PasswordChange, Scope::Address) => Rate::new(30, 3_600, 30),
        (Action::Administer, Scope::User) => Rate::new(2, 1, 60),
        (Action::Report, Scope::User) => Rate::new(30, 3_600, 10),
        (Action::AccountData, Scope::User) => Rate::new(6, 3_600, 3),
        (Action::AccountData, Scope::Address) => Rate::new(30, 3_600, 10),
        (Action::Recovery, Scope::User) => Rate::new(5, 3_600, 5),
        // A client acknowledges as messages arrive and as the user scrolls.
        (Action::Receipt, Scope::User) => Rate::new(20, 1, 100),
        (Action::Recovery, Scope::Account) => Rate::new(5, 3_600, 5),
        (Action::Recovery, Scope::Address) => Rate::new(20, 3_600, 20),
        (Action::Recovery, Scope::Tenant) => by_tier(
            Rate::new(100, 3_600, 100),
            Rate::new(1_000, 3_600, 1_000),
            Rate::new(10_000, 3_600, 10_000),
        ),
        _ => return None,
    };
    Some(rate)
}

/// The rates in force: the defaults, with the configured overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateTable {
    overrides: Vec<(Action, Scope, Rate)>,
}

impl RateTable {
    /// Parses `CHEMCHAT_RATE_LIMITS`: comma-separated `<action>.<scope>=<count>/<period>` with
    /// an optional `+<burst>` (default: the count), periods `s`, `min`, `h`; for example
    /// `message.send.user=20/s+60,register.address=100/h`. `<count>` 0 is refused: a limit that
    /// refuses everything is a switch, not a rate.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let bad = |item: &str, why: &str| {
            ValidationError::new(
                "CHEMCHAT_RATE_LIMITS",
                format!("'{item}': {why} (expected <action>.<scope>=<count>/<s|min|h>[+<burst>])"),
            )
        };
        let mut overrides = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, rate) = item.split_once('=').ok_or_else(|| bad(item, "no '='"))?;
            let (action, scope) = name.rsplit_once('.').ok_or_else(|| bad(item, "no scope"))?;
            let action = Action::ALL
                .into_iter()
                .find(|a| a.as_str() == action)
                .ok_or_else(|| bad(item, "unknown action"))?;
            let scope = Scope::parse(scope).ok_or_else(|| bad(item, "unknown scope"))?;
            let (rate, burst) = match rate.split_once('+') {
                Some((rate, burst)) => (rate, Some(burst)),
                None => (rate, None),
            };
            let (count, period) = rate.split_once('/').ok_or_else(|| bad(item, "no '/'"))?;
            let count: u32 = count
                .trim()
                .parse()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| bad(item, "count must be a positive number"))?;
            let per = match period.trim() {
                "s" => 1,
                "min" => 60,
                "h" => 3_600,
                _ => return Err(bad(item, "period must be s, min or h")),
            };
            let burst = match burst {
                Some(burst) => burst
                    .trim()
                    .parse()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| bad(item, "burst must be a positive number"))?,
                None => count,
            };
            overrides.push((action, scope, Rate::new(count, per, burst)));
        }
        Ok(Self { overrides })
    }

    /// The budget of `action` for `scope` in a tenant of `tier`; `None` when that scope is not
    /// limited for the action.
    pub fn rate(&self, action: Action, scope: Scope, tier: Tier) -> Option<Rate> {
        self.overrides
            .iter()
            .rev()
            .find(|(a, s, _)| *a == action && *s == scope)
            .map(|(_, _, rate)| *rate)
            .or_else(|| defaults(action, scope, tier))
    }
}

/// Who is charged, as the limiter's key: `<action>.<scope>:<subject>`, owned by the subject's
/// tenant. Tenants, users and accounts carry the tenant; addresses do not (one address flooding
/// many tenants is one address).
pub fn limit_key(action: Action, scope: Scope, subject: &Subject<'_>) -> BudgetKey {
    let name = format!("{}.{}", action.as_str(), scope.as_str());
    let (tenant, name) = match subject {
        Subject::User(tenant, user) => (Some(*tenant), format!("{name}:{tenant}:{user}")),
        Subject::Tenant(tenant) => (Some(*tenant), format!("{name}:{tenant}")),
        Subject::Address(ip) => (None, format!("{name}:{}", address_key(*ip))),
        Subject::Account(tenant, login) => (
            Some(*tenant),
            format!("{name}:{tenant}:{}", login.to_lowercase()),
        ),
    };
    BudgetKey {
        tenant: tenant.cloned(),
        name,
    }
}

/// One budget's key: the tenant whose budget it is (none for a client address, which is the same
/// in every tenant) and its name, unique on its own. A shared limiter keeps a tenant's budgets
/// with the tenant's other data (in Redis, under the tenant's prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BudgetKey {
    /// The tenant the budget belongs to.
    pub tenant: Option<TenantId>,
    /// `<action>.<scope>:<subject>`.
    pub name: String,
}

impl BudgetKey {
    /// A budget of no tenant's (a client address's, or a test's).
    pub fn shared(name: impl Into<String>) -> Self {
        Self {
            tenant: None,
            name: name.into(),
        }
    }
}

/// The subject of one budget.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A user of a tenant.
    User(&'a TenantId, UserId),
    /// A tenant.
    Tenant(&'a TenantId),
    /// A client address.
    Address(IpAddr),
    /// A login name of a tenant.
    Account(&'a TenantId, &'a str),
}

impl Subject<'_> {
    /// The scope this subject is charged in.
    pub fn scope(&self) -> Scope {
        match self {
            Subject::User(..) => Scope::User,
            Subject::Tenant(_) => Scope::Tenant,
            Subject::Address(_) => Scope::Address,
            Subject::Account(..) => Scope::Account,
        }
    }
}

/// An address as a budget key: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64,
/// so keying by full address would give it 2^64 budgets).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_defaults_and_bad_items_are_named() {
        let table =
            RateTable::parse("message.send.user=20/s+60, register.address=100/h").expect("parses");
        assert_eq!(
            table.rate(Action::SendMessage, Scope::User, Tier::Free),
            Some(Rate::new(20, 1, 60))
        );
        assert_eq!(
            table.rate(Action::Register, Scope::Address, Tier::Pro),
            Some(Rate::new(100, 3_600, 100))
        );
        assert_eq!(
            table.rate(Action::MfaCode, Scope::User, Tier::Free),
            Some(Rate::new(5, 900, 5))
        );
        assert_eq!(table.rate(Action::MfaCode, Scope::Tenant, Tier::Free), None);
        for bad in [
            "message.send.user",
            "message.send=1/s",
            "nope.user=1/s",
            "search.user=0/s",
            "search.user=1/day",
            "search.user=1/s+x",
        ] {
            let error = RateTable::parse(bad).expect_err(bad);
            assert!(error.message.contains(bad), "{error:?}");
        }
        assert_eq!(RateTable::parse("").expect("empty"), RateTable::default());
    }

    #[test]
    fn tenant_budgets_grow_with_the_tier() {
        let table = RateTable::default();
        let rate = |tier| {
            table
                .rate(Action::SendMessage, Scope::Tenant, tier)
                .expect("limited")
                .count
        };
        assert!(rate(Tier::Free) < rate(Tier::Pro));
        assert!(rate(Tier::Pro) < rate(Tier::Enterprise));
    }

    #[test]
    fn ipv6_addresses_share_a_budget_per_64() {
        let tenant = TenantId::parse("acme").expect("tenant");
        let key = |ip: &str| {
            limit_key(
                Action::Login,
                Scope::Address,
                &Subject::Address(ip.parse().unwrap()),
            )
        };
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:10.0.0.1"), key("10.0.0.1"));
        assert_eq!(key("10.0.0.1").tenant, None, "an address is no tenant's");
        let user = UserId::generate();
        let budget = limit_key(
            Action::SendMessage,
            Scope::User,
            &Subject::User(&tenant, user),
        );
        assert!(budget.name.starts_with("message.send.user:acme:"));
        assert_eq!(budget.tenant, Some(tenant));
    }
}
