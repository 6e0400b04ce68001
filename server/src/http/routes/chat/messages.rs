//! Message handlers: send, history, edit, delete, reactions, read receipts.

use super::{ApiQuery, conversation_id, message_id};
use crate::app::ErrorCode;
use crate::app::chat::{EditRequest, HistoryRequest, SendRequest};
use crate::domain::{ClientMessageId, Emoji, ValidationError};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, Caller};
use crate::ports::chat::{HistoryPage, MessageView, Pointer, rfc3339};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /conversations/{id}/messages` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendBody {
    /// The text, stored byte-exact; 1 to the configured maximum of characters (may be empty
    /// when the message carries attachments).
    #[serde(default)]
    pub content: String,
    /// Ids of media you uploaded (`POST /media/upload`), at most 10.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub attachments: Vec<crate::domain::MediaId>,
    /// Your idempotency key: a retry with the same key returns the original message.
    pub client_message_id: Option<String>,
    /// `text` (the default).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `GET /conversations/{id}/messages` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages with a seq below this.
    pub before: Option<i64>,
    /// Messages with a seq above this.
    pub after: Option<i64>,
    /// Page size, 1-100 (default 50).
    pub limit: Option<u32>,
}

/// A page of history.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// Ordered by seq.
    pub messages: Vec<MessageView>,
}

/// `PUT /messages/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditBody {
    /// The new text.
    pub content: String,
    /// The version you edited; 409 if the message has changed since.
    pub expected_version: Option<i64>,
}

/// An earlier version of a message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditView {
    /// The version the text was.
    pub version: i64,
    /// Its text.
    pub content: String,
    /// When it was replaced (RFC 3339).
    pub replaced_at: String,
}

/// A message's edit history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditList {
    /// Oldest first.
    pub edits: Vec<EditView>,
}

/// `POST /messages/{id}/reactions` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReactionBody {
    /// The emoji.
    pub emoji: String,
}

/// `POST /conversations/{id}/read` body and response.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ReadBody {
    /// Everything up to this seq is read; the pointer only moves forward.
    pub seq: i64,
}

/// Sends a message (retry-safe with `clientMessageId`): 201 when stored, 200 for a retry.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "conversation id")), request_body = SendBody,
    responses((status = 201, body = MessageView), (status = 200, body = MessageView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendBody>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let id = conversation_id(&id)?;
    if body.kind.as_deref().is_some_and(|k| k != "text") {
        return Err(ValidationError::new("type", "only 'text' messages are supported").into());
    }
    let client_message_id = match body.client_message_id.as_deref() {
        Some(raw) => ClientMessageId::parse(raw)?,
        None => ClientMessageId::generate(),
    };
    let request = SendRequest {
        content: body.content,
        client_message_id,
        attachments: body.attachments,
    };
    let sent = state
        .app
        .send_message(&caller.tenant, caller.principal.user, id, request)
        .await?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MessageView::from(&sent.message))))
}

/// History: `before` or `after` a seq (or the latest), ordered by seq.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "conversation id"), HistoryQuery),
    responses((status = 200, body = MessageList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<MessageList>> {
    let id = conversation_id(&id)?;
    let page = match (query.before, query.after) {
        (None, None) => HistoryPage::Latest,
        (Some(seq), None) => HistoryPage::Before(seq),
        (None, Some(seq)) => HistoryPage::After(seq),
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "give either before or after, not both",
            ));
        }
    };
    let request = HistoryRequest {
        page,
        limit: query.limit.unwrap_or(50),
    };
    let messages = state
        .app
        .history(&caller.tenant, caller.principal.user, id, request)
        .await?;
    Ok(Json(MessageList {
        messages: messages.iter().map(MessageView::from).collect(),
    }))
}

