//! `/api/v1/admin`: accounts and the audit trail, for the tenant's moderators and
//! administrators (403 for members; another tenant's ids are 404 like unknown ones).

use super::chat::ApiQuery;
use super::people::{UserList, UserView, page_limit, with_presence};
use crate::app::people::{AccountAction, AuditFilter};
use crate::app::{AppError, ErrorCode};
use crate::domain::{NamePrefix, Reason, TenantRole, UserId};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller, Client};
use crate::ports::AuditEntry;
use crate::ports::chat::rfc3339;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

/// The admin routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/admin/users", get(users))
        .route(
            "/admin/users/{id}",
            axum::routing::patch(update_user).delete(delete_user),
        )
        .route("/admin/audit", get(audit))
        .route("/admin/usage", get(usage))
}

pub(super) fn invalid(code: ErrorCode, field: &'static str, message: &str) -> ApiError {
    ApiError(AppError {
        field: Some(field),
        ..AppError::new(code, format!("{field}: {message}"))
    })
}

pub(super) fn time_ms(field: &'static str, raw: &str, code: ErrorCode) -> Result<i64, ApiError> {
    let at = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| invalid(code, field, "must be an RFC 3339 time"))?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| invalid(code, field, "is out of range"))
}

/// `GET /admin/users` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminUsersQuery {
    /// A prefix of the username or display name.
    pub q: Option<String>,
    /// Only this tenant role: `owner`, `admin`, `moderator`, `member`.
    pub role: Option<String>,
    /// Only this account status: `active`, `suspended`, `banned`.
    pub status: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// Every account of the tenant, suspended and banned ones included, filtered by role and
/// status. Moderators and administrators.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(AdminUsersQuery),
    responses((status = 200, body = UserList), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn users(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AdminUsersQuery>,
) -> ApiResult<Json<UserList>> {
    let prefix = query
        .q
        .as_deref()
        .map(NamePrefix::parse)
        .transpose()
        .map_err(|e| invalid(ErrorCode::InvalidQuery, "q", &e.message))?;
    let role = query
        .role
        .as_deref()
        .map(|r| TenantRole::parse_field("role", r))
        .transpose()
        .map_err(|e| invalid(ErrorCode::InvalidQuery, "role", &e.message))?;
    let status = match query.status.as_deref() {
        None => None,
        Some("active") => Some("active"),
        Some("suspended") => Some("suspended"),
        Some("banned") => Some("banned"),
        Some(_) => {
            return Err(invalid(
                ErrorCode::InvalidQuery,
                "status",
                "must be active, suspended or banned",
            ));
        }
    };
    let page = state
        .app
        .admin_users(
            &caller.tenant,
            &caller.principal,
            (prefix, role, status),
            query.cursor,
            page_limit(query.limit.as_deref())?,
        )
        .await?;
    Ok(Json(UserList {
        items: with_presence(&state, &caller, page.items).await,
        next_cursor: page.next,
    }))
}

/// One change to an account, with the reason the audit trail keeps.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountChangeBody {
    /// A new tenant role. Owners assign any role; admins only `moderator` and `member`, and
    /// only to accounts below admin.
    pub role: Option<String>,
    /// `suspended` (with `until`), `banned` (admins) or `active` (lifts either). Suspending
    /// or banning ends every session of the account and closes its sockets at once.
    pub status: Option<String>,
    /// End of a suspension (RFC 3339, in the future).
    pub until: Option<String>,
    /// `true` turns MFA off for an owner who lost their device (admins); every session ends.
    #[serde(default)]
    pub reset_mfa: bool,
    /// `true` warns the account's holder: the reason is the warning, which they read at
    /// `GET /auth/me/warnings` and receive by mail when the server sends mail.
    #[serde(default)]
    pub warn: bool,
    /// Why (1–500 characters); required.
    pub reason: String,
}

fn account_action(body: &AccountChangeBody) -> Result<AccountAction, ApiError> {
    let body_error = |field, message: &str| invalid(ErrorCode::ValidationFailed, field, message);
    let chosen = usize::from(body.role.is_some())
        + usize::from(body.status.is_some())
        + usize::from(body.reset_mfa)
        + usize::from(body.warn);
    if chosen != 1 {
        return Err(body_error(
            "role",
            "send exactly one of role, status, resetMfa or warn",
        ));
    }
    if body.until.is_some() && body.status.as_deref() != Some("suspended") {
        return Err(body_error("until", "only goes with status suspended"));
    }
    if let Some(role) = &body.role {
        return Ok(AccountAction::SetRole(TenantRole::parse_field(
            "role", role,
        )?));
    }
    if body.reset_mfa {
        return Ok(AccountAction::ResetMfa);
    }
    if body.warn {
        return Ok(AccountAction::Warn);
    }
    match body.status.as_deref() {
        Some("suspended") => {
            let until = body
                .until
                .as_deref()
                .ok_or_else(|| body_error("until", "is required to suspend"))?;
            Ok(AccountAction::Suspend {
                until_ms: time_ms("until", until, ErrorCode::ValidationFailed)?,
            })
        }
        Some("banned") => Ok(AccountAction::Ban),
        Some("active") => Ok(AccountAction::Reinstate),
        _ => Err(body_error("status", "must be suspended, banned or active")),
    }
}

