//! Conversation handlers.

use super::{ApiQuery, conversation_id, user_id};
use crate::app::chat::NewConversationRequest;
use crate::domain::{ConversationKind, ConversationName, Role, ValidationError};
use crate::http::HttpState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller};
use crate::ports::chat::{ConversationSummary, ConversationView, MessageView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /conversations` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateConversationBody {
    /// `dm` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A group's name.
    pub name: Option<String>,
    /// The other members' user ids.
    #[serde(default)]
    pub member_ids: Vec<String>,
}

/// A conversation in the caller's list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationListItem {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// Its latest message.
    pub last_message: Option<MessageView>,
    /// Others' messages after the caller's read pointer, counted up to 100: a client
    /// shows 100 as "100 or more".
    pub unread_count: i64,
}

/// `GET /conversations` response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationList {
    /// Most recent activity first.
    pub conversations: Vec<ConversationListItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /conversations` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<u32>,
}

/// `POST /conversations/{id}/members` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMembersBody {
    /// Users to add.
    #[serde(default)]
    pub user_ids: Vec<String>,
    /// One user to add (instead of `userIds`).
    pub user_id: Option<String>,
    /// Their role: `member` (default), `admin` or `owner` (re-granting changes an existing role).
    pub role: Option<String>,
}

fn summary(s: ConversationSummary) -> ConversationListItem {
    ConversationListItem {
        conversation: ConversationView::from(&s.conversation),
        last_message: s.last_message.as_ref().map(MessageView::from),
        unread_count: s.unread,
    }
}

/// The caller's conversations with their last message and unread count.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = ConversationList), (status = 400, body = crate::http::docs::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ConversationList>> {
    let page = state
        .app
        .list_conversations(
            &caller.tenant,
            caller.principal.user,
            query.cursor.as_deref(),
            query.limit.unwrap_or(20),
        )
        .await?;
    Ok(Json(ConversationList {
        conversations: page.conversations.into_iter().map(summary).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates a DM or group; a DM between the same two users is returned (200), not duplicated.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations",
    request_body = CreateConversationBody,
    responses((status = 201, body = ConversationView), (status = 200, body = ConversationView),
        (status = 400, body = crate::http::docs::ErrorBody), (status = 422, body = crate::http::docs::ErrorBody),
        (status = 429, body = crate::http::docs::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<HttpState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateConversationBody>,
) -> ApiResult<(StatusCode, Json<ConversationView>)> {
    let kind = ConversationKind::parse(&body.kind)
        .ok_or_else(|| ValidationError::new("type", "must be 'dm' or 'group'"))?;
    let name = body
        .name
        .as_deref()
        .map(ConversationName::parse)
        .transpose()?;
    let member_ids = body
        .member_ids
        .iter()
        .map(|raw| user_id(raw, "memberIds"))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let request = NewConversationRequest {
        kind,
        name,
        member_ids,
    };
    let (conversation, created) = state
        .app
        .create_conversation(&caller.tenant, caller.principal.user, request)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ConversationView::from(&conversation))))
}

/// A conversation with its members and their roles.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = ConversationView), (status = 404, body = crate::http::docs::ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationView>> {
    let conversation = state
        .app
        .conversation(&caller.tenant, caller.principal.user, conversation_id(&id)?)
        .await?;
    Ok(Json(ConversationView::from(&conversation)))
}

/// Adds members (owners and admins), or changes a member's role (owners).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "conversations",
    params(("id" = String, Path, description = "conversation id")), request_body = AddMembersBody,
    responses((status = 200, body = ConversationView), (status = 403, body = crate::http::docs::ErrorBody),
        (status = 404, body = crate::http::docs::ErrorBody), (status = 409, body = crate::http::docs::ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_members(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddMembersBody>,
) -> ApiResult<Json<ConversationView>> {
    let id = conversation_id(&id)?;
    let mut users = body
        .user_ids
        .iter()
        .map(|raw| user_id(raw, "userIds"))
        .collect::<Result<Vec<_>, ApiError>>()?;
    if let Some(raw) = &body.user_id {
        users.push(user_id(raw, "userId")?);
    }
    let role = match body.role.as_deref() {
        None => Role::Member,
        Some(raw) => Role::parse(raw)
            .ok_or_else(|| ValidationError::new("role", "must be owner, admin or member"))?,
    };
    let conversation = state
        .app
        .add_members(&caller.tenant, caller.principal.user, id, &users, role)
        .await?;
    Ok(Json(ConversationView::from(&conversation)))
}

/// Removes a member; removing yourself is leaving.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{userId}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id"), ("userId" = String, Path, description = "member")),
    responses((status = 200, body = ConversationView), (status = 403, body = crate::http::docs::ErrorBody),
        (status = 404, body = crate::http::docs::ErrorBody), (status = 409, body = crate::http::docs::ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_member(
    State(state): State<HttpState>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<Json<ConversationView>> {
    let id = conversation_id(&id)?;
    let target = user_id(&user, "userId")?;
    let conversation = state
        .app
        .remove_member(&caller.tenant, caller.principal.user, id, target)
        .await?;
    Ok(Json(ConversationView::from(&conversation)))
}
