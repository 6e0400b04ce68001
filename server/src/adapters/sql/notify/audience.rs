//! Who of each of a batch's conversations can be pushed: the current members holding a
//! subscription, with their setting for it and their preferences — one read for the batch.

use super::super::engine::json_list;
use super::super::{SqlStore, db};
use super::preferences::{notify_level, preferences};
use crate::domain::{ConversationId, ConversationKind, NotifyPreferences, TenantId};
use crate::ports::{
    ConversationNotifications, PushAudience, PushListener, PushSubscription, StoreError,
    StoreResult,
};
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
struct ListenerRow {
    conversation_id: String,
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
    conversations: &[ConversationId],
) -> StoreResult<HashMap<ConversationId, PushAudience>> {
    if conversations.is_empty() {
        return Ok(HashMap::new());
    }
    let list = json_list(conversations.iter().map(ToString::to_string));
    let ids = store.engine.json_strings("$2");
    let mut tx = store.read(tenant).await?;
    let heads: Vec<(String, String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(
        format!("SELECT id, kind, name FROM conversations WHERE tenant_id = $1 AND id IN ({ids})"),
    ))
    .bind(tenant.as_str())
    .bind(list.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let rows: Vec<ListenerRow> = if heads.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT m.conversation_id, m.user_id, u.username, m.notify_level, \
             m.notify_snoozed_until, p.level, p.email_fallback, p.quiet_start, p.quiet_end, \
             p.time_zone, s.id, s.device_id, s.endpoint, s.p256dh, s.auth, s.created_at \
             FROM push_subscriptions s \
             JOIN conversation_members m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id \
             JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
             LEFT JOIN notification_preferences p \
               ON p.tenant_id = s.tenant_id AND p.user_id = s.user_id \
             WHERE s.tenant_id = $1 AND m.conversation_id IN ({ids}) \
               AND m.left_event_seq IS NULL AND u.deleted_at IS NULL \
             ORDER BY m.conversation_id, s.user_id, s.created_at"
        )))
        .bind(tenant.as_str())
        .bind(list.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
    };
    tx.commit().await.map_err(db)?;
    let mut audiences = HashMap::with_capacity(heads.len());
    for (id, kind, name) in heads {
        let id = ConversationId::parse(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation id '{id}'")))?;
        let kind = ConversationKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation kind '{kind}'")))?;
        let audience = PushAudience {
            kind,
            name,
            listeners: Vec::new(),
        };
        audiences.insert(id, audience);
    }
    for row in rows {
        let Some(audience) =
            ConversationId::parse(&row.conversation_id).and_then(|id| audiences.get_mut(&id))
        else {
            continue;
        };
        add_listener(&mut audience.listeners, row)?;
    }
    Ok(audiences)
}

/// Adds a row to the listeners, which arrive ordered by user: a user's next browser joins
/// their entry.
fn add_listener(listeners: &mut Vec<PushListener>, row: ListenerRow) -> StoreResult<()> {
    let subscription = PushSubscription::try_from(row.subscription)?;
    if let Some(last) = listeners.last_mut()
        && last.user == subscription.user
    {
        last.subscriptions.push(subscription);
        return Ok(());
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
    Ok(())
}