/// Edits your own message; the previous text goes to the edit history.
#[utoipa::path(put, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "message id")), request_body = EditBody,
    responses((status = 200, body = MessageView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn edit(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> ApiResult<Json<MessageView>> {
    let request = EditRequest {
        content: body.content,
        expected_version: body.expected_version,
    };
    let message = state
        .app
        .edit_message(
            &caller.tenant,
            caller.principal.user,
            message_id(&id)?,
            request,
        )
        .await?;
    Ok(Json(MessageView::from(&message)))
}

/// Deletes a message (author or conversation admin): a tombstone keeps its seq.
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "message id")),
    responses((status = 200, body = MessageView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageView>> {
    let message = state
        .app
        .delete_message(&caller.tenant, caller.principal.user, message_id(&id)?)
        .await?;
    Ok(Json(MessageView::from(&message)))
}

/// A message's earlier versions.
#[utoipa::path(get, path = "/api/v1/messages/{id}/edits", tag = "messages",
    params(("id" = String, Path, description = "message id")),
    responses((status = 200, body = EditList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn edits(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EditList>> {
    let edits = state
        .app
        .message_edits(&caller.tenant, caller.principal.user, message_id(&id)?)
        .await?;
    Ok(Json(EditList {
        edits: edits
            .into_iter()
            .map(|e| EditView {
                version: e.version,
                content: e.content,
                replaced_at: rfc3339(e.replaced_at_ms),
            })
            .collect(),
    }))
}

/// Adds your reaction (idempotent).
#[utoipa::path(post, path = "/api/v1/messages/{id}/reactions", tag = "messages",
    params(("id" = String, Path, description = "message id")), request_body = ReactionBody,
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn react(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReactionBody>,
) -> ApiResult<Json<MessageView>> {
    set_reaction(&state, &caller, &id, &body.emoji, true).await
}

/// Removes your reaction (idempotent).
#[utoipa::path(delete, path = "/api/v1/messages/{id}/reactions/{emoji}", tag = "messages",
    params(("id" = String, Path, description = "message id"), ("emoji" = String, Path, description = "URL-encoded emoji")),
    responses((status = 200, body = MessageView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unreact(
    State(state): State<HttpState>,
    caller: Caller,
    Path((id, emoji)): Path<(String, String)>,
) -> ApiResult<Json<MessageView>> {
    set_reaction(&state, &caller, &id, &emoji, false).await
}

/// Adds (`present`) or removes the caller's reaction: the one use case behind both routes.
async fn set_reaction(
    state: &HttpState,
    caller: &Caller,
    id: &str,
    emoji: &str,
    present: bool,
) -> ApiResult<Json<MessageView>> {
    let emoji = Emoji::parse(emoji)?;
    let message = state
        .app
        .react(
            &caller.tenant,
            caller.principal.user,
            message_id(id)?,
            &emoji,
            present,
        )
        .await?;
    Ok(Json(MessageView::from(&message)))
}

/// Read receipt: moves your read pointer forward (never back); unread counts derive from it.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "messages",
    params(("id" = String, Path, description = "conversation id")), request_body = ReadBody,
    responses((status = 200, body = ReadBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReadBody>,
) -> ApiResult<Json<ReadBody>> {
    receipt(&state, &caller, &id, Pointer::Read, body.seq).await
}

/// Delivery receipt: moves your delivered pointer forward (never back): the messages up to `seq`
/// reached a device of yours. Members hear `receipt.delivered`; reading implies delivery.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/delivered", tag = "messages",
    params(("id" = String, Path, description = "conversation id")), request_body = ReadBody,
    responses((status = 200, body = ReadBody), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delivered(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReadBody>,
) -> ApiResult<Json<ReadBody>> {
    receipt(&state, &caller, &id, Pointer::Delivered, body.seq).await
}

async fn receipt(
    state: &HttpState,
    caller: &Caller,
    id: &str,
    pointer: Pointer,
    seq: i64,
) -> ApiResult<Json<ReadBody>> {
    let seq = state
        .app
        .move_pointer(
            &caller.tenant,
            caller.principal.user,
            conversation_id(id)?,
            pointer,
            seq,
        )
        .await?;
    Ok(Json(ReadBody { seq }))
}
