//! `/api/v1/conversations`, `/api/v1/messages` and `/api/v1/sync`: thin handlers over the chat
//! use cases.

mod conversations;
mod floor;
mod messages;
mod sync;

pub use conversations::*;
pub use floor::*;
pub use messages::*;
pub use sync::*;

use crate::app::{AppError, ErrorCode};
use crate::domain::{ConversationId, MessageId, UserId};
use crate::http::HttpState;
use crate::http::error::ApiError;
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;

/// The chat routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route(
            "/conversations",
            get(conversations::list).post(conversations::create),
        )
        .route(
            "/conversations/{id}",
            get(conversations::show).patch(floor::update),
        )
        .route(
            "/conversations/{id}/members",
            post(conversations::add_members),
        )
        .route(
            "/conversations/{id}/members/{user_id}",
            delete(conversations::remove_member),
        )
        .route(
            "/conversations/{id}/members/{user_id}/mute",
            axum::routing::put(floor::mute).delete(floor::unmute),
        )
        .route(
            "/conversations/{id}/messages",
            get(messages::history).post(messages::send),
        )
        .route("/conversations/{id}/read", post(messages::read))
        .route("/conversations/{id}/delivered", post(messages::delivered))
        .route(
            "/messages/{id}",
            axum::routing::put(messages::edit).delete(messages::remove),
        )
        .route("/messages/{id}/edits", get(messages::edits))
        .route("/messages/{id}/reactions", post(messages::react))
        .route(
            "/messages/{id}/reactions/{emoji}",
            delete(messages::unreact),
        )
        .route("/sync", get(sync::sync))
}

/// Query parameters; a malformed query becomes our 400 `invalid_query`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::new(
                ErrorCode::InvalidQuery,
                rejection.body_text(),
            )),
        }
    }
}

fn invalid_path(name: &'static str) -> ApiError {
    ApiError(AppError {
        field: Some(name),
        ..AppError::new(ErrorCode::InvalidPath, format!("{name} must be a UUID"))
    })
}

pub(crate) fn conversation_id(raw: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(raw).ok_or_else(|| invalid_path("conversationId"))
}

fn message_id(raw: &str) -> Result<MessageId, ApiError> {
    MessageId::parse(raw).ok_or_else(|| invalid_path("messageId"))
}

fn user_id(raw: &str, field: &'static str) -> Result<UserId, ApiError> {
    UserId::parse(raw).ok_or_else(|| {
        ApiError(AppError {
            field: Some(field),
            ..AppError::new(
                ErrorCode::ValidationFailed,
                format!("{field}: must be a UUID"),
            )
        })
    })
}
