//! The web client: plain ES modules, CSS and a service worker from `server/web/`, compiled into
//! the release binary so `chemchat-server serve` alone is a chat in the browser, offline and with
//! nothing fetched from elsewhere. Debug builds read the folder at run time (rust-embed's
//! default), so the client can be worked on without rebuilding the server.
//!
//! Every page is the same `index.html`: the client reads its location (`/`, `/reset-password`,
//! `/verify-email`) and calls the public API like any other client.

use super::HttpState;
use super::error::ApiError;
use super::headers::CSP;
use crate::app::ErrorCode;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// The client's pages and files.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/", get(page))
        .route("/reset-password", get(page))
        .route("/verify-email", get(page))
        // The worker's scope is the folder it is served from: at the root, it may serve `/`.
        .route("/sw.js", get(|headers| asset_named("sw.js", headers)))
        .route(
            "/manifest.webmanifest",
            get(|headers| asset_named("manifest.webmanifest", headers)),
        )
        .route("/app/{*path}", get(asset))
}

async fn page(headers: HeaderMap) -> Response {
    let mut response = asset_named("index.html", headers).await;
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    asset_named(&format!("app/{path}"), headers).await
}

/// One file, revalidated on every use by its content hash: an upgraded server is never hidden
/// behind a stale copy, and an unchanged file costs a 304.
async fn asset_named(path: &str, headers: HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::new(ErrorCode::NotFound, "no such file").into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let caching = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache".to_owned()),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, caching).into_response();
    }
    let content_type = match file.metadata.mimetype() {
        text if text.starts_with("text/") || text.ends_with("javascript") => {
            format!("{text}; charset=utf-8")
        }
        other => other.to_owned(),
    };
    (
        caching,
        [(header::CONTENT_TYPE, content_type)],
        file.data.into_owned(),
    )
        .into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
