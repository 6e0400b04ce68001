//! Route tables.

pub(crate) mod account;
pub mod admin;
pub(crate) mod auth;
pub mod chat;
pub mod health;
pub mod invites;
pub mod media;
pub mod notify;
pub mod people;
pub(crate) mod recovery;
pub mod reports;
pub mod search;
pub mod settings;

use super::HttpState;
use axum::Router;

/// Everything under `/api/v1`.
pub fn api() -> Router<HttpState> {
    Router::new()
        .nest("/auth", auth::routes())
        .merge(chat::routes())
        .merge(search::routes())
        .merge(people::routes())
        .merge(admin::routes())
        .merge(reports::routes())
        .merge(invites::routes())
        .merge(notify::routes())
        .merge(settings::routes())
}
