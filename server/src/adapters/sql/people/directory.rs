//! Listing a tenant's users: the directory's prefix search and the admins' filtered list, one
//! query with optional filters, paged by username (unique per tenant).

use super::super::rows::{PUBLIC_USER_COLUMNS, PublicUserRow};
use super::super::{SqlStore, db};
use crate::domain::{TenantId, UserId};
use crate::ports::{PublicUser, StoreResult, UserQuery};

/// `LIKE` matches `%` and `_` anywhere in a pattern; a prefix is matched literally.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(super) async fn page(
    store: &SqlStore,
    tenant: &TenantId,
    query: &UserQuery,
) -> StoreResult<Vec<PublicUser>> {
    // A filter is off when its parameter is NULL. Status is the one in force at `$4`: a
    // suspension whose end has passed counts as active.
    let sql = format!(
        "SELECT {PUBLIC_USER_COLUMNS} FROM users WHERE tenant_id = $1 AND deleted_at IS NULL \
         AND ($2 IS NULL OR username LIKE $2 ESCAPE '\\' OR name_key LIKE $2 ESCAPE '\\') \
         AND ($3 IS NULL OR tenant_role = $3) \
         AND ($5 IS NULL OR (CASE WHEN status = 'suspended' AND suspended_until <= $4 \
              THEN 'active' ELSE status END) = $5) \
         AND ($6 = 0 OR status = 'active' OR (status = 'suspended' AND suspended_until <= $4)) \
         AND ($7 IS NULL OR username > $7) \
         ORDER BY username LIMIT $8"
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<PublicUserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(query.prefix.as_deref().map(like_prefix))
        .bind(query.role.map(|r| r.as_str()))
        .bind(query.now_ms)
        .bind(query.status)
        .bind(i64::from(query.usable_only))
        .bind(query.after.as_deref())
        .bind(i64::from(query.limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(PublicUser::try_from).collect()
}

pub(super) async fn by_ids(
    store: &SqlStore,
    tenant: &TenantId,
    ids: &[UserId],
) -> StoreResult<Vec<PublicUser>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The placeholders are numbered here, never filled with input.
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT {PUBLIC_USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id IN ({})",
        placeholders.join(", ")
    );
    let mut query =
        sqlx::query_as::<_, PublicUserRow>(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
    for id in ids {
        query = query.bind(id.to_string());
    }
    let mut tx = store.read(tenant).await?;
    let rows = query.fetch_all(&mut *tx).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(PublicUser::try_from).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_match_literally() {
        assert_eq!(super::like_prefix("a_b%"), "a\\_b\\%%");
        assert_eq!(super::like_prefix("ada"), "ada%");
    }
}
