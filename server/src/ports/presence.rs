//! The `Presence` port: who is online, away or offline, per user across devices and instances.
//! In-process by default; Redis keys with a TTL when `CHEMCHAT_REDIS_URL` is set, so a crashed
//! instance's connections time out on their own.

use crate::domain::{TenantId, UserId};
use async_trait::async_trait;
use std::fmt::Debug;
use std::time::Duration;

/// A user's status, as `presence.updated` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// No live connection.
    Offline,
    /// Connected, but every device says it is idle.
    Away,
    /// At least one device is active.
    Online,
}

impl Status {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Offline => "offline",
            Status::Away => "away",
            Status::Online => "online",
        }
    }

    /// Parses the wire form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "offline" => Some(Status::Offline),
            "away" => Some(Status::Away),
            "online" => Some(Status::Online),
            _ => None,
        }
    }
}

/// A user's aggregate presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPresence {
    /// The best status over the user's live connections.
    pub status: Status,
    /// Last activity seen from any of them, Unix milliseconds (0 if never).
    pub last_seen_ms: i64,
}

/// Presence could not be read or written (Redis down); presence degrades, messages do not.
#[derive(Debug, thiserror::Error)]
#[error("presence unavailable: {0}")]
pub struct PresenceError(#[source] pub anyhow::Error);

/// Per-connection presence records that expire unless refreshed.
#[async_trait]
pub trait Presence: Send + Sync + Debug + 'static {
    /// Records (or refreshes) one connection's status for `ttl`; returns the user's aggregate.
    async fn set(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        status: Status,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<UserPresence, PresenceError>;

    /// Forgets one connection; returns the user's aggregate afterwards.
    async fn remove(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        now_ms: i64,
    ) -> Result<UserPresence, PresenceError>;

    /// The aggregate of each user, in the order given.
    async fn get(
        &self,
        tenant: &TenantId,
        users: &[UserId],
        now_ms: i64,
    ) -> Result<Vec<UserPresence>, PresenceError>;
}
