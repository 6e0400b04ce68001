//! `/api/v1/media`: uploads (multipart, or announced and put straight to storage), metadata and
//! downloads. These routes stream, so they run without the REST time limit and body cap; a
//! stalled body is cut by its idle timeout instead.

pub mod download;
pub mod upload;

use crate::app::ErrorCode;
use crate::domain::MediaId;
use crate::http::HttpState;
use crate::http::error::ApiError;
use crate::ports::BlobBody;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::time::Duration;

/// Longest a request body may go without a byte before the upload is dropped.
const BODY_IDLE: Duration = Duration::from_secs(30);

/// The media routes, relative to `/api/v1`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/media/upload", post(upload::multipart))
        .route("/media/uploads", post(upload::announce))
        .route("/media/{id}/blob", put(upload::receive))
        .route("/media/{id}/complete", post(upload::complete))
        .route("/media/{id}", get(download::details))
        .route("/media/{id}/download", get(download::download))
        .route("/media/{id}/content", get(download::content))
        .layer(DefaultBodyLimit::disable())
}

fn media_id(raw: &str) -> Result<MediaId, ApiError> {
    MediaId::parse(raw)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidPath, "the media id is not a UUID"))
}

/// A request body as a blob body: each chunk must come within [`BODY_IDLE`] of the last.
fn idle_limited<S, E>(body: S) -> BlobBody
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    Box::pin(futures::stream::unfold(Some(body), |state| async move {
        let mut body = state?;
        match tokio::time::timeout(BODY_IDLE, body.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no data for 30 s",
                )),
                None,
            )),
        }
    }))
}
