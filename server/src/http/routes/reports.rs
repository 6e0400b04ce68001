//! Reports: `POST /messages/{id}/reports` for members, the queue at `/admin/reports` for
//! moderators.

use super::chat::ApiQuery;
use super::people::page_limit;
use crate::app::people::ReportOutcome;
use crate::app::{AppError, ErrorCode};
use crate::domain::{MessageId, Reason, ReportId};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller, Client};
use crate::ports::chat::rfc3339;
use crate::ports::{Report, ReportStatus};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The report routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/messages/{id}/reports", post(file))
        .route("/admin/reports", get(queue))
        .route("/admin/reports/{id}/resolve", post(resolve))
}

fn invalid(code: ErrorCode, field: &'static str, message: &str) -> ApiError {
    ApiError(AppError {
        field: Some(field),
        ..AppError::new(code, format!("{field}: {message}"))
    })
}

/// A report as moderators (and its reporter) see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    /// Report id.
    pub id: String,
    /// The reported message.
    pub message_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Its author.
    pub sender_id: String,
    /// Who reported it.
    pub reporter_id: String,
    /// Why.
    pub reason: String,
    /// The text as it was when reported (kept should it be deleted since); gone once closed.
    pub content: Option<String>,
    /// `open`, `resolved` or `dismissed`.
    pub status: &'static str,
    /// Filed at (RFC 3339).
    pub created_at: String,
    /// Closed at (RFC 3339).
    pub closed_at: Option<String>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// What was done, in the moderator's words.
    pub resolution: Option<String>,
}

impl From<Report> for ReportView {
    fn from(r: Report) -> Self {
        Self {
            id: r.id.to_string(),
            message_id: r.message_id.to_string(),
            conversation_id: r.conversation_id.to_string(),
            sender_id: r.sender_id.to_string(),
            reporter_id: r.reporter_id.to_string(),
            reason: r.reason,
            content: r.content,
            status: r.status.as_str(),
            created_at: rfc3339(r.created_at_ms),
            closed_at: r.closed_at_ms.map(rfc3339),
            closed_by: r.closed_by.map(|u| u.to_string()),
            resolution: r.resolution,
        }
    }
}

/// `POST /messages/{id}/reports` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// Why (1–500 characters).
    pub reason: String,
}

/// Report a message of one of your conversations to the tenant's moderators. Reporting it again
/// answers the earlier report.
#[utoipa::path(post, path = "/api/v1/messages/{id}/reports", tag = "moderation",
    params(("id" = String, Path, description = "Message id")), request_body = ReportBody,
    responses((status = 201, body = ReportView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn file(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReportBody>,
) -> ApiResult<(StatusCode, Json<ReportView>)> {
    let id = MessageId::parse(&id)
        .ok_or_else(|| invalid(ErrorCode::InvalidPath, "messageId", "must be a UUID"))?;
    let reason = Reason::parse(&body.reason)?;
    let report = state
        .app
        .report_message(&caller.tenant, &caller.principal, id, &reason, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(report.into())))
}

/// `GET /admin/reports` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` (default), `resolved`, `dismissed` or `all`.
    pub status: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// A page of reports.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportList {
    /// Oldest first.
    pub items: Vec<ReportView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The moderation queue, oldest first. Moderators and administrators.
#[utoipa::path(get, path = "/api/v1/admin/reports", tag = "moderation", params(QueueQuery),
    responses((status = 200, body = ReportList), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn queue(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> ApiResult<Json<ReportList>> {
    let status = match query.status.as_deref() {
        None => Some(ReportStatus::Open),
        Some("all") => None,
        Some(raw) => Some(ReportStatus::parse(raw).ok_or_else(|| {
            invalid(
                ErrorCode::InvalidQuery,
                "status",
                "must be open, resolved, dismissed or all",
            )
        })?),
    };
    let page = state
        .app
        .reports(
            &caller.tenant,
            &caller.principal,
            status,
            query.cursor.as_deref(),
            page_limit(query.limit.as_deref())?,
        )
        .await?;
    Ok(Json(ReportList {
        items: page.items.into_iter().map(ReportView::from).collect(),
        next_cursor: page.next,
    }))
}

/// `POST /admin/reports/{id}/resolve` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveBody {
    /// `dismiss`, `delete_message`, `warn_author`, `mute_author` (in the message's
    /// conversation, with `until`), `suspend_author` (with `until`) or `ban_author` (admins).
    pub action: String,
    /// End of the author's mute or suspension (RFC 3339).
    pub until: Option<String>,
    /// What was done and why (1–500 characters); kept as the report's resolution.
    pub reason: String,
}

/// Close an open report with what was done about it. Suspending or banning the author ends
/// their sessions and closes their sockets at once.
#[utoipa::path(post, path = "/api/v1/admin/reports/{id}/resolve", tag = "moderation",
    params(("id" = String, Path, description = "Report id")), request_body = ResolveBody,
    responses((status = 200, body = ReportView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> ApiResult<Json<ReportView>> {
    let id = ReportId::parse(&id)
        .ok_or_else(|| invalid(ErrorCode::InvalidPath, "reportId", "must be a UUID"))?;
    let body_error = |field, message: &str| invalid(ErrorCode::ValidationFailed, field, message);
    let timed = matches!(body.action.as_str(), "suspend_author" | "mute_author");
    if body.until.is_some() && !timed {
        return Err(body_error(
            "until",
            "only goes with suspend_author and mute_author",
        ));
    }
    let until_ms = || -> ApiResult<i64> {
        let until = body
            .until
            .as_deref()
            .ok_or_else(|| body_error("until", "is required to suspend or mute"))?;
        super::admin::time_ms("until", until, ErrorCode::ValidationFailed)
    };
    let outcome = match body.action.as_str() {
        "dismiss" => ReportOutcome::Dismiss,
        "delete_message" => ReportOutcome::DeleteMessage,
        "warn_author" => ReportOutcome::WarnAuthor,
        "ban_author" => ReportOutcome::BanAuthor,
        "suspend_author" => ReportOutcome::SuspendAuthor {
            until_ms: until_ms()?,
        },
        "mute_author" => ReportOutcome::MuteAuthor {
            until_ms: until_ms()?,
        },
        _ => {
            return Err(body_error(
                "action",
                "must be dismiss, delete_message, warn_author, mute_author, suspend_author or \
                 ban_author",
            ));
        }
    };
    let reason = Reason::parse(&body.reason)?;
    let report = state
        .app
        .resolve_report(
            &caller.tenant,
            &caller.principal,
            id,
            outcome,
            &reason,
            &client,
        )
        .await?;
    Ok(Json(report.into()))
}
