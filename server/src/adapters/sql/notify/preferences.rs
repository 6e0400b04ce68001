//! Each user's notification preferences, and each member's level and snooze per conversation.

use super::super::{SqlStore, db};
use crate::domain::{ConversationId, NotifyLevel, NotifyPreferences, QuietHours, TenantId, UserId};
use crate::ports::{ConversationNotifications, StoreError, StoreResult};

/// The columns of `notification_preferences` as read.
pub(super) type PreferencesRow = (String, i64, Option<String>, Option<String>, Option<String>);

pub(super) const COLUMNS: &str = "level, email_fallback, quiet_start, quiet_end, time_zone";

/// Preferences from their row. Quiet hours whose zone this build no longer knows are dropped
/// rather than failing every notification of the user.
pub(super) fn preferences(
    (level, email, start, end, zone): PreferencesRow,
) -> StoreResult<NotifyPreferences> {
    let quiet_hours = match (start, end, zone) {
        (Some(start), Some(end), Some(zone)) => QuietHours::parse(&start, &end, &zone).ok(),
        _ => None,
    };
    Ok(NotifyPreferences {
        level: notify_level(&level)?,
        email_fallback: email != 0,
        quiet_hours,
    })
}

pub(super) fn notify_level(raw: &str) -> StoreResult<NotifyLevel> {
    NotifyLevel::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("notify level '{raw}'")))
}

pub(super) async fn load(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
) -> StoreResult<NotifyPreferences> {
    let mut tx = store.read(tenant).await?;
    let row: Option<PreferencesRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notification_preferences WHERE tenant_id = $1 AND user_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    row.map_or_else(|| Ok(NotifyPreferences::default()), preferences)
}

pub(super) async fn save(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    preferences: &NotifyPreferences,
    at_ms: i64,
) -> StoreResult<()> {
    let quiet = preferences.quiet_hours.as_ref();
    let mut tx = store.write(tenant).await?;
    sqlx::query(
        "INSERT INTO notification_preferences (tenant_id, user_id, level, email_fallback, \
         quiet_start, quiet_end, time_zone, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET level = excluded.level, \
         email_fallback = excluded.email_fallback, quiet_start = excluded.quiet_start, \
         quiet_end = excluded.quiet_end, time_zone = excluded.time_zone, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(preferences.level.as_str())
    .bind(i64::from(preferences.email_fallback))
    .bind(quiet.map(QuietHours::start))
    .bind(quiet.map(QuietHours::end))
    .bind(quiet.map(|q| q.zone_name().to_owned()))
    .bind(at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

pub(super) async fn save_for_conversation(
    store: &SqlStore,
    tenant: &TenantId,
    conversation: ConversationId,
    user: UserId,
    setting: ConversationNotifications,
) -> StoreResult<bool> {
    let mut tx = store.write(tenant).await?;
    let changed = sqlx::query(
        "UPDATE conversation_members SET notify_level = $4, notify_snoozed_until = $5 \
         WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3 \
         AND left_event_seq IS NULL",
    )
    .bind(tenant.as_str())
    .bind(conversation.to_string())
    .bind(user.to_string())
    .bind(setting.level.map(NotifyLevel::as_str))
    .bind(setting.snoozed_until_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    tx.commit().await.map_err(db)?;
    Ok(changed > 0)
}
