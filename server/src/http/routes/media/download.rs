//! Metadata and download handlers.

use super::media_id;
use super::upload::TokenQuery;
use crate::app::ErrorCode;
use crate::app::media::{Download, RangeRequest};
use crate::domain::media::Variant;
use crate::http::HttpState;
use crate::http::docs::ErrorBody;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Caller;
use crate::http::routes::chat::ApiQuery;
use crate::ports::chat::MediaView;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// What a served file may do in a browser: nothing. Even a file shown inline runs no script,
/// loads nothing and cannot reach the API's origin.
const SANDBOX: &str = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; \
                       style-src 'unsafe-inline'";

/// An item with short-lived URLs a browser can load without a header.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaDetails {
    /// The item.
    #[serde(flatten)]
    pub media: MediaView,
    /// Per variant (`original`, and `thumb`/`preview` for images), a URL valid for 5 minutes:
    /// presigned storage URLs, or signed paths of this server (relative to its origin). Empty
    /// until the item is ready.
    pub download_urls: BTreeMap<String, String>,
}

/// `GET /media/{id}`.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "media",
    params(("id" = String, Path, description = "media id")),
    responses((status = 200, body = MediaDetails), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn details(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<MediaDetails>> {
    let id = media_id(&id)?;
    let user = caller.principal.user;
    let item = state.app.media(&caller.tenant, user, id).await?;
    let mut download_urls = BTreeMap::new();
    if item.status == crate::domain::media::MediaStatus::Ready {
        let variants =
            std::iter::once(Variant::Original).chain(item.variants.iter().map(|v| v.variant));
        for variant in variants {
            let url = state
                .app
                .download_url(&caller.tenant, user, &item, variant)
                .await?;
            download_urls.insert(variant.as_str().to_owned(), url);
        }
    }
    Ok(Json(MediaDetails {
        media: MediaView::from(&item),
        download_urls,
    }))
}

/// `GET /media/{id}/download` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `original` (the default), `thumb` or `preview`.
    pub variant: Option<String>,
}

/// `GET /media/{id}/download`: a redirect to a presigned URL (S3), or the bytes (local disk)
/// with `Range`, `ETag`, a safe `Content-Disposition` and a sandboxing CSP.
#[utoipa::path(get, path = "/api/v1/media/{id}/download", tag = "media",
    params(("id" = String, Path, description = "media id"), DownloadQuery),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
        (status = 302, description = "to a presigned storage URL"),
        (status = 304, description = "not modified"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 416, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DownloadQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = media_id(&id)?;
    let variant = match query.variant.as_deref() {
        None => Variant::Original,
        Some(name) => Variant::parse(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                "variant: must be original, thumb or preview",
            )
        })?,
    };
    let download = state
        .app
        .download(
            &caller.tenant,
            caller.principal.user,
            id,
            variant,
            range(&headers),
        )
        .await?;
    Ok(respond(download, &headers))
}

/// `GET /media/{id}/content?token=…`: the same as `download`, authorised by a signed URL from
/// `GET /media/{id}` (for `<img src>` and other clients that cannot send a header).
#[utoipa::path(get, path = "/api/v1/media/{id}/content", tag = "media",
    params(("id" = String, Path, description = "media id"),
        ("token" = String, Query, description = "the signed token of a `downloadUrls` entry")),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 416, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn content(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = media_id(&id)?;
    let download = state
        .app
        .download_granted(id, &query.token, range(&headers))
        .await?;
    Ok(respond(download, &headers))
}

/// The one range of a `Range: bytes=…` header; several ranges, or another unit, are served as
/// the whole file (which RFC 9110 allows).
fn range(headers: &HeaderMap) -> Option<RangeRequest> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", last) => last.parse().ok().map(RangeRequest::Last),
        (start, "") => start.parse().ok().map(RangeRequest::From),
        (start, end) => Some(RangeRequest::Span(start.parse().ok()?, end.parse().ok()?)),
    }
}

fn respond(download: Download, headers: &HeaderMap) -> Response {
    let (read, range, size, content_type, disposition, etag) = match download {
        Download::Redirect(url) => {
            return (
                StatusCode::FOUND,
                [
                    (header::LOCATION, url),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
            )
                .into_response();
        }
        Download::Stream {
            read,
            range,
            size,
            content_type,
            disposition,
            etag,
        } => (read, range, size, content_type, disposition, etag),
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (status, length) = match range {
            Some(r) => (StatusCode::PARTIAL_CONTENT, r.len()),
            None => (StatusCode::OK, size),
        };
        let mut response = (status, Body::from_stream(read.body)).into_response();
        let h = response.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        if let Some(r) = range {
            insert(
                h,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", r.start, r.end),
            );
        }
        insert(h, header::CONTENT_TYPE, &content_type);
        insert(h, header::CONTENT_DISPOSITION, &disposition);
        response
    };
    let h = response.headers_mut();
    insert(h, header::ETAG, &etag);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX),
    );
    // Private: only the reader's own cache, and only briefly (access can end).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    response
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<RangeRequest> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).expect("header"));
        range(&headers)
    }

    #[test]
    fn ranges_parse_one_span() {
        assert_eq!(parse("bytes=0-99"), Some(RangeRequest::Span(0, 99)));
        assert_eq!(parse("bytes=100-"), Some(RangeRequest::From(100)));
        assert_eq!(parse("bytes=-5"), Some(RangeRequest::Last(5)));
        assert_eq!(parse("bytes=0-1,5-6"), None);
        assert_eq!(parse("items=0-1"), None);
        assert_eq!(parse("bytes=x-1"), None);
    }
}
