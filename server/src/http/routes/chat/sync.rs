//! Delta sync handler.

use super::ApiQuery;
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::ApiResult;
use crate::http::extract::Caller;
use crate::ports::chat::EventPayload;
use crate::ports::chat::rfc3339;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /sync` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// The `cursor` of the previous sync; omit it to get a cursor for "now" (and no events).
    pub since: Option<String>,
    /// Most events per page, 1-1000 (default 500).
    pub limit: Option<u32>,
}

/// One event of the log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Event id; deduplicate on it.
    pub id: String,
    /// `message.created`, `message.updated`, `message.deleted`, `reaction.added`,
    /// `reaction.removed`, `receipt.read`, `receipt.delivered`, `conversation.created`, `conversation.updated`,
    /// `member.added`, `member.removed`, `member.muted`.
    pub event: String,
    /// Conversation.
    pub conversation_id: String,
    /// Position in the conversation's event log.
    pub event_seq: i64,
    /// The event's data, as the WebSocket event of the same name carries it.
    #[schema(value_type = Object)]
    pub data: EventPayload,
    /// When (RFC 3339).
    pub timestamp: String,
}

/// `GET /sync` response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncBody {
    /// Missed events, in order within each conversation.
    pub events: Vec<EventView>,
    /// Pass as `since` next time.
    pub cursor: String,
    /// More are waiting: call again with `cursor` now.
    pub has_more: bool,
}

/// Every event the caller missed across its conversations, each exactly once.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync", params(SyncQuery),
    responses((status = 200, body = SyncBody), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> ApiResult<Json<SyncBody>> {
    let result = state
        .app
        .sync(
            &caller.tenant,
            caller.principal.user,
            query.since.as_deref(),
            query.limit.unwrap_or(500),
        )
        .await?;
    Ok(Json(SyncBody {
        events: result
            .events
            .into_iter()
            .map(|e| EventView {
                id: e.id.to_string(),
                event: e.kind().as_str().to_owned(),
                conversation_id: e.conversation_id.to_string(),
                event_seq: e.event_seq,
                data: e.payload,
                timestamp: rfc3339(e.created_at_ms),
            })
            .collect(),
        cursor: result.cursor,
        has_more: result.has_more,
    }))
}
