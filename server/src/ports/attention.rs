//! The `Attention` port: which users have a conversation open right now (a socket of theirs
//! joined it), across every instance. The notifier pushes no one who is looking. Records expire
//! unless refreshed with the heartbeat, so a crashed instance's sockets stop counting on their
//! own. In-process by default; Redis when `CHEMCHAT_REDIS_URL` is set.

use crate::domain::{ConversationId, TenantId, UserId};
use async_trait::async_trait;
use std::collections::HashSet;
use std::fmt::Debug;
use std::time::Duration;

/// Who looks at which conversation, per connection.
#[async_trait]
pub trait Attention: Send + Sync + Debug + 'static {
    /// Records (or refreshes) that `connection` of `user` has each of `rooms` open, for `ttl`.
    async fn look(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        rooms: &[ConversationId],
        ttl: Duration,
        now_ms: i64,
    ) -> anyhow::Result<()>;

    /// Forgets that `connection` has each of `rooms` open (left, or the connection closed).
    async fn look_away(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        rooms: &[ConversationId],
    ) -> anyhow::Result<()>;

    /// The users with `conversation` open on some live connection.
    async fn looking(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        now_ms: i64,
    ) -> anyhow::Result<HashSet<UserId>>;
}
