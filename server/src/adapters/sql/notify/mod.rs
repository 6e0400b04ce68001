//! The notifications part of the SQL store: push subscriptions, preferences, and who of a
//! conversation can be pushed.

mod audience;
mod mail;
mod preferences;
mod subscriptions;

use super::SqlStore;
use crate::domain::{ConversationId, NotifyPreferences, PushSubscriptionId, TenantId, UserId};
use crate::ports::{
    ConversationNotifications, Digest, MailRecipients, NotificationStore, PushAudience,
    PushSubscription, StoreResult,
};
use async_trait::async_trait;
use std::collections::HashMap;

#[async_trait]
impl NotificationStore for SqlStore {
    async fn save_push_subscription(
        &self,
        tenant: &TenantId,
        subscription: &PushSubscription,
        max_per_user: u32,
    ) -> StoreResult<Option<PushSubscription>> {
        subscriptions::save(self, tenant, subscription, max_per_user).await
    }

    async fn delete_push_subscription(
        &self,
        tenant: &TenantId,
        user: Option<UserId>,
        id: PushSubscriptionId,
    ) -> StoreResult<bool> {
        subscriptions::delete(self, tenant, user, id).await
    }

    async fn push_subscriptions(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> StoreResult<Vec<PushSubscription>> {
        subscriptions::of_user(self, tenant, user).await
    }

    async fn notification_preferences(
        &self,
        tenant: &TenantId,
        user: UserId,
    ) -> StoreResult<NotifyPreferences> {
        preferences::load(self, tenant, user).await
    }

    async fn set_notification_preferences(
        &self,
        tenant: &TenantId,
        user: UserId,
        preferences: &NotifyPreferences,
        at_ms: i64,
    ) -> StoreResult<()> {
        preferences::save(self, tenant, user, preferences, at_ms).await
    }

    async fn set_conversation_notifications(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        user: UserId,
        setting: ConversationNotifications,
    ) -> StoreResult<bool> {
        preferences::save_for_conversation(self, tenant, conversation, user, setting).await
    }

    async fn push_audiences(
        &self,
        tenant: &TenantId,
        conversations: &[ConversationId],
    ) -> StoreResult<HashMap<ConversationId, PushAudience>> {
        audience::load(self, tenant, conversations).await
    }

    async fn queue_mail(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        seq: i64,
        recipients: &MailRecipients,
        due_at_ms: i64,
    ) -> StoreResult<()> {
        mail::queue(self, tenant, conversation, seq, recipients, due_at_ms).await
    }

    async fn mail_reached_by_push(
        &self,
        tenant: &TenantId,
        user: UserId,
        conversation: ConversationId,
        seq: i64,
    ) -> StoreResult<()> {
        mail::reached_by_push(self, tenant, user, conversation, seq).await
    }

    async fn next_digest(&self, now_ms: i64) -> StoreResult<Option<(TenantId, UserId)>> {
        mail::next(self, now_ms).await
    }

    async fn take_digest(
        &self,
        tenant: &TenantId,
        user: UserId,
        now_ms: i64,
        gap_ms: i64,
    ) -> StoreResult<Option<Digest>> {
        mail::take(self, tenant, user, now_ms, gap_ms).await
    }
}
