//! `/api/v1/admin/invites`: invitations to register, for the tenant's administrators.

use super::chat::ApiQuery;
use super::people::page_limit;
use crate::app::people::InviteRequest;
use crate::app::{AppError, ErrorCode};
use crate::domain::InviteId;
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller, Client};
use crate::ports::Invite;
use crate::ports::chat::rfc3339;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The invitation routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/admin/invites", get(list).post(create))
        .route("/admin/invites/{id}", delete(revoke))
}

/// An invitation as its administrators see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    /// Invitation id.
    pub id: String,
    /// Who made it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// Good until then (RFC 3339).
    pub expires_at: String,
    /// Registrations it admits; `null`: any number until it expires.
    pub max_uses: Option<u32>,
    /// Registrations it admitted.
    pub uses: u32,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// What it is for.
    pub note: String,
}

impl From<Invite> for InviteView {
    fn from(i: Invite) -> Self {
        Self {
            id: i.id.to_string(),
            created_by: i.created_by.to_string(),
            created_at: rfc3339(i.created_at_ms),
            expires_at: rfc3339(i.expires_at_ms),
            max_uses: i.max_uses,
            uses: i.uses,
            revoked_at: i.revoked_at_ms.map(rfc3339),
            note: i.note,
        }
    }
}

/// A new invitation, with its code: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedInvite {
    /// The invitation.
    #[serde(flatten)]
    pub invite: InviteView,
    /// The code to hand to the people invited; they send it as `inviteCode` when they
    /// register. It cannot be shown again.
    pub code: String,
}

/// `POST /admin/invites` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InviteBody {
    /// Registrations it admits (1–10 000); any number until it expires when absent.
    pub max_uses: Option<i64>,
    /// When it expires (RFC 3339, at most 90 days ahead); 7 days from now when absent.
    pub expires_at: Option<String>,
    /// What it is for (at most 200 characters).
    #[serde(default)]
    pub note: String,
}

/// Makes an invitation to register. Administrators; the code is in this answer only.
#[utoipa::path(post, path = "/api/v1/admin/invites", tag = "admin", request_body = InviteBody,
    responses((status = 201, body = CreatedInvite), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    ApiJson(body): ApiJson<InviteBody>,
) -> ApiResult<(StatusCode, Json<CreatedInvite>)> {
    let expires_at_ms = body
        .expires_at
        .as_deref()
        .map(|raw| super::admin::time_ms("expiresAt", raw, ErrorCode::ValidationFailed))
        .transpose()?;
    let request = InviteRequest {
        max_uses: body.max_uses,
        expires_at_ms,
        note: body.note,
    };
    let (invite, code) = state
        .app
        .create_invite(&caller.tenant, &caller.principal, request, &client)
        .await?;
    let created = CreatedInvite {
        invite: invite.into(),
        code: code.expose().to_owned(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /admin/invites` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitesQuery {
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// A page of invitations.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteList {
    /// Newest first, revoked and expired ones included.
    pub items: Vec<InviteView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The tenant's invitations, newest first (never their codes). Administrators.
#[utoipa::path(get, path = "/api/v1/admin/invites", tag = "admin", params(InvitesQuery),
    responses((status = 200, body = InviteList), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<InvitesQuery>,
) -> ApiResult<Json<InviteList>> {
    let page = state
        .app
        .invites(
            &caller.tenant,
            &caller.principal,
            query.cursor.as_deref(),
            page_limit(query.limit.as_deref())?,
        )
        .await?;
    Ok(Json(InviteList {
        items: page.items.into_iter().map(InviteView::from).collect(),
        next_cursor: page.next,
    }))
}

/// Revokes an invitation: no one registers with it any more. Administrators.
#[utoipa::path(delete, path = "/api/v1/admin/invites/{id}", tag = "admin",
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 200, body = InviteView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path(id): Path<String>,
) -> ApiResult<Json<InviteView>> {
    let id = InviteId::parse(&id).ok_or_else(|| {
        ApiError(AppError {
            field: Some("inviteId"),
            ..AppError::new(ErrorCode::InvalidPath, "inviteId must be a UUID")
        })
    })?;
    let invite = state
        .app
        .revoke_invite(&caller.tenant, &caller.principal, id, &client)
        .await?;
    Ok(Json(invite.into()))
}
