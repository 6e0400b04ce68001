//! Retention in the store: each tenant's rules in its settings row, legal holds on
//! conversations, and the sweeper's batches — found through the partial indexes of live
//! messages by age, so a sweep reads only what it deletes, however many tombstones are behind.

use super::chat::erasure::tombstone_batch;
use super::{SqlStore, Tx, audit, db};
use crate::domain::{ConversationId, RetentionClock, TenantId, TenantRetention};
use crate::ports::{AuditEntry, RetentionChange, RetentionStore, StoreError, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl RetentionStore for SqlStore {
    async fn retention_rules(&self, tenant: &TenantId) -> StoreResult<TenantRetention> {
        let mut tx = self.read(tenant).await?;
        let rules = rules(&mut tx, tenant).await?;
        tx.commit().await.map_err(db)?;
        Ok(rules)
    }

    async fn set_legal_hold(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        hold: bool,
        entry: &AuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.write(tenant).await?;
        let changed = sqlx::query(
            "UPDATE conversations SET legal_hold = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.to_string())
        .bind(i64::from(hold))
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, tenant, entry).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn retention_tenants(&self) -> StoreResult<Vec<TenantId>> {
        let mut tx = self.worker("retention", "read", false).await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT tenant_id FROM tenant_settings WHERE retention_seconds IS NOT NULL \
             AND legal_hold = 0 \
             UNION SELECT DISTINCT tenant_id FROM conversations \
             WHERE retention_seconds IS NOT NULL AND legal_hold = 0 ORDER BY 1",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        ids.iter()
            .map(|id| TenantId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    async fn expire_messages(
        &self,
        tenant: &TenantId,
        now_ms: i64,
        limit: u32,
    ) -> StoreResult<u32> {
        let mut tx = self.write(tenant).await?;
        let rules = rules(&mut tx, tenant).await?;
        if rules.legal_hold {
            return Ok(0);
        }
        let mut picked = Vec::new();
        if let Some(max) = rules.max_seconds {
            picked = expired_everywhere(&mut tx, tenant, now_ms - ms(max), limit).await?;
        }
        let own: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT id, retention_seconds, retention_from FROM conversations WHERE tenant_id = $1 \
             AND retention_seconds IS NOT NULL AND legal_hold = 0 ORDER BY id",
        )
        .bind(tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for (conversation, seconds, from) in own {
            let left = i64::from(limit) - i64::try_from(picked.len()).unwrap_or(i64::MAX);
            if left <= 0 {
                break;
            }
            let cutoff = now_ms - seconds.saturating_mul(1000);
            // From reading: the moment the last reader stamped; from sending: the send.
            let clock = if from == RetentionClock::Read.as_str() {
                "read_by_all_at"
            } else {
                "created_at"
            };
            let sql = format!(
                "SELECT conversation_id, id FROM messages WHERE tenant_id = $1 \
                 AND conversation_id = $2 AND deleted_at IS NULL AND {clock} < $3 \
                 ORDER BY {clock} LIMIT $4"
            );
            let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(&conversation)
                .bind(cutoff)
                .bind(left)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            picked.extend(rows);
        }
        picked.sort();
        picked.dedup();
        let written = tombstone_batch(&mut tx, tenant, picked, now_ms).await?;
        let expired = u32::try_from(written.len()).unwrap_or(u32::MAX);
        super::chat::erasure::commit(self, tx, &written).await?;
        Ok(expired)
    }
}

fn ms(seconds: u32) -> i64 {
    i64::from(seconds) * 1000
}

async fn rules(tx: &mut Tx, tenant: &TenantId) -> StoreResult<TenantRetention> {
    let row: Option<(Option<i64>, i64)> = sqlx::query_as(
        "SELECT retention_seconds, legal_hold FROM tenant_settings WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    let Some((seconds, hold)) = row else {
        return Ok(TenantRetention::default());
    };
    Ok(TenantRetention {
        max_seconds: seconds
            .map(|s| u32::try_from(s).map_err(|_| StoreError::Corrupt(format!("retention {s}"))))
            .transpose()?,
        legal_hold: hold != 0,
    })
}

/// Live messages of conversations without a hold, older than `cutoff`, oldest first.
async fn expired_everywhere(
    tx: &mut Tx,
    tenant: &TenantId,
    cutoff: i64,
    limit: u32,
) -> StoreResult<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT m.conversation_id, m.id FROM messages m WHERE m.tenant_id = $1 \
         AND m.deleted_at IS NULL AND m.created_at < $2 \
         AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = m.tenant_id \
           AND c.id = m.conversation_id AND c.legal_hold = 1) \
         ORDER BY m.created_at LIMIT $3",
    )
    .bind(tenant.as_str())
    .bind(cutoff)
    .bind(i64::from(limit))
    .fetch_all(&mut **tx)
    .await
    .map_err(db)
}

/// Writes a tenant's retention change into its settings row (created when missing).
pub(super) async fn change(
    tx: &mut Tx,
    tenant: &TenantId,
    change: &RetentionChange,
    at_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, updated_at) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if let Some(max) = change.max_seconds {
        sqlx::query("UPDATE tenant_settings SET retention_seconds = $2 WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .bind(max.map(i64::from))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    if let Some(hold) = change.legal_hold {
        sqlx::query("UPDATE tenant_settings SET legal_hold = $2 WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .bind(i64::from(hold))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}
