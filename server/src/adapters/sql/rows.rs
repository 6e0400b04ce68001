//! Row shapes as the `Any` driver returns them, and their conversion into domain values.

use crate::domain::{
    AccountStatus, AuditId, MediaId, Quotas, Tenant, TenantId, TenantRole, Tier, UserId,
};
use crate::ports::{AuditEntry, StoreError, StoredUser};

#[derive(sqlx::FromRow)]
pub(super) struct TenantRow {
    id: String,
    display_name: String,
    tier: String,
    max_users: Option<i64>,
    max_conversations: Option<i64>,
    max_messages_per_day: Option<i64>,
    max_storage_bytes: Option<i64>,
    max_connections: Option<i64>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;

    fn try_from(row: TenantRow) -> Result<Self, StoreError> {
        let limit = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        Ok(Tenant {
            id: TenantId::parse(&row.id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            display_name: row.display_name,
            tier: Tier::parse(&row.tier)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown tier '{}'", row.tier)))?,
            quotas: Quotas {
                max_users: limit(row.max_users),
                max_conversations: limit(row.max_conversations),
                max_messages_per_day: limit(row.max_messages_per_day),
                max_storage_bytes: limit(row.max_storage_bytes),
                max_connections: limit(row.max_connections),
            },
        })
    }
}

/// A quota as stored: NULL for unlimited, saturated to `i64::MAX`.
pub(super) fn quota(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    username: String,
    email: String,
    display_name: String,
    password_hash: String,
    mfa_secret: Option<String>,
    mfa_last_step: i64,
    created_at: i64,
    tenant_role: String,
    status: String,
    suspended_until: Option<i64>,
    avatar_media_id: Option<String>,
    status_text: String,
    deleted_at: Option<i64>,
    email_verified_at: Option<i64>,
}

impl TryFrom<UserRow> for StoredUser {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(StoredUser {
            id: parse_user_id(&row.id)?,
            username: row.username,
            email: row.email,
            display_name: row.display_name,
            password_hash: row.password_hash,
            mfa_secret: row.mfa_secret,
            mfa_last_step: row.mfa_last_step,
            created_at_ms: row.created_at,
            role: tenant_role(&row.tenant_role)?,
            status: account_status(&row.status, row.suspended_until)?,
            avatar: row.avatar_media_id.as_deref().map(media_id).transpose()?,
            status_text: row.status_text,
            deleted: row.deleted_at.is_some(),
            email_verified: row.email_verified_at.is_some(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: String,
    at: i64,
    user_id: Option<String>,
    action: String,
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: AuditId::parse(&row.id)
                .ok_or_else(|| StoreError::Corrupt(format!("bad audit id '{}'", row.id)))?,
            at_ms: row.at,
            user_id: row.user_id.as_deref().map(parse_user_id).transpose()?,
            action: row.action,
            target: row.target,
            ip: row.ip,
            user_agent: row.user_agent,
            detail: serde_json::from_str(&row.detail)
                .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
        })
    }
}

pub(super) fn parse_user_id(raw: &str) -> Result<UserId, StoreError> {
    UserId::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("bad user id '{raw}'")))
}

/// The columns a [`PublicUserRow`] reads, for `SELECT`s of the users table.
pub(super) const PUBLIC_USER_COLUMNS: &str = "id, username, display_name, avatar_media_id, \
    status_text, tenant_role, status, suspended_until, created_at, deleted_at";

#[derive(sqlx::FromRow)]
pub(super) struct PublicUserRow {
    id: String,
    username: String,
    display_name: String,
    avatar_media_id: Option<String>,
    status_text: String,
    tenant_role: String,
    status: String,
    suspended_until: Option<i64>,
    created_at: i64,
    deleted_at: Option<i64>,
}

impl TryFrom<PublicUserRow> for crate::ports::PublicUser {
    type Error = StoreError;

    fn try_from(row: PublicUserRow) -> Result<Self, StoreError> {
        Ok(crate::ports::PublicUser {
            id: parse_user_id(&row.id)?,
            username: row.username,
            display_name: row.display_name,
            avatar: row.avatar_media_id.as_deref().map(media_id).transpose()?,
            status_text: row.status_text,
            role: tenant_role(&row.tenant_role)?,
            status: account_status(&row.status, row.suspended_until)?,
            created_at_ms: row.created_at,
            deleted: row.deleted_at.is_some(),
        })
    }
}

pub(super) fn tenant_role(raw: &str) -> Result<TenantRole, StoreError> {
    TenantRole::parse(raw)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown tenant role '{raw}'")))
}

fn account_status(raw: &str, until: Option<i64>) -> Result<AccountStatus, StoreError> {
    AccountStatus::from_stored(raw, until)
        .ok_or_else(|| StoreError::Corrupt(format!("bad account status '{raw}' until {until:?}")))
}

pub(super) fn media_id(raw: &str) -> Result<MediaId, StoreError> {
    MediaId::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("bad media id '{raw}'")))
}
