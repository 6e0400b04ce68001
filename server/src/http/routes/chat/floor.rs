//! A conversation's settings and its members' mutes.

use super::{conversation_id, user_id};
use crate::app::chat::ConversationSettings;
use crate::domain::{ClientInfo, ConversationName, Floor, Reason, RetentionClock};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, Caller, Client};
use crate::ports::chat::ConversationView;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;

/// `PATCH /conversations/{id}` body: the parts to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateConversationBody {
    /// A new name (1–100 characters).
    pub name: Option<String>,
    /// `true`: only owners and admins post (an announcements channel).
    pub read_only: Option<bool>,
    /// Members post at most once per this many seconds (0–86400; 0 turns slow mode off).
    /// Owners and admins are exempt.
    pub slow_mode_seconds: Option<i64>,
    /// Disappearing messages: those older than this many seconds are deleted (at most the
    /// tenant's maximum); `null` leaves only the tenant's rule.
    #[serde(default, deserialize_with = "crate::http::extract::present")]
    #[schema(value_type = Option<i64>)]
    pub retention_seconds: Option<Option<i64>>,
    /// `sent` (the default): the retention counts from sending; `read`: from when every member
    /// but the sender has read the message (the tenant's maximum still counts from sending).
    pub retention_from: Option<String>,
}

/// Renames a group or changes who may post and how often (owners and admins). Every member
/// hears `conversation.updated`.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id")),
    request_body = UpdateConversationBody,
    responses((status = 200, body = ConversationView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateConversationBody>,
) -> ApiResult<Json<ConversationView>> {
    let id = conversation_id(&id)?;
    let settings = ConversationSettings {
        name: body
            .name
            .as_deref()
            .map(ConversationName::parse)
            .transpose()?,
        read_only: body.read_only,
        slow_mode_seconds: body.slow_mode_seconds.map(Floor::slow_mode).transpose()?,
        retention_seconds: body.retention_seconds,
        retention_from: body
            .retention_from
            .as_deref()
            .map(|raw| RetentionClock::from_input("retentionFrom", raw))
            .transpose()?,
    };
    let conversation = state
        .app
        .update_conversation(&caller.tenant, caller.principal.user, id, settings)
        .await?;
    Ok(Json(ConversationView::from(&conversation)))
}

/// `PUT /conversations/{id}/members/{userId}/mute` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuteBody {
    /// When the mute ends (RFC 3339, in the future).
    pub until: String,
    /// Why (1–500 characters); kept in the audit trail, not shown to the members.
    pub reason: String,
}

/// `DELETE /conversations/{id}/members/{userId}/mute` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnmuteBody {
    /// Why (1–500 characters); kept in the audit trail.
    pub reason: String,
}

/// Mutes a member until a time: their sends and edits here are refused with 403 `muted`.
/// Owners mute admins and members, admins mute members; the tenant's moderators may mute in any
/// conversation, DMs included, accounts below their tenant role. Every member hears
/// `member.muted`.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/members/{userId}/mute",
    tag = "conversations",
    params(("id" = String, Path, description = "conversation id"),
        ("userId" = String, Path, description = "member")),
    request_body = MuteBody,
    responses((status = 200, body = ConversationView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn mute(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path((id, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<MuteBody>,
) -> ApiResult<Json<ConversationView>> {
    let until = crate::http::routes::admin::time_ms(
        "until",
        &body.until,
        crate::app::ErrorCode::ValidationFailed,
    )?;
    set_mute(
        &state,
        &caller,
        &client,
        (&id, &user),
        Some(until),
        &body.reason,
    )
    .await
}

/// Lifts a member's mute (the same people who may mute).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{userId}/mute",
    tag = "conversations",
    params(("id" = String, Path, description = "conversation id"),
        ("userId" = String, Path, description = "member")),
    request_body = UnmuteBody,
    responses((status = 200, body = ConversationView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unmute(
    State(state): State<HttpState>,
    caller: Caller,
    Client(client): Client,
    Path((id, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<UnmuteBody>,
) -> ApiResult<Json<ConversationView>> {
    set_mute(&state, &caller, &client, (&id, &user), None, &body.reason).await
}

async fn set_mute(
    state: &HttpState,
    caller: &Caller,
    client: &ClientInfo,
    (id, user): (&str, &str),
    until_ms: Option<i64>,
    reason: &str,
) -> ApiResult<Json<ConversationView>> {
    let (id, target) = (conversation_id(id)?, user_id(user, "userId")?);
    let reason = Reason::parse(reason)?;
    let conversation = state
        .app
        .mute_member(
            &caller.tenant,
            &caller.principal,
            id,
            target,
            until_ms,
            &reason,
            client,
        )
        .await?;
    Ok(Json(ConversationView::from(&conversation)))
}
