//! Ports of notifications: where subscriptions and preferences are kept
//! ([`NotificationStore`]), and how a push reaches a browser's push service ([`PushSender`]).

use super::StoreResult;
use crate::domain::{
    ConversationId, ConversationKind, NotifyLevel, NotifyPreferences, PushSubscriptionId, TenantId,
    UserId,
};
use async_trait::async_trait;
use std::fmt::Debug;
use std::time::Duration;

/// A browser's Web Push subscription (the `PushSubscription` of the Push API).
#[derive(Clone, PartialEq, Eq)]
pub struct PushSubscription {
    /// Its id.
    pub id: PushSubscriptionId,
    /// Whose.
    pub user: UserId,
    /// The device it belongs to, as the client names it.
    pub device_id: Option<String>,
    /// The push service's URL for this browser (a capability: never logged).
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (RFC 8291 `ua_public`).
    pub p256dh: String,
    /// The browser's authentication secret, base64url (16 bytes).
    pub auth: String,
    /// Made at, Unix milliseconds.
    pub created_at_ms: i64,
}

impl Debug for PushSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The endpoint and keys let anyone push to the browser: kept out of logs.
        f.debug_struct("PushSubscription")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// A member's own notification setting for one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConversationNotifications {
    /// Their level here; `None`: their default.
    pub level: Option<NotifyLevel>,
    /// Nothing is pushed before this time (Unix milliseconds).
    pub snoozed_until_ms: Option<i64>,
}

/// A member of a conversation who can be pushed, with what decides whether they are.
#[derive(Debug, Clone)]
pub struct PushListener {
    /// Who.
    pub user: UserId,
    /// Their username, to find @mentions.
    pub username: String,
    /// Their setting for the conversation.
    pub conversation: ConversationNotifications,
    /// Their preferences.
    pub preferences: NotifyPreferences,
    /// Their browsers.
    pub subscriptions: Vec<PushSubscription>,
}

/// Who of a conversation can be pushed, and what a notification says of it.
#[derive(Debug, Clone)]
pub struct PushAudience {
    /// DM or group.
    pub kind: ConversationKind,
    /// The group's name.
    pub name: Option<String>,
    /// Members with at least one subscription.
    pub listeners: Vec<PushListener>,
}

/// Whom of a conversation a message may be mailed to, if no push reaches them first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailRecipients {
    /// A direct message: every member but its sender.
    Direct {
        /// Who sent it.
        sender: UserId,
    },
    /// A group message that @mentions these usernames (its sender excluded).
    Mentioned {
        /// Who sent it.
        sender: UserId,
        /// The lower-cased usernames it mentions.
        usernames: Vec<String>,
    },
}

/// One conversation of a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestLine {
    /// The conversation.
    pub conversation: ConversationId,
    /// DM or group.
    pub kind: ConversationKind,
    /// The group's name.
    pub name: Option<String>,
    /// Unread messages it stands for (DMs, or mentions in a group).
    pub unread: u32,
    /// The display names of who wrote them, first seen first, at most three.
    pub senders: Vec<String>,
}

/// A digest to mail: the address and what waits for the user.
#[derive(Clone, PartialEq, Eq)]
pub struct Digest {
    /// The verified address.
    pub email: String,
    /// Their display name.
    pub display_name: String,
    /// What waits, by conversation.
    pub lines: Vec<DigestLine>,
}

impl Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // An address is personal data: kept out of logs.
        f.debug_struct("Digest")
            .field("lines", &self.lines.len())
            .finish_non_exhaustive()
    }
}

