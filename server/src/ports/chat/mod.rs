//! The chat part of the store: conversations, members, messages, reactions, receipts, and the
//! event log that is at once the outbox and the source of delta sync.
//!
//! **Invariant**: every change and its event are written in one transaction, and each
//! conversation numbers its messages (`seq`) and its events (`event_seq`) under its own row lock,
//! so both sequences are gap-free and commit in order on either engine.

mod event;
mod event_text;
mod types;
mod wire;

pub use event::{
    ConversationUpdated, EventKind, EventPayload, MemberAdded, MemberMuted, MemberRemoved,
    ReactionChanged, ReceiptRead, StoredEvent,
};
pub use event_text::MessageText;
pub use types::*;
pub use wire::{
    ChatEvent, ConversationView, MediaView, MemberView, MessageView, ReactionView, VariantView,
    rfc3339,
};

use super::StoreResult;
use crate::domain::{ConversationId, MessageId, Role, TenantId, UserId};
use async_trait::async_trait;
use std::fmt::Debug;

/// Persistence of conversations and messages. Each method is one transaction.
#[async_trait]
pub trait ChatStore: Send + Sync + Debug + 'static {
    /// Creates a conversation with its members (or returns the existing DM of the pair), within
    /// the tenant's conversation quota.
    async fn create_conversation(
        &self,
        tenant: &TenantId,
        new: &NewConversation,
        max_conversations: Option<u64>,
    ) -> StoreResult<ConversationCreation>;

    /// A conversation, if `viewer` is a current member.
    async fn conversation(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>>;

    /// The user's conversations, most recent activity first, after `after`.
    async fn conversations_of(
        &self,
        tenant: &TenantId,
        user: UserId,
        after: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationSummary>>;

    /// Adds members (or changes the role of existing ones), applying the role rules.
    async fn add_members(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        actor: UserId,
        members: &[(UserId, Role)],
        at_ms: i64,
    ) -> StoreResult<MembershipOutcome>;

    /// Removes `target` (leaves, when `target == actor`), applying the role rules.
    async fn remove_member(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        actor: UserId,
        target: UserId,
        at_ms: i64,
    ) -> StoreResult<MembershipOutcome>;

    /// Renames a group or changes who may post and how often (owners and admins).
    async fn update_conversation(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        actor: UserId,
        change: &ConversationChange,
        at_ms: i64,
    ) -> StoreResult<MembershipOutcome>;

    /// Mutes a member until a time, or lifts the mute, applying `domain::may_mute`.
    async fn mute_member(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        change: &MuteChange,
    ) -> StoreResult<MembershipOutcome>;

    /// Sends a message: dedupe, next seq, insert, event; within the daily quota when given.
    async fn send_message(
        &self,
        tenant: &TenantId,
        message: &NewMessage,
        quota: Option<DailyQuota>,
    ) -> StoreResult<SendOutcome>;

    /// A page of history in seq order, if `viewer` is a current member.
    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        viewer: UserId,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<Option<Vec<Message>>>;

    /// A message's earlier versions, oldest first, if `viewer` is a current member.
    async fn message_edits(
        &self,
        tenant: &TenantId,
        id: MessageId,
        viewer: UserId,
    ) -> StoreResult<Option<Vec<MessageEdit>>>;

    /// Edits a message (author only), keeping the old text in the edit history.
    async fn edit_message(
        &self,
        tenant: &TenantId,
        edit: &MessageEditRequest,
    ) -> StoreResult<MessageChange>;

    /// Turns a message into a tombstone (author or moderator): text, edits and reactions gone.
    async fn delete_message(
        &self,
        tenant: &TenantId,
        id: MessageId,
        actor: UserId,
        at_ms: i64,
    ) -> StoreResult<MessageChange>;

    /// Adds or removes a reaction; doing either twice changes nothing. Adding one more
    /// distinct emoji than `ReactionChange::Add`'s limit is refused (`LimitReached`).
    async fn set_reaction(
        &self,
        tenant: &TenantId,
        id: MessageId,
        user: UserId,
        emoji: &str,
        change: ReactionChange,
        at_ms: i64,
    ) -> StoreResult<MessageChange>;

    /// Moves the user's read or delivered pointer forward to `seq` (capped at the latest
    /// message; reading moves the delivered pointer too); returns the pointer, or `None` when
    /// the user is not a member.
    async fn move_pointer(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        user: UserId,
        pointer: Pointer,
        seq: i64,
        at_ms: i64,
    ) -> StoreResult<Option<i64>>;

    /// The sync position of "now": the latest event of each of the user's conversations.
    async fn sync_position(&self, tenant: &TenantId, user: UserId) -> StoreResult<SyncPosition>;

    /// The events the user has not seen since `since`, at most `limit`.
    async fn sync(
        &self,
        tenant: &TenantId,
        user: UserId,
        since: &SyncPosition,
        limit: u32,
    ) -> StoreResult<SyncPage>;

    /// The conversations `user` is a current member of: what a search may look into.
    async fn conversation_ids_of(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> StoreResult<Vec<ConversationId>>;

    /// The user's unread positions in their conversations of latest activity, at most `limit`.
    async fn unread_positions(
        &self,
        tenant: &TenantId,
        user: UserId,
        limit: u32,
    ) -> StoreResult<Vec<UnreadPosition>>;

    /// The messages among `ids` that `viewer` may read now (a current member of their
    /// conversation), tombstones included, in no particular order. Search reloads its hits
    /// through this, so a hit an index still holds is checked against the store's truth.
    async fn messages_by_id(
        &self,
        tenant: &TenantId,
        viewer: UserId,
        ids: &[MessageId],
    ) -> StoreResult<Vec<Message>>;

    /// What the store holds now of the text of `ids` (missing ones are gone): the event log
    /// carries no text, and its consumers read it back through this.
    async fn message_texts(
        &self,
        tenant: &TenantId,
        ids: &[MessageId],
    ) -> StoreResult<Vec<MessageText>>;

    /// The user's current conversations whose name (for a DM: the other member's username or
    /// display name) contains `text`, ignoring case; most recent activity first, after `after`.
    async fn find_conversations(
        &self,
        tenant: &TenantId,
        user: UserId,
        text: &str,
        after: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>>;

    /// Outbox: claims the oldest unshipped events of conversations no other relay is shipping,
    /// in per-conversation order, across tenants (the relay is the one caller that spans them).
    /// The claim lasts until [`OutboxClaim::shipped`] or until it is dropped (which releases the
    /// events unshipped), so replicas never ship a conversation's events concurrently.
    async fn claim_outbox(&self, limit: u32) -> StoreResult<Box<dyn OutboxClaim>>;

    /// Outbox: how many events wait to be shipped, of every tenant.
    async fn outbox_backlog(&self) -> StoreResult<u64>;

    /// Outbox: how many events wait and when the oldest was committed, in one read (the relay
    /// publishes both after every round).
    async fn outbox_waiting(&self) -> StoreResult<OutboxWaiting>;
}

/// What waits in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxWaiting {
    /// Events not yet shipped, of every tenant.
    pub events: u64,
    /// When the oldest of them was committed (Unix milliseconds); `None` when none waits.
    pub oldest_ms: Option<i64>,
}

/// Events claimed from the outbox by one relay.
#[async_trait]
pub trait OutboxClaim: Send + Debug {
    /// The claimed events, ordered by conversation then event seq.
    fn events(&self) -> &[StoredEvent];

    /// Whether the claim stopped at one of its limits (events or conversations per claim), so
    /// that more events may wait that another claim would take at once. A claim that did not
    /// took every waiting event no other relay holds.
    fn reached_limit(&self) -> bool;

    /// Marks the claimed events shipped (they leave the outbox) and releases the claim.
    async fn shipped(self: Box<Self>) -> StoreResult<()>;
}
