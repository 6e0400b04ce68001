//! Who of a conversation can be pushed: its current members holding a subscription, with their
//! setting for it and their preferences, in one read.

use super::super::{SqlStore, db};
use super::preferences::{notify_level, preferences};
use crate::domain::{ConversationId, ConversationKind, NotifyPreferences, TenantId};
use crate::ports::{
    ConversationNotifications, PushAudience, PushListener, PushSubscription, StoreError,
    StoreResult,
};

#[derive(sqlx::FromRow)]
struct ListenerRow {
    username: String,
    notify_level: Option<String>,
    notify_snoozed_until: Option<i64>,
    level: Option<String>,
    email_fallback: Option<i64>,
    quiet_start: Option<String>,
    quiet_end: Option<String>,
    time_zone: Option<String>,
    #[sqlx(flatten)]
    subscription: super::subscriptions::SubscriptionRow,
}

pub(super) async fn load(
    store: &SqlStore,
    tenant: &TenantId,
    conversation: ConversationId,
) -> StoreResult<Option<PushAudience>> {
    let mut tx = store.read(tenant).await?;
    let head: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, name FROM conversations WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(conversation.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    let Some((kind, name)) = head else {
        tx.commit().await.map_err(db)?;
        return Ok(None);
    };
    let rows: Vec<ListenerRow> = sqlx::query_as(
        "SELECT m.user_id, u.username, m.notify_level, m.notify_snoozed_until, p.level, \
         p.email_fallback, p.quiet_start, p.quiet_end, p.time_zone, s.id, s.device_id, \
         s.endpoint, s.p256dh, s.auth, s.created_at \
         FROM push_subscriptions s \
         JOIN conversation_members m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id \
         JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
         LEFT JOIN notification_preferences p \
           ON p.tenant_id = s.tenant_id AND p.user_id = s.user_id \
         WHERE s.tenant_id = $1 AND m.conversation_id = $2 AND m.left_event_seq IS NULL \
           AND u.deleted_at IS NULL \
         ORDER BY s.user_id, s.created_at",
    )
    .bind(tenant.as_str())
    .bind(conversation.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let mut listeners: Vec<PushListener> = Vec::new();
    for row in rows {
        let subscription = PushSubscription::try_from(row.subscription)?;
        if let Some(last) = listeners.last_mut()
            && last.user == subscription.user
        {
            last.subscriptions.push(subscription);
            continue;
        }
        let prefs = match (row.level, row.email_fallback) {
            (Some(level), Some(email)) => {
                preferences((level, email, row.quiet_start, row.quiet_end, row.time_zone))?
            }
            _ => NotifyPreferences::default(),
        };
        listeners.push(PushListener {
            user: subscription.user,
            username: row.username,
            conversation: ConversationNotifications {
                level: row.notify_level.as_deref().map(notify_level).transpose()?,
                snoozed_until_ms: row.notify_snoozed_until,
            },
            preferences: prefs,
            subscriptions: vec![subscription],
        });
    }
    Ok(Some(PushAudience {
        kind: ConversationKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation kind '{kind}'")))?,
        name,
        listeners,
    }))
}
