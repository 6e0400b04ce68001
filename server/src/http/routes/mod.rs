//! Route tables.

pub(crate) mod auth;
pub mod chat;
pub mod health;

use super::HttpState;
use axum::Router;

/// Everything under `/api/v1`.
pub fn api() -> Router<HttpState> {
    Router::new()
        .nest("/auth", auth::routes())
        .merge(chat::routes())
}

/// RFC 3339 text of a Unix-millisecond time.
pub(super) fn rfc3339(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