/// Persistence of subscriptions and preferences.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Keeps a subscription. The same endpoint again (a browser re-subscribing) replaces the
    /// earlier row, whoever held it; `None` when the user holds `max_per_user` already.
    async fn save_push_subscription(
        &self,
        tenant: &TenantId,
        subscription: &PushSubscription,
        max_per_user: u32,
    ) -> StoreResult<Option<PushSubscription>>;

    /// Deletes a subscription; of `user` only when given. Whether one was deleted.
    async fn delete_push_subscription(
        &self,
        tenant: &TenantId,
        user: Option<UserId>,
        id: PushSubscriptionId,
    ) -> StoreResult<bool>;

    /// The user's subscriptions, oldest first.
    async fn push_subscriptions(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> StoreResult<Vec<PushSubscription>>;

    /// The user's preferences (the defaults when never set).
    async fn notification_preferences(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> StoreResult<NotifyPreferences>;

    /// Replaces the user's preferences.
    async fn set_notification_preferences(
        &self,
        tenant: &TenantId,
        user: UserId,
        preferences: &NotifyPreferences,
        at_ms: i64,
    ) -> StoreResult<()>;

    /// Replaces a member's setting for a conversation; `false` when they are not a member.
    async fn set_conversation_notifications(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        user: UserId,
        setting: ConversationNotifications,
    ) -> StoreResult<bool>;

    /// For each of `conversations` that exists, its members who hold a subscription: one read
    /// for a whole batch of messages, so the notifier's cost follows batches, not messages.
    async fn push_audiences(
        &self,
        tenant: &TenantId,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, PushAudience>>;

    /// Queues message `seq` of `conversation` for the digests of `recipients` (current members
    /// only), due at `due_at_ms`.
    async fn queue_mail(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        seq: i64,
        recipients: &MailRecipients,
        due_at_ms: i64,
    ) -> StoreResult<()>;

    /// A push reached `user` for `conversation` up to `seq`: nothing of it needs mailing.
    async fn mail_reached_by_push(
        &self,
        tenant: &TenantId,
        user: UserId,
        conversation: ConversationId,
        seq: i64,
    ) -> StoreResult<()>;

    /// A user, of any tenant, whose digest is due at `now_ms`.
    async fn next_digest(&self, now_ms: i64) -> StoreResult<Option<(TenantId, UserId)>>;

    /// Takes the user's queue in one transaction: what is still unread, not deleted, in a
    /// conversation they still belong to and did not silence, for a verified address that
    /// wants mail. `None` (the queue left due later) when their last digest went less than
    /// `gap_ms` ago; an empty digest when nothing is left to tell.
    async fn take_digest(
        &self,
        tenant: &TenantId,
        user: UserId,
        now_ms: i64,
        gap_ms: i64,
    ) -> StoreResult<Option<Digest>>;
}

/// A push to send: what the browser's service worker receives, and how the push service
/// should treat it.
#[derive(Debug, Clone)]
pub struct PushMessage {
    /// The payload (JSON), encrypted for the subscription before it leaves.
    pub payload: Vec<u8>,
    /// How long the push service keeps it for an offline browser.
    pub ttl: Duration,
    /// RFC 8030 `Urgency`: `high` for DMs and mentions, `normal` otherwise.
    pub urgency: &'static str,
    /// RFC 8030 `Topic`: a newer push with the same topic replaces an undelivered older one.
    pub topic: Option<String>,
}

/// What a push service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted (201).
    Accepted,
    /// The subscription is gone (404, 410): forget it.
    Gone,
    /// Try again later (429, 5xx, no answer), after the service's `Retry-After` when given.
    Retry(Option<Duration>),
    /// Refused for good (other 4xx: a payload or key the service will never take).
    Refused(u16),
}

/// A tenant's VAPID key pair (RFC 8292): pushes are signed with it, and browsers subscribe
/// with its public half as `applicationServerKey`.
#[derive(Clone)]
pub struct VapidKey {
    secret: p256::SecretKey,
    /// The public key, encoded once: every push's `Authorization` names it.
    public: String,
}

impl VapidKey {
    /// The key whose private scalar is `bytes`; `None` for the rare 32 bytes that are not one.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        use base64::Engine as _;
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::SecretKey::from_slice(bytes).ok()?;
        let point = secret.public_key().to_encoded_point(false);
        let public = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(point.as_bytes());
        Some(Self { secret, public })
    }

    /// The public key as browsers take it: the uncompressed P-256 point, base64url.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The private key, for signing.
    pub fn secret(&self) -> &p256::SecretKey {
        &self.secret
    }
}

impl Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey({}, <redacted>)", self.public_key())
    }
}

/// Sends Web Push messages (RFC 8030), encrypted (RFC 8291) and signed (VAPID, RFC 8292).
#[async_trait]
pub trait PushSender: Send + Sync + Debug + 'static {
    /// Sends one push to one subscription, signed with `vapid`.
    async fn send(
        &self,
        vapid: &VapidKey,
        subscription: &PushSubscription,
        message: &PushMessage,
    ) -> PushOutcome;
}
