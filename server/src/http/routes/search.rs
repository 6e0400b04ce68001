//! `/api/v1/search`: thin handlers over the search use cases.

use super::chat::ApiQuery;
use crate::app::chat::{DEFAULT_SEARCH_LIMIT, MessageSearchRequest};
use crate::app::{AppError, ErrorCode};
use crate::domain::ConversationId;
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Caller;
use crate::ports::chat::{ConversationView, MessageView};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The search routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/search/messages", get(messages))
        .route("/search/conversations", get(conversations))
}

/// `GET /search/messages` query. `limit` is read as text so that a non-number gets the same
/// 400 naming `limit` as an out-of-range one.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageSearchQuery {
    /// The words to find (all of them, stemmed); at most 256 characters and 16 words.
    pub q: Option<String>,
    /// Only this conversation; 404 unless you are a member.
    pub conversation_id: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// `GET /search/conversations` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationSearchQuery {
    /// Text the conversation's name (for a DM: the other member's username or display name)
    /// contains, ignoring case; at most 256 characters.
    pub q: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// A message that matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageHitView {
    /// The message, as history shows it.
    pub message: MessageView,
    /// Fragments of its text as HTML: escaped, with the matches in `<mark>…</mark>` (the only
    /// markup).
    pub highlights: Vec<String>,
}

/// `GET /search/messages` response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageSearchResults {
    /// Newest first.
    pub items: Vec<MessageHitView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /search/conversations` response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSearchResults {
    /// Most recent activity first.
    pub items: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError(AppError {
        field: Some(field),
        ..AppError::new(ErrorCode::InvalidQuery, format!("{field}: {message}"))
    })
}

fn limit(raw: Option<&str>) -> Result<u32, ApiError> {
    raw.map_or(Ok(DEFAULT_SEARCH_LIMIT), |raw| {
        raw.parse()
            .map_err(|_| invalid("limit", "must be a number"))
    })
}

/// Messages of your conversations containing every word of `q`, newest first, with highlights.
#[utoipa::path(get, path = "/api/v1/search/messages", tag = "search", params(MessageSearchQuery),
    responses((status = 200, body = MessageSearchResults), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn messages(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<MessageSearchQuery>,
) -> ApiResult<Json<MessageSearchResults>> {
    let conversation = query
        .conversation_id
        .as_deref()
        .map(|raw| {
            ConversationId::parse(raw).ok_or_else(|| invalid("conversation_id", "must be a UUID"))
        })
        .transpose()?;
    let request = MessageSearchRequest {
        q: query.q.as_deref().unwrap_or_default(),
        conversation,
        cursor: query.cursor.as_deref(),
        limit: limit(query.limit.as_deref())?,
    };
    let page = state
        .app
        .search_messages(&caller.tenant, caller.principal.user, request)
        .await?;
    Ok(Json(MessageSearchResults {
        items: page
            .hits
            .into_iter()
            .map(|hit| MessageHitView {
                message: MessageView::from(&hit.message),
                highlights: hit.highlights,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Your conversations whose name (for a DM: the other member's name) contains `q`.
#[utoipa::path(get, path = "/api/v1/search/conversations", tag = "search",
    params(ConversationSearchQuery),
    responses((status = 200, body = ConversationSearchResults), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conversations(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ConversationSearchQuery>,
) -> ApiResult<Json<ConversationSearchResults>> {
    let page = state
        .app
        .search_conversations(
            &caller.tenant,
            caller.principal.user,
            query.q.as_deref().unwrap_or_default(),
            query.cursor.as_deref(),
            limit(query.limit.as_deref())?,
        )
        .await?;
    Ok(Json(ConversationSearchResults {
        items: page
            .conversations
            .iter()
            .map(ConversationView::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
