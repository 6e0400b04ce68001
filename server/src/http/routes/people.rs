//! `/api/v1/users`: the directory, batch look-ups and profiles, with presence.

use super::chat::ApiQuery;
use crate::app::people::{Page, UserCard};
use crate::app::{AppError, ErrorCode};
use crate::domain::{AccountStatus, NamePrefix, UserId};
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Caller;
use crate::ports::chat::rfc3339;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The people routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/{id}", get(show))
}

/// `GET /users` query: `q` searches, `ids` looks up; one of the two.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// A prefix of the username or display name (case-insensitive), 1–64 characters.
    pub q: Option<String>,
    /// Comma-separated user ids (at most 100), answered in the order given; unknown ids are
    /// left out.
    pub ids: Option<String>,
    /// `nextCursor` of the previous page (with `q`).
    pub cursor: Option<String>,
    /// Page size, 1–100 (default 20, with `q`).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// A user as others see them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Avatar media id: `GET /media/{id}/download?variant=thumb` shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_media_id: Option<String>,
    /// What they say about themselves; empty when nothing.
    pub status_text: String,
    /// Tenant role: `owner`, `admin`, `moderator` or `member`.
    pub role: &'static str,
    /// `online`, `away` or `offline` (`offline` too when presence cannot be read).
    pub presence: &'static str,
    /// Last activity seen (RFC 3339), when ever seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<String>,
    /// `active`, `suspended` or `banned`: shown to moderators and administrators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_status: Option<&'static str>,
    /// When a suspension ends (RFC 3339): moderators and administrators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<String>,
    /// Joined at (RFC 3339).
    pub created_at: String,
    /// `true` when the account was deleted: the name is "Deleted user" and nothing else is
    /// left. Messages it sent may still carry its id.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    /// Username order for `q`; the order asked for `ids`.
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; `null` on the last page (and for `ids`).
    pub next_cursor: Option<String>,
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError(AppError {
        field: Some(field),
        ..AppError::new(ErrorCode::InvalidQuery, format!("{field}: {message}"))
    })
}

/// `limit` of a listing: 1–100, default 20.
pub(crate) fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(20),
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| invalid("limit", "must be a number from 1 to 100")),
    }
}

/// Cards with the presence of each user, read in one batch; presence that cannot be read
/// degrades to `offline` rather than failing the listing.
pub(crate) async fn with_presence(
    state: &HttpState,
    caller: &Caller,
    cards: Vec<UserCard>,
) -> Vec<UserView> {
    let ids: Vec<UserId> = cards.iter().map(|c| c.user.id).collect();
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let presence = state
        .gateway
        .presence()
        .get(&caller.tenant.id, &ids, now_ms)
        .await
        .unwrap_or_default();
    cards
        .into_iter()
        .enumerate()
        .map(|(i, card)| {
            let seen = presence.get(i);
            UserView {
                id: card.user.id.to_string(),
                username: card.user.username,
                display_name: card.user.display_name,
                avatar_media_id: card.user.avatar.map(|a| a.to_string()),
                status_text: card.user.status_text,
                role: card.user.role.as_str(),
                presence: seen.map_or("offline", |p| p.status.as_str()),
                last_seen_at: seen
                    .filter(|p| p.last_seen_ms > 0)
                    .map(|p| rfc3339(p.last_seen_ms)),
                deleted: card.user.deleted,
                account_status: card.status.map(AccountStatus::as_str),
                suspended_until: card.status.and_then(AccountStatus::until_ms).map(rfc3339),
                created_at: rfc3339(card.user.created_at_ms),
            }
        })
        .collect()
}

async fn page_view(state: &HttpState, caller: &Caller, page: Page<UserCard>) -> UserList {
    UserList {
        items: with_presence(state, caller, page.items).await,
        next_cursor: page.next,
    }
}

/// Find people of your tenant by a prefix of their username or display name, or look several
/// up by id. Suspended and banned accounts are listed to moderators and administrators only.
#[utoipa::path(get, path = "/api/v1/users", tag = "people", params(UsersQuery),
    responses((status = 200, body = UserList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<HttpState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> ApiResult<Json<UserList>> {
    if let Some(raw) = query.ids.as_deref() {
        if query.q.is_some() {
            return Err(invalid("ids", "send either q or ids, not both"));
        }
        let ids = raw
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| UserId::parse(id).ok_or_else(|| invalid("ids", "must be user ids")))
            .collect::<Result<Vec<_>, _>>()?;
        let cards = state
            .app
            .users_by_ids(&caller.tenant, &caller.principal, &ids)
            .await?;
        let items = with_presence(&state, &caller, cards).await;
        return Ok(Json(UserList {
            items,
            next_cursor: None,
        }));
    }
    let prefix = query
        .q
        .as_deref()
        .map(NamePrefix::parse)
        .transpose()
        .map_err(|e| invalid("q", &e.message))?;
    let page = state
        .app
        .directory(
            &caller.tenant,
            &caller.principal,
            prefix,
            query.cursor,
            page_limit(query.limit.as_deref())?,
        )
        .await?;
    Ok(Json(page_view(&state, &caller, page).await))
}

/// One user of your tenant, with presence.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "people",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let id = UserId::parse(&id).ok_or_else(|| {
        ApiError(AppError {
            field: Some("userId"),
            ..AppError::new(ErrorCode::InvalidPath, "userId must be a UUID")
        })
    })?;
    let card = state
        .app
        .user_card(&caller.tenant, &caller.principal, id)
        .await?;
    let mut views = with_presence(&state, &caller, vec![card]).await;
    views
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "user does not exist"))
}
