//! A tenant's settings row: the content policy and the rules about accounts. Each setter
//! writes only its own columns, so one part changing never resets another.

use super::super::{SqlStore, audit, db};
use crate::domain::content_policy::{PolicyMode, PolicyRules};
use crate::domain::{DeletedMessages, RegistrationMode, TenantId};
use crate::ports::{AccountRules, AuditEntry, SettingsChange, StoreError, StoreResult};

fn list(raw: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("tenant settings: {e}")))
}

fn text(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

pub(super) async fn content_rules(
    store: &SqlStore,
    tenant: &TenantId,
) -> StoreResult<Option<PolicyRules>> {
    let mut tx = store.read(tenant).await?;
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT content_mode, blocked_words, blocked_patterns FROM tenant_settings \
         WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let Some((mode, words, patterns)) = row else {
        return Ok(None);
    };
    Ok(Some(PolicyRules {
        mode: PolicyMode::parse(&mode)
            .ok_or_else(|| StoreError::Corrupt(format!("content mode '{mode}'")))?,
        words: list(&words)?,
        patterns: list(&patterns)?,
    }))
}

pub(super) async fn account_rules(
    store: &SqlStore,
    tenant: &TenantId,
) -> StoreResult<AccountRules> {
    let mut tx = store.read(tenant).await?;
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT deleted_user_messages, registration, push_previews FROM tenant_settings \
         WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let Some((deleted, registration, push_previews)) = row else {
        return Ok(AccountRules::default());
    };
    Ok(AccountRules {
        deleted_messages: DeletedMessages::parse(&deleted)
            .ok_or_else(|| StoreError::Corrupt(format!("deleted user messages '{deleted}'")))?,
        registration: RegistrationMode::parse(&registration)
            .ok_or_else(|| StoreError::Corrupt(format!("registration '{registration}'")))?,
        push_previews: push_previews != 0,
    })
}

pub(super) async fn change(
    store: &SqlStore,
    tenant: &TenantId,
    change: &SettingsChange,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    if let Some(rules) = &change.content {
        sqlx::query(
            "INSERT INTO tenant_settings (tenant_id, content_mode, blocked_words, \
             blocked_patterns, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id) DO UPDATE SET content_mode = excluded.content_mode, \
             blocked_words = excluded.blocked_words, \
             blocked_patterns = excluded.blocked_patterns, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(rules.mode.as_str())
        .bind(text(&rules.words))
        .bind(text(&rules.patterns))
        .bind(entry.at_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    if let Some(rules) = &change.accounts {
        // Each rule not given keeps its value (or the column's default on a first write).
        let defaults = AccountRules::default();
        sqlx::query(
            "INSERT INTO tenant_settings (tenant_id, deleted_user_messages, registration, \
             push_previews, updated_at) \
             VALUES ($1, COALESCE($2, $4), COALESCE($3, $5), COALESCE($7, $8), $6) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             deleted_user_messages = COALESCE($2, tenant_settings.deleted_user_messages), \
             registration = COALESCE($3, tenant_settings.registration), \
             push_previews = COALESCE($7, tenant_settings.push_previews), \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(rules.deleted_messages.map(DeletedMessages::as_str))
        .bind(rules.registration.map(RegistrationMode::as_str))
        .bind(defaults.deleted_messages.as_str())
        .bind(defaults.registration.as_str())
        .bind(entry.at_ms)
        .bind(rules.push_previews.map(i64::from))
        .bind(i64::from(defaults.push_previews))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    if let Some(rules) = &change.retention {
        super::super::retention::change(&mut tx, tenant, rules, entry.at_ms).await?;
    }
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)
}
