//! Invitations to register: kept by the hash of their code, listed to administrators, revoked,
//! and spent by a registration in its own transaction (`redeem`, called by `users::create`).

use super::super::rows::parse_user_id;
use super::super::{SqlStore, Tx, audit, db};
use crate::domain::{InviteId, TenantId};
use crate::ports::{AuditEntry, Invite, NewInvite, StoreError, StoreResult};

const COLUMNS: &str = "id, created_by, created_at, expires_at, max_uses, uses, revoked_at, note";

#[derive(sqlx::FromRow)]
struct InviteRow {
    id: String,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    max_uses: Option<i64>,
    uses: i64,
    revoked_at: Option<i64>,
    note: String,
}

impl TryFrom<InviteRow> for Invite {
    type Error = StoreError;

    fn try_from(row: InviteRow) -> Result<Self, StoreError> {
        let count =
            |n: i64| u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("invite count {n}")));
        Ok(Invite {
            id: InviteId::parse(&row.id)
                .ok_or_else(|| StoreError::Corrupt(format!("invite id '{}'", row.id)))?,
            created_by: parse_user_id(&row.created_by)?,
            created_at_ms: row.created_at,
            expires_at_ms: row.expires_at,
            max_uses: row.max_uses.map(count).transpose()?,
            uses: count(row.uses)?,
            revoked_at_ms: row.revoked_at,
            note: row.note,
        })
    }
}

pub(super) async fn create(
    store: &SqlStore,
    tenant: &TenantId,
    new: &NewInvite,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let invite = &new.invite;
    let mut tx = store.write(tenant).await?;
    sqlx::query(
        "INSERT INTO invites (tenant_id, id, code_hash, created_by, created_at, expires_at, \
         max_uses, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant.as_str())
    .bind(invite.id.to_string())
    .bind(&new.code_hash)
    .bind(invite.created_by.to_string())
    .bind(invite.created_at_ms)
    .bind(invite.expires_at_ms)
    .bind(invite.max_uses.map(i64::from))
    .bind(&invite.note)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)
}

pub(super) async fn page(
    store: &SqlStore,
    tenant: &TenantId,
    before: Option<(i64, String)>,
    limit: u32,
) -> StoreResult<Vec<Invite>> {
    let (before_at, before_id) = match before {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM invites WHERE tenant_id = $1 \
         AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<InviteRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(Invite::try_from).collect()
}

pub(super) async fn revoke(
    store: &SqlStore,
    tenant: &TenantId,
    id: InviteId,
    entry: &AuditEntry,
) -> StoreResult<Option<Invite>> {
    let mut tx = store.write(tenant).await?;
    let revoked = sqlx::query(
        "UPDATE invites SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 \
         AND revoked_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(entry.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    let sql = format!("SELECT {COLUMNS} FROM invites WHERE tenant_id = $1 AND id = $2");
    let row: Option<InviteRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    if revoked == 1 {
        audit::insert(&mut tx, tenant, entry).await?;
    }
    tx.commit().await.map_err(db)?;
    row.map(Invite::try_from).transpose()
}

/// Spends one use of the invitation whose code hashes to `code_hash`, if it is still good at
/// `now_ms`; `false` when it is unknown, expired, revoked or used up.
pub(in super::super) async fn redeem(
    tx: &mut Tx,
    tenant: &TenantId,
    code_hash: &str,
    now_ms: i64,
) -> StoreResult<bool> {
    let spent = sqlx::query(
        "UPDATE invites SET uses = uses + 1 WHERE tenant_id = $1 AND code_hash = $2 \
         AND revoked_at IS NULL AND expires_at > $3 AND (max_uses IS NULL OR uses < max_uses)",
    )
    .bind(tenant.as_str())
    .bind(code_hash)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(spent == 1)
}
