//! Browsers' push subscriptions, at most a few per user, unique by endpoint within a tenant.

use super::super::rows::parse_user_id;
use super::super::{SqlStore, db};
use crate::domain::{PushSubscriptionId, TenantId, UserId};
use crate::ports::{PushSubscription, StoreError, StoreResult};

pub(super) const COLUMNS: &str = "id, user_id, device_id, endpoint, p256dh, auth, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct SubscriptionRow {
    id: String,
    user_id: String,
    device_id: Option<String>,
    endpoint: String,
    p256dh: String,
    auth: String,
    created_at: i64,
}

impl TryFrom<SubscriptionRow> for PushSubscription {
    type Error = StoreError;

    fn try_from(row: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(PushSubscription {
            id: PushSubscriptionId::parse(&row.id)
                .ok_or_else(|| StoreError::Corrupt(format!("push subscription id '{}'", row.id)))?,
            user: parse_user_id(&row.user_id)?,
            device_id: row.device_id,
            endpoint: row.endpoint,
            p256dh: row.p256dh,
            auth: row.auth,
            created_at_ms: row.created_at,
        })
    }
}

pub(super) async fn save(
    store: &SqlStore,
    tenant: &TenantId,
    subscription: &PushSubscription,
    max_per_user: u32,
) -> StoreResult<Option<PushSubscription>> {
    let mut tx = store.write(tenant).await?;
    // The same endpoint is the same browser: its new keys replace the old row.
    sqlx::query("DELETE FROM push_subscriptions WHERE tenant_id = $1 AND endpoint = $2")
        .bind(tenant.as_str())
        .bind(&subscription.endpoint)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM push_subscriptions WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(subscription.user.to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    if held >= i64::from(max_per_user) {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO push_subscriptions (tenant_id, id, user_id, device_id, endpoint, p256dh, \
         auth, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.as_str())
    .bind(subscription.id.to_string())
    .bind(subscription.user.to_string())
    .bind(subscription.device_id.as_deref())
    .bind(&subscription.endpoint)
    .bind(&subscription.p256dh)
    .bind(&subscription.auth)
    .bind(subscription.created_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(Some(subscription.clone()))
}

pub(super) async fn delete(
    store: &SqlStore,
    tenant: &TenantId,
    user: Option<UserId>,
    id: PushSubscriptionId,
) -> StoreResult<bool> {
    let mut tx = store.write(tenant).await?;
    let query = match user {
        Some(user) => sqlx::query(
            "DELETE FROM push_subscriptions WHERE tenant_id = $1 AND id = $2 AND user_id = $3",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string()),
        None => sqlx::query("DELETE FROM push_subscriptions WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.to_string()),
    };
    let deleted = query.execute(&mut *tx).await.map_err(db)?.rows_affected();
    tx.commit().await.map_err(db)?;
    Ok(deleted > 0)
}

pub(super) async fn of_user(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
) -> StoreResult<Vec<PushSubscription>> {
    let mut tx = store.read(tenant).await?;
    let rows: Vec<SubscriptionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE tenant_id = $1 AND user_id = $2 \
         ORDER BY created_at, id"
    )))
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(PushSubscription::try_from).collect()
}
