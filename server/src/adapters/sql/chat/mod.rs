//! The SQL implementation of [`ChatStore`], shared by both engines.

mod attachments;
mod batch_connection;
mod changes;
mod conversations;
mod delivery_lanes;
mod direct_writer;
pub(super) mod erasure;
mod events;
mod floor;
mod members;
mod messages;
mod outbox;
mod rows;
mod search;
mod send_batch;
mod send_thread;
mod sends;

pub(super) use changes::delete_as_moderator_in;
pub(super) use direct_writer::DirectSource;
pub(super) use floor::mute_in;
pub(super) use send_thread::SendThread;
pub(super) use sends::SendQueue;
pub use sends::{METRIC_SEND_BATCH_SECONDS, METRIC_SEND_WAIT_SECONDS};

use super::SqlStore;
use crate::domain::{ConversationId, MessageId, Role, TenantId, UserId};
use crate::ports::StoreResult;
use crate::ports::chat::{
    ActivityCursor, ChatStore, Conversation, ConversationChange, ConversationCreation,
    ConversationSummary, DailyQuota, HistoryPage, MembershipOutcome, Message, MessageChange,
    MessageEdit, MessageEditRequest, MessageText, MuteChange, NewConversation, NewMessage,
    OutboxClaim, OutboxWaiting, Pointer, ReactionChange, SendOutcome, SyncPage, SyncPosition,
    UnreadPosition,
};
use async_trait::async_trait;

#[async_trait]
impl ChatStore for SqlStore {
    async fn create_conversation(
        &self,
        tenant: &TenantId,
        new: &NewConversation,
        max_conversations: Option<u64>,
    ) -> StoreResult<ConversationCreation> {
        conversations::create(self, tenant, new, max_conversations).await
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        viewer: UserId,
    ) -> StoreResult<Option<Conversation>> {
        conversations::get(self, tenant, id, viewer).await
    }

    async fn conversations_of(
        &self,
        tenant: &TenantId,
        user: UserId,
        after: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationSummary>> {
        conversations::list(self, tenant, user, after, limit).await
    }

    async fn add_members(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        actor: UserId,
        members: &[(UserId, Role)],
        at_ms: i64,
    ) -> StoreResult<MembershipOutcome> {
        members::add(self, tenant, id, actor, members, at_ms).await
    }

    async fn remove_member(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        actor: UserId,
        target: UserId,
        at_ms: i64,
    ) -> StoreResult<MembershipOutcome> {
        members::remove(self, tenant, id, actor, target, at_ms).await
    }

    async fn update_conversation(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        actor: UserId,
        change: &ConversationChange,
        at_ms: i64,
    ) -> StoreResult<MembershipOutcome> {
        floor::update(self, tenant, id, actor, change, at_ms).await
    }

    async fn mute_member(
        &self,
        tenant: &TenantId,
        id: ConversationId,
        change: &MuteChange,
    ) -> StoreResult<MembershipOutcome> {
        floor::mute(self, tenant, id, change).await
    }

    async fn send_message(
        &self,
        tenant: &TenantId,
        message: &NewMessage,
        quota: Option<DailyQuota>,
    ) -> StoreResult<SendOutcome> {
        let queued = send_batch::QueuedSend {
            message: message.clone(),
            quota,
            trace: crate::telemetry::TraceParent::current(),
        };
        sends::send(self, tenant, queued).await
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        viewer: UserId,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<Option<Vec<Message>>> {
        messages::history(self, tenant, conversation, viewer, page, limit).await
    }

    async fn message_edits(
        &self,
        tenant: &TenantId,
        id: MessageId,
        viewer: UserId,
    ) -> StoreResult<Option<Vec<MessageEdit>>> {
        messages::edits(self, tenant, id, viewer).await
    }

    async fn edit_message(
        &self,
        tenant: &TenantId,
        edit: &MessageEditRequest,
    ) -> StoreResult<MessageChange> {
        changes::edit(self, tenant, edit).await
    }

    async fn delete_message(
        &self,
        tenant: &TenantId,
        id: MessageId,
        actor: UserId,
        at_ms: i64,
    ) -> StoreResult<MessageChange> {
        changes::delete(self, tenant, id, actor, at_ms).await
    }

    async fn set_reaction(
        &self,
        tenant: &TenantId,
        id: MessageId,
        user: UserId,
        emoji: &str,
        change: ReactionChange,
        at_ms: i64,
    ) -> StoreResult<MessageChange> {
        changes::react(self, tenant, id, user, emoji, change, at_ms).await
    }

    async fn move_pointer(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        user: UserId,
        pointer: Pointer,
        seq: i64,
        at_ms: i64,
    ) -> StoreResult<Option<i64>> {
        members::move_pointer(self, tenant, conversation, user, pointer, seq, at_ms).await
    }

    async fn sync_position(&self, tenant: &TenantId, user: UserId) -> StoreResult<SyncPosition> {
        events::position(self, tenant, user).await
    }

    async fn sync(
        &self,
        tenant: &TenantId,
        user: UserId,
        since: &SyncPosition,
        limit: u32,
    ) -> StoreResult<SyncPage> {
        events::sync(self, tenant, user, since, limit).await
    }

    async fn conversation_ids_of(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> StoreResult<Vec<ConversationId>> {
        search::conversation_ids(self, tenant, user).await
    }

    async fn unread_positions(
        &self,
        tenant: &TenantId,
        user: UserId,
        limit: u32,
    ) -> StoreResult<Vec<UnreadPosition>> {
        conversations::unread_positions(self, tenant, user, limit).await
    }

    async fn messages_by_id(
        &self,
        tenant: &TenantId,
        viewer: UserId,
        ids: &[MessageId],
    ) -> StoreResult<Vec<Message>> {
        search::messages_by_id(self, tenant, viewer, ids).await
    }

    async fn message_texts(
        &self,
        tenant: &TenantId,
        ids: &[MessageId],
    ) -> StoreResult<Vec<MessageText>> {
        search::message_texts(self, tenant, ids).await
    }

    async fn find_conversations(
        &self,
        tenant: &TenantId,
        user: UserId,
        text: &str,
        after: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        search::find_conversations(self, tenant, user, text, after, limit).await
    }

    async fn claim_outbox(&self, limit: u32) -> StoreResult<Box<dyn OutboxClaim>> {
        outbox::claim(self, limit).await
    }

    async fn outbox_backlog(&self) -> StoreResult<u64> {
        outbox::backlog(self).await
    }

    async fn outbox_waiting(&self) -> StoreResult<OutboxWaiting> {
        outbox::waiting(self).await
    }
}