/// Change an account's role or status, or reset its MFA.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")), request_body = AccountChangeBody,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AccountChangeBody>,
) -> ApiResult<Json<UserView>> {
    let id = UserId::parse(&id)
        .ok_or_else(|| invalid(ErrorCode::InvalidPath, "userId", "must be a UUID"))?;
    let action = account_action(&body)?;
    let reason = Reason::parse(&body.reason)?;
    let card = state
        .app
        .act_on_account(
            &caller.tenant,
            &caller.principal,
            id,
            action,
            &reason,
            &client,
        )
        .await?;
    let mut views = with_presence(&state, &caller, vec![card]).await;
    views
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "user does not exist"))
}

/// Why an account is deleted; the audit trail keeps it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteUserBody {
    /// Why (1–500 characters); required.
    pub reason: String,
}

/// Delete an account, as its owner could: sessions end and sockets close at once, the
/// profile is erased, messages are kept or erased by the tenant's rule. Administrators, and
/// only accounts below their own role.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")), request_body = DeleteUserBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_user(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeleteUserBody>,
) -> ApiResult<StatusCode> {
    let id = UserId::parse(&id)
        .ok_or_else(|| invalid(ErrorCode::InvalidPath, "userId", "must be a UUID"))?;
    let reason = Reason::parse(&body.reason)?;
    state
        .app
        .delete_account_as_admin(&caller.tenant, &caller.principal, id, &reason, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/audit` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// Only entries of this actor (user id).
    pub actor: Option<String>,
    /// Only this action (`user.suspended`), or a family ending in `.` (`login.`).
    pub action: Option<String>,
    /// Only this target (`user:<id>`).
    pub target: Option<String>,
    /// From this time (RFC 3339).
    pub from: Option<String>,
    /// Before this time (RFC 3339).
    pub to: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Entry id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// Who acted (for logins: whose account), when known.
    pub actor_id: Option<String>,
    /// What happened: `login.succeeded`, `password.changed`, `user.suspended`, …
    pub action: String,
    /// What it was done to: `user:<id>`, …
    pub target: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
    /// Further facts (reason, old and new role, …).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            at: rfc3339(e.at_ms),
            actor_id: e.user_id.map(|u| u.to_string()),
            action: e.action,
            target: e.target,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}

/// A page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditList {
    /// Newest first.
    pub items: Vec<AuditView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn action_filter(raw: &str) -> Result<String, ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            ErrorCode::InvalidQuery,
            "action",
            "must be an action name such as user.suspended",
        ))
    }
}

/// The tenant's audit trail: every auth, admin and moderation action, with the client's
/// address and user agent. Administrators.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQueryParams),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQueryParams>,
) -> ApiResult<Json<AuditList>> {
    let actor = query
        .actor
        .as_deref()
        .map(|raw| {
            UserId::parse(raw)
                .ok_or_else(|| invalid(ErrorCode::InvalidQuery, "actor", "must be a user id"))
        })
        .transpose()?;
    let target = match query.target {
        Some(t) if t.len() > 128 || t.chars().any(char::is_control) => {
            return Err(invalid(
                ErrorCode::InvalidQuery,
                "target",
                "is not a target",
            ));
        }
        other => other,
    };
    let filter = AuditFilter {
        actor,
        action: query.action.as_deref().map(action_filter).transpose()?,
        target,
        from_ms: query
            .from
            .as_deref()
            .map(|t| time_ms("from", t, ErrorCode::InvalidQuery))
            .transpose()?,
        to_ms: query
            .to
            .as_deref()
            .map(|t| time_ms("to", t, ErrorCode::InvalidQuery))
            .transpose()?,
        cursor: query.cursor,
        limit: page_limit(query.limit.as_deref())?,
    };
    let page = state
        .app
        .audit_log(&caller.tenant, &caller.principal, filter)
        .await?;
    Ok(Json(AuditList {
        items: page.items.into_iter().map(AuditView::from).collect(),
        next_cursor: page.next,
    }))
}

/// One figure of usage against its quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct Measure {
    /// In use now.
    pub used: u64,
    /// The tenant's quota; `null` when unlimited.
    pub limit: Option<u64>,
}

/// What the tenant uses, each against its quota.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    /// Accounts (`maxUsers`).
    pub users: Measure,
    /// Conversations (`maxConversations`).
    pub conversations: Measure,
    /// Messages sent today, UTC (`maxMessagesPerDay`).
    pub messages_today: Measure,
    /// Bytes of stored media (`maxStorageBytes`).
    pub storage_bytes: Measure,
    /// Live WebSocket connections on every instance (`maxConnections`); `null` when the
    /// connection ledger cannot be read.
    pub connections: Option<Measure>,
}

/// The tenant's usage against its quotas. Administrators.
#[utoipa::path(get, path = "/api/v1/admin/usage", tag = "admin",
    responses((status = 200, body = UsageView), (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn usage(State(state): State<HttpState>, caller: Caller) -> ApiResult<Json<UsageView>> {
    let used = state
        .app
        .tenant_usage(&caller.tenant, &caller.principal)
        .await?;
    let quotas = &caller.tenant.quotas;
    let connections = match state
        .gateway
        .ledger()
        .tenant_connections(&caller.tenant.id)
        .await
    {
        Ok(live) => Some(Measure {
            used: live,
            limit: quotas.max_connections,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "usage: cannot count live connections");
            None
        }
    };
    Ok(Json(UsageView {
        users: Measure {
            used: used.users,
            limit: quotas.max_users,
        },
        conversations: Measure {
            used: used.conversations,
            limit: quotas.max_conversations,
        },
        messages_today: Measure {
            used: used.messages_today,
            limit: quotas.max_messages_per_day,
        },
        storage_bytes: Measure {
            used: used.storage_bytes,
            limit: quotas.max_storage_bytes,
        },
        connections,
    }))
}
