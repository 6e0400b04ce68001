//! The first administrator: `chemchat-server admin grant <tenant> <user> <role>`, run by whoever
//! operates the server (there is no one in the tenant yet who could grant it).

use crate::app::{AppError, AppResult, ErrorCode};
use crate::domain::{AuditId, TenantId, TenantRole, UserId};
use crate::ports::{AccountChange, AuditEntry, Store};
use serde_json::json;

/// Gives the user named `login` (username, email or id) of `tenant` the tenant role `role`,
/// recorded in the audit trail as done from the command line.
pub async fn grant_role(
    store: &dyn Store,
    tenant: &TenantId,
    login: &str,
    role: TenantRole,
    now_ms: i64,
) -> AppResult<UserId> {
    let user = match UserId::parse(login) {
        Some(id) => store.user(tenant, id).await?,
        None => store.user_by_login(tenant, &login.to_lowercase()).await?,
    }
    .ok_or_else(|| {
        AppError::new(
            ErrorCode::UserNotFound,
            format!("no user '{login}' in tenant '{tenant}'"),
        )
    })?;
    let audit = AuditEntry {
        id: AuditId::generate(),
        at_ms: now_ms,
        user_id: None,
        action: "user.role_changed".into(),
        target: Some(format!("user:{}", user.id)),
        ip: None,
        user_agent: None,
        detail: json!({ "from": user.role.as_str(), "to": role.as_str(),
            "username": user.username, "by": "command line" }),
    };
    match store.set_tenant_role(tenant, user.id, role, &audit).await? {
        AccountChange::Changed => Ok(user.id),
        AccountChange::NotFound => Err(AppError::new(
            ErrorCode::UserNotFound,
            format!("no user '{login}' in tenant '{tenant}'"),
        )),
        AccountChange::LastOwner => Err(AppError::new(
            ErrorCode::LastOwner,
            "this is the tenant's last owner; make someone else owner first",
        )),
    }
}
